// The llama2.c tokenizer on hostile vocabularies and texts (issue 10, rows 6, 7, 9): a vocabulary
// under 259 ids (byte fallback needs <unk>, BOS, EOS + 256) and a 200,000-byte token are typed
// errors at load; a 1 MB single line encodes in seconds (the merge loop was quadratic: ≈ 15 min)
// with output identical to run.c's scan, re-implemented below as the independent reference.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { llama2cTokenizerBytes, vocabFromLlama2c } from '../../src/core/formats/gguf/vocab.ts';
import { writeGgufModel } from '../../src/core/formats/gguf/write.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { benchText } from '../../src/cli/bench-tokenizer.ts';
import { runCli } from './cli-run.ts';
import { seededRandom, tok512 } from './helpers.ts';
import { llama2cBytes, tinyModel, tinyVocab } from './hostile-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'nibble-hostile-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

/** run.c's encode (dummy prefix, code points or byte fallback, then the O(n²) best-pair scan). */
function referenceEncode(pieces: Uint8Array[], scores: Float32Array, text: string): number[] {
  const key = (b: Uint8Array) => Array.from(b, (x) => String.fromCharCode(x)).join('');
  const keys = pieces.map(key);
  const lookup = new Map<string, number>();
  for (let i = pieces.length - 1; i >= 0; i--) lookup.set(keys[i], i);
  const tokens: number[] = [1];
  if (text.length > 0) {
    const sp = lookup.get(' ');
    if (sp !== undefined) tokens.push(sp);
    for (const cp of text) {
      const b = new TextEncoder().encode(cp);
      const id = lookup.get(key(b));
      if (id !== undefined) tokens.push(id);
      else for (const x of b) tokens.push(x + 3);
    }
  }
  for (;;) {
    let best = -1;
    let bestScore = -1e10;
    let bestId = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup.get(keys[tokens[i]] + keys[tokens[i + 1]]);
      if (id !== undefined && scores[id] > bestScore) {
        bestScore = scores[id];
        best = i;
        bestId = id;
      }
    }
    if (best < 0) return tokens;
    tokens.splice(best, 2, bestId);
  }
}

describe('vocabulary bounds (rows 6 and 7)', () => {
  it('a llama2.c model + tokenizer with 258 tokens is a typed error at load, not a TypeError in mergePairs', async () => {
    const V = 258;
    const model = file('small.bin', llama2cBytes(tinyModel({ vocabSize: V })));
    const tok = file('small-tok.bin', llama2cTokenizerBytes(tinyVocab(V)));
    const r = await runCli([
      'generate',
      '--model',
      model,
      '--tokenizer',
      tok,
      '--prompt',
      'hé',
      '--steps',
      '2',
      '--backend',
      'cpu',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[tokenizer-mismatch\].*258 tokens is too small: byte fallback needs 259/);
  });

  it('a GGUF with one 200,000-byte token is a typed over-limit error, not a RangeError', async () => {
    const V = 300;
    const bytes = writeGgufModel(tinyModel({ vocabSize: V }), tinyVocab(V, { 280: 200_000 }), 'gguf-f32');
    const r = await runCli(['generate', '--model', file('long.gguf', bytes), '--steps', '2', '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[over-limit\].*token 280 is 200000 bytes long; at most 65536/);
    expect(r.stderr).not.toMatch(/RangeError/);
  });

  it('a 65,536-byte token (the bound) loads and decodes', () => {
    const v = tinyVocab(300, { 280: 65_536 });
    const tok = Tokenizer.fromVocab(v.pieces, v.scores);
    expect(tok.decode([5, 280]).length).toBe(65_536);
  });
});

describe('linear-time merges with run.c output (row 9)', () => {
  const bytes = tok512();
  const v = vocabFromLlama2c(bytes, 512);
  const tok = Tokenizer.fromLlama2c(bytes, 512);

  it('is token-for-token the reference on random texts (letters, spaces, UTF-8, bytes)', () => {
    const rand = seededRandom(11);
    const alphabet = 'etaoinshrdlu   .,!?\nabcdefghijklmnopqrstuvwxyzTHEé漢😀\u0001';
    for (let k = 0; k < 60; k++) {
      const len = 1 + Math.floor(rand() * 400);
      const chars = Array.from(alphabet);
      const text = Array.from({ length: len }, () => chars[Math.floor(rand() * chars.length)]).join('');
      expect(tok.encode(text, { bos: true, eos: false }), text).toEqual(referenceEncode(v.pieces, v.scores, text));
    }
    const story = benchText(3000);
    expect(tok.encode(story, { bos: true, eos: false })).toEqual(referenceEncode(v.pieces, v.scores, story));
  });

  it('a 1 MB single line encodes in seconds, growing ~linearly', () => {
    const t = (n: number) => {
      const s = benchText(n);
      const t0 = performance.now();
      const ids = tok.encode(s, { bos: true, eos: false });
      return { ms: performance.now() - t0, ids: ids.length };
    };
    t(10_000); // warm-up
    const small = t(100_000);
    const big = t(1_000_000);
    expect(big.ids).toBeGreaterThan(9 * small.ids);
    expect(big.ms).toBeLessThan(30_000); // quadratic: ≈ 15 min
    expect(big.ms / Math.max(small.ms, 1)).toBeLessThan(30); // quadratic would be ≈ 100×
  });

  it('a 100 KB prompt is refused before encoding (it cannot fit the context)', async () => {
    const prompt = 'a'.repeat(100_000);
    const t0 = performance.now();
    const r = await runCli([
      'generate',
      '--model',
      file('ok.bin', llama2cBytes(tinyModel({ vocabSize: 300 }))),
      '--tokenizer',
      file('ok-tok.bin', llama2cTokenizerBytes(tinyVocab(300))),
      '--prompt',
      prompt,
      '--backend',
      'cpu',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the prompt is 100000 characters, at least \d+ tokens; the model's context holds 64/);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('a typed error, not a hang, past the encode bound', () => {
    const e = (() => {
      try {
        tok.encode('x'.repeat((16 << 20) + 1), { bos: false, eos: false });
      } catch (x) {
        return x;
      }
    })();
    expect(isNibbleError(e) && e.code).toBe('over-limit');
  });
});
