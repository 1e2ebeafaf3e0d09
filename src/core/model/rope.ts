// RoPE inverse frequencies: the one table every runner rotates with (CPU forward; the GPU runner
// uploads the same values). Pair i of a head (i = 0 .. hs/2 − 1) turns by pos · invFreq[i].
// Sources: RoFormer (Su et al. 2021) for the default; transformers modeling_rope_utils.py
// `_compute_linear_scaling_rope_parameters` and `_compute_llama3_parameters` for the scaled kinds.
import type { LlamaConfig, RopeScaling } from './model.ts';

/** inv_freq[i] = theta^(−2i / hs), rescaled by `scaling` when given. (hs / 2) values, in f64. */
export function ropeInvFreqFor(hs: number, theta: number, scaling?: RopeScaling): Float64Array {
  const out = new Float64Array(hs / 2);
  for (let i = 0; i < out.length; i++) out[i] = 1 / Math.pow(theta, (2 * i) / hs);
  if (!scaling) return out;
  if (scaling.type === 'linear') {
    for (let i = 0; i < out.length; i++) out[i] /= scaling.factor;
    return out;
  }
  // llama3: wavelengths shorter than L / highFreqFactor are kept, longer than L / lowFreqFactor
  // are divided by factor, and those between blend the two linearly in L / wavelen.
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: L } = scaling;
  const lowWavelen = L / lo;
  const highWavelen = L / hi;
  for (let i = 0; i < out.length; i++) {
    const f = out[i];
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) continue;
    if (wavelen > lowWavelen) out[i] = f / factor;
    else {
      const smooth = (L / wavelen - lo) / (hi - lo);
      out[i] = (1 - smooth) * (f / factor) + smooth * f;
    }
  }
  return out;
}

/** The model's table: (headSize / 2) inverse frequencies. */
export const ropeInvFreq = (c: LlamaConfig): Float64Array => ropeInvFreqFor(c.headSize, c.ropeTheta, c.ropeScaling);
