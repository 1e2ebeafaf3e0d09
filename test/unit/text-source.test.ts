// The user's calibration / evaluation text (src/core/text-source.ts): the model-size default
// windows, the checks that make bad input a NibbleError, windows equal to the evaluation
// protocol's (textWindows) cut short, and the estimate line's arithmetic.
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { textWindows } from '../../src/core/model/metrics.ts';
import {
  checkWindowOptions,
  decodeTextFile,
  defaultWindows,
  describeText,
  estimateText,
  MAX_TEXT_BYTES,
  textChoiceWindows,
} from '../../src/core/text-source.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { readProjectFile, stories260K, tok512 } from './helpers.ts';

const model = parseLlama2c(stories260K());
const tok = Tokenizer.fromLlama2c(tok512(), model.config.vocabSize);
const calib = new TextDecoder().decode(readProjectFile('public/data/tinystories-calib.txt'));
const evalText = new TextDecoder().decode(readProjectFile('public/data/tinystories-eval.txt'));
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  return null;
};

describe('defaultWindows', () => {
  it('scales windows × length down with the parameter count', () => {
    expect(defaultWindows(260e3, 512)).toEqual({ windows: 64, length: 256 });
    expect(defaultWindows(135e6, 8192)).toEqual({ windows: 6, length: 128 }); // 1e11 / 135e6 = 741 tokens
    expect(defaultWindows(494e6, 32768)).toEqual({ windows: 2, length: 128 });
    expect(defaultWindows(1.24e9, 131072)).toEqual({ windows: 2, length: 128 });
    expect(defaultWindows(42e6, 1024)).toEqual({ windows: 9, length: 256 }); // 2381 tokens / 256
    expect(defaultWindows(260e3, 64)).toEqual({ windows: 64, length: 64 }); // never past the context
    // Tokens fall (or stay at the floor) as models grow.
    let last = Infinity;
    for (const p of [1e5, 1e6, 1e7, 1e8, 3e8, 1e9, 7e9]) {
      const d = defaultWindows(p, 4096);
      expect(d.windows * d.length).toBeLessThanOrEqual(last);
      last = d.windows * d.length;
    }
  });

  it('covers every window of the embedded texts for stories260K (as before choices existed)', () => {
    const d = defaultWindows(260e3, model.config.seqLen);
    for (const t of [calib, evalText]) {
      const all = textWindows(tok, t, d.length);
      expect(all.length).toBeGreaterThan(0);
      expect(all.length).toBeLessThanOrEqual(d.windows);
    }
  });
});

describe('textChoiceWindows', () => {
  it('equals the protocol windows cut to the count', () => {
    const all = textWindows(tok, evalText, 64);
    for (const n of [1, 3, all.length, all.length + 5])
      expect(textChoiceWindows(tok, evalText, { windows: n, length: 64 }, 'eval', 512)).toEqual(all.slice(0, n));
  });

  it('refuses blank, too short, too long, bad options, with the text named', () => {
    expect(code(() => textChoiceWindows(tok, ' \n\t', { windows: 2, length: 64 }, 'the pasted text', 512))).toEqual({
      code: 'bad-argument',
      message: 'the pasted text is empty',
    });
    const short = code(() => textChoiceWindows(tok, 'Once upon a time.', { windows: 2, length: 64 }, 'notes.txt', 512));
    expect(short?.code).toBe('bad-argument');
    expect(short?.message).toMatch(/^notes\.txt is shorter than one window of 64 tokens \(\d+ tokens\)/);
    expect(
      code(() => textChoiceWindows(tok, 'x'.repeat(MAX_TEXT_BYTES + 1), { windows: 1, length: 8 }, 't', 512))?.code,
    ).toBe('over-limit');
    expect(code(() => checkWindowOptions({ windows: 0, length: 64 }, 512))?.message).toMatch(/windows must be/);
    expect(code(() => checkWindowOptions({ windows: 2, length: 1.5 }, 512))?.message).toMatch(/window length must/);
    expect(code(() => checkWindowOptions({ windows: 2, length: 1024 }, 512))?.message).toBe(
      "window length 1024 exceeds the model's context of 512",
    );
  });
});

describe('decodeTextFile', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('accepts UTF-8 text and refuses binary, non-UTF-8, blank and huge files', () => {
    expect(decodeTextFile(enc('Tom had a red ball. 🎈'), 'a.txt')).toBe('Tom had a red ball. 🎈');
    expect(code(() => decodeTextFile(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 1]), 'x.zip'))).toEqual({
      code: 'bad-format',
      message: 'x.zip is not a text file (it contains NUL bytes, as binary files do)',
    });
    expect(code(() => decodeTextFile(new Uint8Array([0x61, 0xff, 0xfe]), 'l1.txt'))?.code).toBe('bad-format');
    expect(code(() => decodeTextFile(enc('\n\n  '), 'e.txt'))).toEqual({
      code: 'bad-argument',
      message: 'e.txt is empty',
    });
    expect(code(() => decodeTextFile(new Uint8Array(MAX_TEXT_BYTES + 1).fill(0x61), 'big.txt'))).toEqual({
      code: 'over-limit',
      message: 'big.txt is 16.0 MB; texts up to 16.0 MB are accepted (cut it shorter)',
    });
  });
});

describe('describeText and estimateText', () => {
  it('names the text and multiplies out the work', () => {
    expect(describeText({ kind: 'embedded', url: 'https://x/data/tinystories-eval.txt' }, 'eval')).toBe(
      'the evaluation text (tinystories-eval)',
    );
    expect(describeText({ kind: 'file', name: 'a.txt', text: 'x' }, 'calib')).toBe('the calibration text (a.txt)');
    const e = estimateText({ windows: 8, length: 256 }, 4096, 1e6, 'cpu', 'eval');
    expect(e.tokens).toBe(2048);
    expect(e.coverage).toBe(1); // 4096 chars ≈ 1024 tokens < 2048
    expect(estimateText({ windows: 2, length: 128 }, 4096, 1e6, 'cpu', 'eval').coverage).toBe(0.25);
    expect(e.seconds).toBeCloseTo((2 * 2 * 1e6 * 2048) / 1.5e9, 9);
    expect(estimateText({ windows: 8, length: 256 }, null, 1e6, 'webgpu', 'calib').coverage).toBeNull();
  });
});
