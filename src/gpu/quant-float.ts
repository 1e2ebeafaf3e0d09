// Wrappers of the float-format kernels: fake quantization to fp16 / bf16 / tf32 / fp8 and fp32
// fraction-bit truncation or rounding. Bit-identical to roundArrayToFloat, truncateFraction and
// roundFraction of src/core/quant/float-formats.ts.
import { FLOAT_SPECS, type FloatFormat, type Overflow } from '../core/quant/float-formats.ts';
import { fail, groupsFor, holds, positive } from './checks.ts';
import type { Recorder } from './recorder.ts';

const f32Bits = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0];

/** out (n) = x (n) rounded to `format` and back to f32, overflow as the format's default unless given. */
export function floatRound(
  rec: Recorder,
  a: { x: GPUBuffer; out: GPUBuffer; n: number; format: FloatFormat; overflow?: Overflow },
): void {
  positive('floatRound', ['n', a.n]);
  if (a.x === a.out) fail('floatRound: x and out must be different buffers');
  holds('floatRound x', a.x, a.n);
  holds('floatRound out', a.out, a.n);
  const s = FLOAT_SPECS[a.format];
  const overflow = a.overflow ?? s.defaultOverflow;
  rec.dispatch('float_round', {
    buffers: [a.x, a.out],
    params: {
      n: a.n,
      mb: s.manBits,
      emin: 1 - s.bias,
      max_bits: f32Bits(s.maxFinite),
      overflow: overflow === 'saturate' ? 2 : s.special === 'ieee' ? 0 : 1,
    },
    workgroups: groupsFor(rec, a.n),
  });
}

/** out (n) = x (n) with k of the 23 fraction bits: 'truncate' (mask) or 'rne' (round to nearest even). */
export function floatTrunc(
  rec: Recorder,
  a: { x: GPUBuffer; out: GPUBuffer; n: number; k: number; mode: 'truncate' | 'rne' },
): void {
  positive('floatTrunc', ['n', a.n]);
  if (!Number.isInteger(a.k) || a.k < 0 || a.k > 23)
    fail(`floatTrunc: fraction bits k = ${a.k}, must be an integer in 0..23`);
  if (a.x === a.out) fail('floatTrunc: x and out must be different buffers');
  holds('floatTrunc x', a.x, a.n);
  holds('floatTrunc out', a.out, a.n);
  rec.dispatch('float_trunc', {
    buffers: [a.x, a.out],
    params: { n: a.n, k: a.k, mode: a.mode === 'rne' ? 1 : 0 },
    workgroups: groupsFor(rec, a.n),
  });
}
