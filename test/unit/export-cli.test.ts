// `nibble export` in-process: every format from the llama2.c model and from the llama.cpp GGUF,
// the files it writes (re-read here), GGUF → .nibble and .bin → HF folder → generate round trips
// on the golden text, and exit 2 with a clear message for bad flags and bad inputs.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuForward } from '../../src/core/model/forward.ts';
import { loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { parseGguf } from '../../src/core/formats/gguf/read.ts';
import { GgmlType } from '../../src/core/formats/gguf/types.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { args, runCli } from './cli-run.ts';

const root = new URL('../../', import.meta.url);
const p = (rel: string) => new URL(rel, root).pathname;
const MODEL = p('public/models/stories260K.bin');
const TOK = p('public/models/tok512.bin');
const GGUF = p('test/fixtures/stories260K-f32.gguf');
const GOLDEN = readFileSync(p('test/fixtures/golden-stories260K.txt'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'nibble-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CALIB = join(dir, 'calib.txt');
writeFileSync(CALIB, readFileSync(p('public/data/tinystories-calib.txt'), 'utf8').split('\n')[0]);

const run = runCli;
const bin = ['--model', MODEL, '--tokenizer', TOK];
const read = (f: string) => new Uint8Array(readFileSync(f));

describe('nibble export', () => {
  it('gguf-f32 from the llama2.c checkpoint: a GGUF with the same logits', async () => {
    const out = join(dir, 'm.gguf');
    const r = await run(['export', ...bin, '--format', 'gguf-f32', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote .*m\.gguf: fp32, \d+ bytes/);
    const g = loadGguf(read(out));
    expect(g.file.kv.get('general.name')?.value).toBe('stories260K');
    const ref = new CpuForward(parseLlama2c(read(MODEL))).forward([1, 400, 401], 0);
    expect(new CpuForward(g.model).forward([1, 400, 401], 0)).toEqual(ref);
  });

  it('gguf-q4_0 from the llama.cpp GGUF (its tokenizer comes along), rtn first when asked', async () => {
    const out = join(dir, 'q4.gguf');
    const r = await run(['export', '--model', GGUF, '--format', 'gguf-q4_0', '--out', out, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ format: 'gguf-q4_0', label: 'fp32', files: [{ path: out }] });
    const f = parseGguf(read(out));
    expect(f.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.type).toBe(GgmlType.Q4_0);
    expect(f.tensors.find((t) => t.name === 'output.weight')).toBeUndefined(); // the GGUF's copy was recognised as tied
    const q8 = join(dir, 'q8.gguf');
    expect(
      (
        await run([
          'export',
          ...bin,
          ...args('--method rtn --bits 8 --group 32 --sym --f16-scales --format gguf-q8_0 --out'),
          q8,
        ])
      ).code,
    ).toBe(0);
    expect(parseGguf(read(q8)).kv.get('general.name')?.value).toBe('stories260K (rtn int8 g32 sym)');
  });

  it('gptq-safetensors: a folder, or a .safetensors file with the JSON sidecars beside it', async () => {
    const folder = join(dir, 'gptq-dir');
    const a = await run([
      'export',
      ...bin,
      ...args('--method rtn --bits 4 --group 32 --format gptq-safetensors --out'),
      folder,
    ]);
    expect(a.code).toBe(0);
    for (const f of ['model.safetensors', 'quantize_config.json', 'config.json'])
      expect(existsSync(join(folder, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(folder, 'quantize_config.json'), 'utf8'))).toMatchObject({
      bits: 4,
      group_size: 32,
      desc_act: false,
      checkpoint_format: 'gptq',
    });

    const single = join(dir, 'single', 'tiny.safetensors');
    rmSync(join(dir, 'single'), { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(join(dir, 'single')));
    const b = await run([
      'export',
      ...bin,
      '--calib',
      CALIB,
      ...args('--seq 64 --method gptq --bits 3 --group 32 --act-order --format gptq-safetensors --out'),
      single,
    ]);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/quantize layer 5\/5 w2/);
    expect(existsSync(single)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'single', 'quantize_config.json'), 'utf8'))).toMatchObject({
      bits: 3,
      group_size: 32,
      desc_act: true,
    });
    expect(JSON.parse(readFileSync(join(dir, 'single', 'config.json'), 'utf8'))).toMatchObject({
      model_type: 'llama',
      quantization_config: { bits: 3 },
    });
  });

  it('hf-safetensors: an HF folder that generate --model DIR runs to the golden text; a variant as fake-quant', async () => {
    const folder = join(dir, 'hf-dir');
    const a = await run(['export', ...bin, '--format', 'hf-safetensors', '--out', folder, '--json']);
    expect(a.code).toBe(0);
    const names = [
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ];
    expect(JSON.parse(a.stdout)).toMatchObject({
      format: 'hf-safetensors',
      label: 'fp32',
      files: names.map((n) => ({ path: join(folder, n) })),
    });
    expect(JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'))).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      torch_dtype: 'float32',
      nibble_source: { fake_quant: false },
    });
    const g = await run(['generate', '--model', folder, '--backend', 'cpu', '--temperature', '0', '--steps', '60']);
    expect(g.code).toBe(0);
    expect(GOLDEN.startsWith(g.stdout.replace(/\n$/, ''))).toBe(true);
    expect(g.stdout.length).toBeGreaterThan(150);

    const q = join(dir, 'hf-rtn4');
    expect(
      (await run(['export', ...bin, ...args('--method rtn --bits 4 --group 32 --format hf-safetensors --out'), q]))
        .code,
    ).toBe(0);
    expect(JSON.parse(readFileSync(join(q, 'config.json'), 'utf8')).nibble_source).toMatchObject({
      name: 'stories260K (rtn int4 g32)',
      fake_quant: true,
      quantized_formats: ['q4'],
    });
  });

  it('GGUF → .nibble → generate reproduces the golden greedy text', async () => {
    const out = join(dir, 'from-gguf.nibble');
    expect((await run(['export', '--model', GGUF, '--format', 'nibble', '--out', out])).code).toBe(0);
    const g = await run(['generate', '--model', out, '--backend', 'cpu', '--temperature', '0', '--steps', '60']);
    expect(g.code).toBe(0);
    // the GGUF's context is 128, carried into the .nibble file: 60 steps fit
    expect(GOLDEN.startsWith(g.stdout.replace(/\n$/, ''))).toBe(true);
    expect(g.stdout.length).toBeGreaterThan(150);
  });

  it.each([
    [
      ['export', ...bin, '--out', 'x'],
      /--format must be one of gguf-f32, gguf-q8_0, gguf-q4_0, gptq-safetensors, hf-safetensors, nibble/,
    ],
    [['export', ...bin, '--format', 'gguf-q2_k', '--out', 'x'], /got "gguf-q2_k"/],
    [['export', ...bin, '--format', 'gguf-f32'], /--out PATH is required/],
    [['export', ...bin, '--format', 'gptq-safetensors', '--method', 'nf4', '--out', 'x'], /needs --method gptq or rtn/],
    [
      ['export', ...bin, '--format', 'gptq-safetensors', '--out', join(dir, 'no')],
      /layer 0 wq is f32; the GPTQ layout needs uniform-int linears/,
    ],
    [['export', ...bin, '--format', 'gguf-f32', '--method', 'gptq', '--out', 'x'], /needs calibration text/],
    [
      ['export', ...bin, '--format', 'hf-safetensors', '--out', 'x.safetensors'],
      /hf-safetensors writes a folder .*give --out DIR/,
    ],
    [['export', '--model', MODEL, '--format', 'gguf-f32', '--out', 'x'], /--tokenizer FILE is required/],
    [
      ['export', ...bin, '--format', 'gguf-f32', '--out', join(dir, 'missing-dir', 'x.gguf')],
      /cannot write .*missing-dir/,
    ],
    [
      ['export', '--model', GGUF, '--tokenizer', join(dir, 'calib.txt'), '--format', 'nibble', '--out', 'x'],
      /\[(bad-format|tokenizer-mismatch|truncated)\]/,
    ],
  ])('exits 2: %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('exits 2 with [truncated] for a cut GGUF', async () => {
    const cut = join(dir, 'cut.gguf');
    writeFileSync(cut, read(GGUF).subarray(0, 500_000));
    const r = await run(['export', '--model', cut, '--format', 'gguf-f32', '--out', join(dir, 'y.gguf')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error \[truncated\]: GGUF: tensor '.*' .* ends past the data section/);
  });
});
