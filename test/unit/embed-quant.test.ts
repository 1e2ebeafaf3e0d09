// Quantized embedding / classifier tables (issue 11): the spec options and their default rule,
// quantizeEmbeddings on the uniform RTN path (tied stays one object), the CPU runner on the
// quantized tables vs an f32 model built from the dequantized tables (core twin), the .nibble
// round trip, and the CLI flags (quantize → file → load back).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NibbleError } from '../../src/core/errors.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import {
  DEFAULT_SPEC,
  defaultTableQuant,
  resolveTableQuants,
  specLabel,
  validateSpec,
  type QuantSpec,
} from '../../src/core/quant/quant-spec.ts';
import { dequantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { mulberry32 } from '../../src/core/random.ts';
import { f32Tensor, type Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { QUANT_FLAGS, specFromArgs } from '../../src/cli/quant-commands.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { modelParams, quantizeEmbeddings } from '../../src/engine/quant/embeddings.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { countParams } from '../../src/worker/sources/model-source.ts';
import { runCli } from './cli-run.ts';

const root = new URL('../../', import.meta.url);
const p = (rel: string) => new URL(rel, root).pathname;
const MODEL = p('public/models/stories260K.bin');
const TOK = p('public/models/tok512.bin');
const tied: LlamaModel = parseLlama2c(new Uint8Array(readFileSync(MODEL)));

/** stories260K with its own classifier: the table plus uniform noise of ±0.05 (seeded). */
function untiedOf(m: LlamaModel): LlamaModel {
  const rand = mulberry32(7);
  const t = dequantizeOrSelf(m.weights.tokEmb);
  const wcls = f32Tensor(
    [...t.shape],
    t.data.map((v) => v + (rand() - 0.5) * 0.1),
  );
  return { config: { ...m.config, sharedClassifier: false }, weights: { ...m.weights, wcls } };
}
const dequantizeOrSelf = (t: Tensor) => (t.format === 'f32' ? t : dequantizeTensor(t as UniformQuantTensor));
const untied = untiedOf(tied);

const rtn4: QuantSpec = { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 };
const PROMPT = [1, 403, 407, 261, 378, 395, 263, 289, 275, 434, 260, 28];

describe('spec options', () => {
  it('default rule: keep below 100M parameters, q8 from 100M for packed methods; float methods keep', () => {
    expect(modelParams(tied)).toBe(countParams(tied)); // the app's count: a tied table once
    expect(modelParams(untied)).toBe(countParams(untied));
    expect(defaultTableQuant(modelParams(tied), 'rtn')).toBe('keep');
    expect(defaultTableQuant(99_999_999, 'gptq')).toBe('keep');
    expect(defaultTableQuant(134_515_008, 'rtn')).toBe('q8'); // SmolLM2-135M
    expect(defaultTableQuant(1e9, 'nf4')).toBe('q8');
    for (const m of ['fp32', 'fp16', 'bf16', 'trunc'] as const) expect(defaultTableQuant(1e9, m)).toBe('keep');
  });

  it('tied tables take one format; two different explicit choices are refused', () => {
    expect(resolveTableQuants({ ...rtn4, classifier: 'q4' }, 1e6, true)).toEqual({ embed: 'q4', classifier: 'q4' });
    expect(resolveTableQuants({ ...rtn4, embed: 'q8' }, 1e6, false)).toEqual({ embed: 'q8', classifier: 'keep' });
    expect(resolveTableQuants(rtn4, 2e8, false)).toEqual({ embed: 'q8', classifier: 'q8' });
    expect(() => resolveTableQuants({ ...rtn4, embed: 'q8', classifier: 'q4' }, 1e6, true)).toThrow(
      /tied.*--embed q8 and --classifier q4/,
    );
  });

  it('validates and labels the choices', () => {
    const bad = { ...rtn4, embed: 'q3' } as unknown as QuantSpec;
    expect(() => validateSpec(bad, [64])).toThrow(NibbleError);
    expect(() => validateSpec(bad, [64])).toThrow("--embed must be one of keep, q8, q4, got 'q3'");
    expect(specLabel({ ...rtn4, embed: 'q8' })).toBe('rtn int4 g32 · embed q8');
    expect(specLabel({ ...rtn4, embed: 'q8', classifier: 'q4' })).toBe('rtn int4 g32 · embed q8 · classifier q4');
    expect(specLabel({ ...rtn4, embed: 'q4', classifier: 'q4' })).toBe('rtn int4 g32 · emb+cls q4');
    expect(specLabel({ ...rtn4, embed: 'keep' })).toBe('rtn int4 g32');
  });
});

describe('quantizeEmbeddings', () => {
  it('tied: the table is quantized once and stays the classifier (q4 g32 asym)', async () => {
    const m: LlamaModel = { config: tied.config, weights: { ...tied.weights } };
    const spec = await quantizeEmbeddings(m, { ...rtn4, embed: 'q4' });
    expect(spec).toMatchObject({ embed: 'q4', classifier: 'q4' });
    expect(m.weights.wcls).toBe(m.weights.tokEmb);
    expect(m.weights.tokEmb).toMatchObject({ format: 'q4', granularity: 'group', group: 32, sym: false });
    expect(tied.weights.tokEmb.format).toBe('f32'); // the base is untouched
  });

  it('untied: q8 per row symmetric table, classifier kept', async () => {
    const m: LlamaModel = { config: untied.config, weights: { ...untied.weights } };
    await quantizeEmbeddings(m, { ...rtn4, embed: 'q8', classifier: 'keep' });
    expect(m.weights.tokEmb).toMatchObject({ format: 'q8', granularity: 'row', sym: true });
    expect(m.weights.wcls).toBe(untied.weights.wcls);
  });
});

/** m with its tables replaced by their dequantized f32 values (core twin), tying kept. */
function dequantizedTables(m: LlamaModel): LlamaModel {
  const tokEmb = dequantizeOrSelf(m.weights.tokEmb);
  const wcls = m.weights.wcls === m.weights.tokEmb ? tokEmb : dequantizeOrSelf(m.weights.wcls);
  return { config: m.config, weights: { ...m.weights, tokEmb, wcls } };
}

const CASES: [string, LlamaModel, Partial<QuantSpec>][] = [
  ['tied q8', tied, { embed: 'q8' }],
  ['tied q4', tied, { embed: 'q4' }],
  ['untied embed q8, classifier q4', untied, { embed: 'q8', classifier: 'q4' }],
  ['untied embed q4, classifier q8', untied, { embed: 'q4', classifier: 'q8' }],
];

describe.each(CASES)('CPU runner, rtn int4 g32 %s', (_name, base, tables) => {
  it('logits equal the f32 model on the dequantized tables; .nibble round trip is bit-exact', async () => {
    const { model: qm, report } = await quantizeModel(base, { ...rtn4, ...tables });
    expect(qm.weights.tokEmb.format).toBe(tables.embed);
    expect(qm.weights.wcls.format).toBe(base.config.sharedClassifier ? tables.embed : tables.classifier);
    const want = await createCpuRunner(dequantizedTables(qm)).logitsAll(PROMPT);
    const got = await createCpuRunner(qm).logitsAll(PROMPT);
    let maxDiff = 0;
    got.logits.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - want.logits[i]))));
    expect(maxDiff).toBeLessThanOrEqual(1e-6);

    const file = readNibbleFile(writeNibbleFile(qm, { label: report.label, spec: report.spec }));
    expect(file.label).toBe(report.label);
    for (const k of ['tokEmb', 'wcls'] as const) expect(file.model.weights[k]).toEqual(qm.weights[k]);
    expect(file.model.weights.wcls === file.model.weights.tokEmb).toBe(base.config.sharedClassifier);
    expect((await createCpuRunner(file.model).logitsAll(PROMPT)).logits).toEqual(got.logits);
  });
});

describe('CLI --embed / --classifier', () => {
  const spec = (argv: string[]) => specFromArgs(parseArgs(argv, QUANT_FLAGS));
  const dir = mkdtempSync(join(tmpdir(), 'nibble-embq-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses the choices; absent leaves the default rule; others are refused', () => {
    expect(spec(['--method', 'rtn', '--embed', 'q8', '--classifier', 'q4'])).toMatchObject({
      embed: 'q8',
      classifier: 'q4',
    });
    expect('embed' in spec(['--method', 'rtn'])).toBe(false);
    expect(() => spec(['--embed', 'q2'])).toThrow('--embed must be one of keep, q8, q4, got "q2"');
  });

  it('nibble quantize --embed q4 writes a q4 table that loads back', async () => {
    const out = join(dir, 'e.nibble');
    const r = await runCli(
      ['quantize', '--model', MODEL, '--tokenizer', TOK, '--backend', 'cpu'].concat([
        '--method',
        'rtn',
        '--bits',
        '4',
        '--group',
        '32',
        '--embed',
        'q4',
        '--out',
        out,
        '--json',
      ]),
    );
    expect(r.stderr + r.code).toMatch(/0$/);
    expect(JSON.parse(r.stdout).label).toBe('rtn int4 g32 · emb+cls q4');
    const f = readNibbleFile(new Uint8Array(readFileSync(out)));
    expect(f.model.weights.tokEmb).toMatchObject({ format: 'q4', group: 32 });
    const bad = await runCli(['quantize', '--model', MODEL, '--tokenizer', TOK, '--classifier', 'q5', '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--classifier must be one of keep, q8, q4');
  });
});
