// Non-finite values (issue 10, row 1): one NaN/Inf anywhere in the weights — llama2.c, GGUF f32,
// a Q8_0 block with a NaN scale, .nibble NaN scales — is a typed 'non-finite' error naming the
// tensor when the model is opened; logits that overflow at run time name the block where values
// stopped being finite; the sampler never returns an invalid id (NaN logits, temperature 1e-38,
// a top-p below 1/n); eval never reports KL 0 / top-1 100 % beside a NaN perplexity.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { bytesReader, openCheckpoint } from '../../src/core/formats/model-open.ts';
import { llama2cTokenizerBytes } from '../../src/core/formats/gguf/vocab.ts';
import { writeGgufModel } from '../../src/core/formats/gguf/write.ts';
import { writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { Sampler, sampleTopP } from '../../src/core/model/sampler.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { generate } from '../../src/engine/generate.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { runCli } from './cli-run.ts';
import { llama2cBytes, tinyModel, tinyVocab } from './hostile-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'nibble-hostile-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const V = 300;
const vocab = tinyVocab(V);
const tokBytes = llama2cTokenizerBytes(vocab);
const poisoned = (value: number): LlamaModel => {
  const m = tinyModel({ vocabSize: V });
  (m.weights.layers[0].w3 as F32Tensor).data[5] = value;
  return m;
};
const file = (name: string, bytes: Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const gen = (model: string, ...extra: string[]) =>
  runCli([
    'generate',
    '--model',
    model,
    '--tokenizer',
    file('tok.bin', tokBytes),
    '--steps',
    '4',
    '--backend',
    'cpu',
    '--seed',
    '1',
    ...extra,
  ]);

describe('NaN / Inf weights are refused at load, naming the tensor', () => {
  it('llama2.c: NaN and Infinity', async () => {
    for (const v of [NaN, Infinity, -Infinity]) {
      const r = await gen(file('nan.bin', llama2cBytes(poisoned(v))));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\[non-finite\].*weight layers\.0\.w3 .*value 5 is/);
    }
  });

  it('GGUF f32 and a Q8_0 block with a NaN scale', async () => {
    const f32 = writeGgufModel(poisoned(NaN), vocab, 'gguf-f32');
    let r = await gen(file('nan.gguf', f32));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[non-finite\].*layers\.0\.w3/);
    // A healthy model as Q8_0, then the fp16 scale of the first block of blk.0.ffn_up set to NaN (0x7e00).
    const q8 = writeGgufModel(tinyModel({ vocabSize: V }), vocab, 'gguf-q8_0');
    const { parseGguf } = await import('../../src/core/formats/gguf/read.ts');
    const g = parseGguf(q8);
    const up = g.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!;
    expect(up.type).toBe(8); // Q8_0
    q8[g.dataStart + up.offset] = 0x00;
    q8[g.dataStart + up.offset + 1] = 0x7e;
    r = await gen(file('nan-q8.gguf', q8));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[non-finite\].*layers\.0\.w3/);
    // The native (packed Q8_0) load path sees the scale itself.
    const e = await openCheckpoint(bytesReader(q8), { ggufWeights: 'native' }).catch((x: unknown) => x);
    expect(isNibbleError(e) && e.code).toBe('non-finite');
    expect((e as Error).message).toMatch(/layers\.0\.w3 .*scale 0 is not finite/);
  });

  it('.nibble with a NaN scale (f32 and f16 scales)', async () => {
    for (const scaleType of ['f32', 'f16'] as const) {
      const m = tinyModel({ vocabSize: V });
      const q = quantizeTensor(m.weights.layers[0].wq as F32Tensor, { format: 'q4', group: 32, scaleType });
      if (scaleType === 'f32') (q.buffers.scales as Float32Array)[3] = NaN;
      else (q.buffers.scales as Uint32Array)[1] = 0x7e00 << 16; // half 3 is NaN
      m.weights.layers[0].wq = q;
      const r = await gen(file(`nan-${scaleType}.nibble`, writeNibbleFile(m, { tokenizer: tokBytes })));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\[non-finite\].*layers\.0\.wq .*scale 3 is not finite/);
    }
  });
});

describe('values that overflow while running', () => {
  // Finite weights whose product overflows f32 in block 1's feed-forward: Infinity, then NaN.
  const overflowing = () => {
    const m = tinyModel({ vocabSize: V, nLayers: 2 });
    (m.weights.layers[1].w2 as F32Tensor).data.fill(3e38);
    return m;
  };

  it('generate with sampling: a typed error naming the block, not a TypeError', async () => {
    const runner = createCpuRunner(overflowing());
    const tok = Tokenizer.fromLlama2c(tokBytes, V);
    const e = await generate(runner, tok, 't280', { maxTokens: 3, temperature: 0.8, topP: 0.9, seed: 1 }).catch(
      (x: unknown) => x,
    );
    expect(isNibbleError(e) && e.code).toBe('non-finite');
    expect((e as Error).message).toMatch(/block 1 \(layer 1 of 2\)/);
  });

  it('eval: a typed error instead of KL 0 and top-1 100 % beside a NaN perplexity', async () => {
    const m = overflowing();
    const e = await evaluate(
      createCpuRunner(m),
      [[1, 280, 281, 282]],
      createCpuRunner(tinyModel({ vocabSize: V })),
    ).catch((x: unknown) => x);
    expect(isNibbleError(e) && e.code).toBe('non-finite');
    expect((e as Error).message).toMatch(/block 1 .*evaluation window 1/);
  });
});

describe('the sampler only returns valid ids', () => {
  it('NaN / Inf logits throw non-finite', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = new Float32Array([0.5, bad, 0.1]);
      expect(() => new Sampler({ temperature: 0.8, topP: 0.9, seed: 1 }).sample(x)).toThrow(/not finite/);
    }
  });

  it('temperature 1e-38 picks the argmax (the T → 0 limit), through the CLI too', async () => {
    const s = new Sampler({ temperature: 1e-38, topP: 0.9, seed: 3 });
    for (let k = 0; k < 20; k++) {
      const x = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i * 7 + k) * 10);
      let best = 0;
      x.forEach((v, i) => (v > x[best] ? (best = i) : 0));
      expect(s.sample(x)).toBe(best);
    }
    const healthy = file('ok.bin', llama2cBytes(tinyModel({ vocabSize: V })));
    const r = await gen(healthy, '--temperature', '1e-38');
    expect(r.stderr).not.toMatch(/TypeError|internal error/);
    expect(r.code).toBe(0);
    const greedy = await gen(healthy, '--temperature', '0');
    expect(r.stdout).toBe(greedy.stdout);
  });

  it('a top-p below 1/n still samples inside the vocabulary', () => {
    // p = [0.5, 0.5], topP 0.4: cutoff (1 − 0.4) / 1 = 0.6 is above every p.
    expect(sampleTopP(new Float32Array([0.5, 0.5]), 0.4, 0.3)).toBe(0);
    expect(sampleTopP(new Float32Array([0.5, 0.5]), 0.4, 0.9)).toBe(0);
  });
});
