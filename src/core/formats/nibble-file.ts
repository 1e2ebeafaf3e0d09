// The nibble model file (.nibble): a quantized (or fp32) Llama model with its tokenizer, saved
// bit-exactly so generate, eval and the app load it back without re-quantizing.
//
// Layout (little-endian):
//   u32 magic "NIBL" (0x4c42494e) | u32 version (1) | u32 N | N bytes of UTF-8 JSON header |
//   zero padding to a multiple of 64 | blobs, each starting at a multiple of 64 (offsets are
//   absolute file offsets).
// Header JSON: { config: LlamaConfig, label?, spec?, tokenizer?: Blob (llama2.c tokenizer.bin),
//   hfTokenizer?: { json: Blob, config: Blob | null, options?: { bosId?, eosIds?, chatTemplate? } }
//   (tokenizer.json + tokenizer_config.json + what config.json / chat_template.jinja added),
//   tensors: { name: Entry } }
//   Blob  = { offset, bytes }
//   Entry = { format, shape, ...format fields (group, sym, scaleType, granularity, threshold —
//             null for Infinity —, scaleOffset), buffers: { data, scales?, zeros?, gIdx?, scales2? }: Blob }
// Tensor names: tok_emb, rms_final, wcls (absent when shared), layers.L.{rmsAtt,wq,wk,wv,wo,rmsFfn,w1,w2,w3},
//   and layers.L.{bq,bk,bv} (f32) in every layer or in none (Qwen2 attention biases).
// Every size is recomputed from shape and format and must match the blob exactly before any
// typed array is made, so a corrupt header can never size an allocation (nibble-file-read.ts).
import type { Tensor } from '../tensor.ts';
import { NibbleError } from '../errors.ts';
import { assertRunnable } from './hf/runnable.ts';
import { kvDim, type LlamaConfig, type LlamaModel } from '../model/model.ts';
import type { TokenizerFiles } from '../tokenizers/tokenizer-files.ts';

export const NIBBLE_MAGIC = 0x4c42494e;
export const NIBBLE_VERSION = 1;
const ALIGN = 64;
export const LAYER_KEYS = ['rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w2', 'w3'] as const;
export const BIAS_KEYS = ['bq', 'bk', 'bv'] as const;

export interface Blob {
  offset: number;
  bytes: number;
}
export type BufferName = 'data' | 'scales' | 'zeros' | 'gIdx' | 'scales2';

export interface NibbleFile {
  model: LlamaModel;
  tokenizer: Uint8Array | null; // llama2.c tokenizer.bin bytes, when embedded
  tokenizerFiles: TokenizerFiles | null; // whichever tokenizer is embedded
  label: string | null;
  spec: unknown; // the QuantSpec that made it (informational)
}

export const bad = (msg: string) => new NibbleError('bad-format', `nibble file: ${msg}`);
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function namedTensors(m: LlamaModel): [string, Tensor][] {
  const w = m.weights;
  const out: [string, Tensor][] = [
    ['tok_emb', w.tokEmb],
    ['rms_final', w.rmsFinal],
  ];
  if (!m.config.sharedClassifier) out.push(['wcls', w.wcls]);
  w.layers.forEach((lw, l) => LAYER_KEYS.forEach((k) => out.push([`layers.${l}.${k}`, lw[k]])));
  w.attnBias?.forEach((b, l) => BIAS_KEYS.forEach((k) => out.push([`layers.${l}.${k}`, b[k]])));
  return out;
}

/** Shape each named tensor must have under `c`. */
export function expectedShape(name: string, c: LlamaConfig): number[] {
  const qd = c.nHeads * c.headSize;
  const kvd = kvDim(c);
  if (name === 'tok_emb' || name === 'wcls') return [c.vocabSize, c.dim];
  if (name === 'rms_final') return [c.dim];
  const k = name.split('.')[2] as (typeof LAYER_KEYS)[number] | (typeof BIAS_KEYS)[number];
  const shapes: Record<(typeof LAYER_KEYS)[number] | (typeof BIAS_KEYS)[number], number[]> = {
    bq: [qd],
    bk: [kvd],
    bv: [kvd],
    rmsAtt: [c.dim],
    rmsFfn: [c.dim],
    wq: [qd, c.dim],
    wk: [kvd, c.dim],
    wv: [kvd, c.dim],
    wo: [c.dim, qd],
    w1: [c.hiddenDim, c.dim],
    w3: [c.hiddenDim, c.dim],
    w2: [c.dim, c.hiddenDim],
  };
  return shapes[k];
}

function buffersOf(t: Tensor): Partial<Record<BufferName, ArrayBufferView>> {
  return t.format === 'f32' || t.format === 'f16' ? { data: t.data } : { ...t.buffers };
}

export function writeNibbleFile(
  model: LlamaModel,
  opts: { tokenizer?: Uint8Array | TokenizerFiles; label?: string; spec?: unknown } = {},
): Uint8Array {
  assertRunnable(model, 'the .nibble writer', { attentionBias: true }); // qkNorm, ropeScaling, headDim: not stored yet
  const tok: TokenizerFiles | undefined =
    opts.tokenizer instanceof Uint8Array ? { kind: 'llama2c', bytes: opts.tokenizer } : opts.tokenizer;
  const blobs: ArrayBufferView[] = [];
  let cursor = 0; // relative to the start of the data section, fixed up below
  const place = (v: ArrayBufferView): Blob => {
    const b = { offset: cursor, bytes: v.byteLength };
    blobs.push(v);
    cursor = align(cursor + v.byteLength);
    return b;
  };
  const tensors: Record<string, unknown> = {};
  for (const [name, t] of namedTensors(model)) {
    const { buffers: _b, data: _d, ...meta } = t as Tensor & { buffers?: unknown; data?: unknown };
    const bufs = Object.fromEntries(
      Object.entries(buffersOf(t))
        .filter(([, v]) => v)
        .map(([k, v]) => [k, place(v!)]),
    );
    if ('threshold' in meta && !Number.isFinite(meta.threshold))
      (meta as { threshold: number | null }).threshold = null;
    tensors[name] = { ...meta, buffers: bufs };
  }
  const tokBlob = tok?.kind === 'llama2c' ? place(tok.bytes) : undefined;
  const hfJson = tok?.kind === 'hf' ? place(tok.json) : undefined;
  const hfConfig = tok?.kind === 'hf' && tok.config ? place(tok.config) : undefined;
  // The header's size depends on the offsets it contains: fix the data start, then shift.
  const draft = (base: number) =>
    JSON.stringify({
      config: model.config,
      label: opts.label ?? null,
      spec: opts.spec ?? null,
      tokenizer: tokBlob ? shift(tokBlob, base) : null,
      hfTokenizer: hfJson
        ? {
            json: shift(hfJson, base),
            config: hfConfig ? shift(hfConfig, base) : null,
            options: tok?.kind === 'hf' ? (tok.options ?? null) : null,
          }
        : null,
      tensors: shiftAll(tensors, base),
    });
  let base = align(12 + new TextEncoder().encode(draft(0)).byteLength + 64);
  let json = new TextEncoder().encode(draft(base));
  while (12 + json.byteLength > base) {
    base = align(12 + json.byteLength + 64);
    json = new TextEncoder().encode(draft(base));
  }
  const out = new Uint8Array(base + cursor);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, NIBBLE_MAGIC, true);
  dv.setUint32(4, NIBBLE_VERSION, true);
  dv.setUint32(8, json.byteLength, true);
  out.set(json, 12);
  let off = base;
  for (const v of blobs) {
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), off);
    off = base + align(off - base + v.byteLength);
  }
  return out;
}

const shift = (b: Blob, base: number): Blob => ({ offset: b.offset + base, bytes: b.bytes });
function shiftAll(tensors: Record<string, unknown>, base: number): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(tensors).map(([n, e]) => {
      const entry = e as { buffers: Record<string, Blob> };
      return [
        n,
        { ...entry, buffers: Object.fromEntries(Object.entries(entry.buffers).map(([k, b]) => [k, shift(b, base)])) },
      ];
    }),
  );
}

export const isNibbleFile = (bytes: Uint8Array): boolean =>
  bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === NIBBLE_MAGIC;
