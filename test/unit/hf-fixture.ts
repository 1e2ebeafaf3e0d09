// The HF fixture (test/fixtures/stories260K-hf, written by transformers) and variants of it built
// in code: other dtypes, sharded, untied, Qwen2 with biases. Shared by the hf-* tests and the fuzzer.
import { readdirSync, readFileSync } from 'node:fs';
import { f32ToBf16Bits } from '../../src/core/formats/hf/half.ts';
import { memoryFolder, type ModelFolder } from '../../src/core/formats/hf/load.ts';
import { mulberry32 } from '../../src/core/random.ts';
import { f32ToF16Bits } from '../../src/core/quant/float-formats.ts';
import {
  encodeSafetensors,
  parseSafetensors,
  readTensorF32,
  type SafetensorsInput,
} from '../../src/core/formats/safetensors.ts';

const DIR = new URL('../fixtures/stories260K-hf/', import.meta.url);

/** Every file of the fixture folder, by name (fresh copies). */
export function hfFixtureFiles(): Record<string, Uint8Array> {
  return Object.fromEntries(readdirSync(DIR).map((n) => [n, new Uint8Array(readFileSync(new URL(n, DIR)))]));
}

export const folderOf = (files: Record<string, Uint8Array>): ModelFolder => memoryFolder(files);

export const jsonBytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
export const parseJson = (b: Uint8Array): Record<string, unknown> => JSON.parse(new TextDecoder().decode(b));

/** Named f32 tensors of a safetensors file, in file order. */
export function tensorsOf(bytes: Uint8Array): { name: string; shape: number[]; data: Float32Array }[] {
  const f = parseSafetensors(bytes);
  return [...f.tensors.values()]
    .sort((a, b) => a.begin - b.begin)
    .map((e) => ({ name: e.name, shape: e.shape, data: readTensorF32(f, e.name).data }));
}

/** f32 values → raw bytes of one dtype (F16/BF16 rounded to nearest even). */
export function encodeAs(dtype: 'F32' | 'F16' | 'BF16', x: Float32Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const codes = Uint16Array.from(x, (v) => (dtype === 'F16' ? f32ToF16Bits(v) : f32ToBf16Bits(v)));
  return new Uint8Array(codes.buffer);
}

export function writeTensors(
  list: { name: string; shape: number[]; data: Float32Array }[],
  dtype: 'F32' | 'F16' | 'BF16' = 'F32',
): Uint8Array {
  const inputs: SafetensorsInput[] = list.map((t) => ({
    name: t.name,
    dtype,
    shape: t.shape,
    data: encodeAs(dtype, t.data),
  }));
  return encodeSafetensors(inputs, { format: 'pt' });
}

/** The fixture with config.json edited by `edit` (which may mutate the parsed object). */
export function withConfig(
  files: Record<string, Uint8Array>,
  edit: (c: Record<string, unknown>) => void,
): Record<string, Uint8Array> {
  const c = parseJson(files['config.json']);
  edit(c);
  return { ...files, 'config.json': jsonBytes(c) };
}

/** The fixture split into `n` shards with a model.safetensors.index.json, as save_pretrained does. */
export function sharded(files: Record<string, Uint8Array>, n: number): Record<string, Uint8Array> {
  const list = tensorsOf(files['model.safetensors']);
  const out: Record<string, Uint8Array> = { ...files };
  delete out['model.safetensors'];
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(list.length / n);
  for (let s = 0; s < n; s++) {
    const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const part = list.slice(s * per, (s + 1) * per);
    part.forEach((t) => (weightMap[t.name] = name));
    out[name] = writeTensors(part);
  }
  out['model.safetensors.index.json'] = jsonBytes({ metadata: { total_size: 0 }, weight_map: weightMap });
  return out;
}

/** The stories260K folder as a Qwen2 checkpoint: seeded q/k/v biases (uniform in [-1, 1)) on every layer. */
export function asQwen2WithBiases(files: Record<string, Uint8Array>): Record<string, Uint8Array> {
  const rand = mulberry32(7);
  const list = tensorsOf(files['model.safetensors']);
  for (let l = 0; l < 5; l++) {
    for (const [p, n] of [
      ['q', 64],
      ['k', 32],
      ['v', 32],
    ] as const) {
      list.push({
        name: `model.layers.${l}.self_attn.${p}_proj.bias`,
        shape: [n],
        data: Float32Array.from({ length: n }, () => rand() * 2 - 1),
      });
    }
  }
  return withConfig({ ...files, 'model.safetensors': writeTensors(list) }, (c) => {
    c.architectures = ['Qwen2ForCausalLM'];
    c.model_type = 'qwen2';
    c.use_sliding_window = false;
  });
}
