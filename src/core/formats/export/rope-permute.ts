// Row permutations between the two RoPE layouts of q/k projection rows, per head of size hs:
//   interleaved (llama2.c, Meta, GGUF/llama.cpp): pair i of a head is rows (2i, 2i + 1)
//   half (HF rotate-half):                         pair i of a head is rows (i, i + hs/2)
// `halfFromInterleaved` is HF's convert_llama_weights_to_hf.py `permute` (view(nH, hs/2, 2, in)
// .transpose(1, 2)); `interleavedFromHalf` is its inverse, convert_hf_to_gguf.py's `permute`
// (reshape(nH, 2, hs/2, in).swapaxes(1, 2)). A permutation `perm` reads: new row r = old row perm[r].
import { NibbleError } from '../../errors.ts';

function check(rows: number, nHeads: number): number {
  const hs = rows / nHeads;
  if (!Number.isInteger(hs) || hs % 2 !== 0)
    throw new NibbleError('bad-argument', `rope permutation: ${rows} rows are not ${nHeads} heads of an even size`);
  return hs;
}

/** perm[halfRow] = interleavedRow, for `rows` = nHeads · hs output rows. */
export function halfFromInterleaved(rows: number, nHeads: number): Int32Array {
  const hs = check(rows, nHeads);
  const perm = new Int32Array(rows);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < hs / 2; i++) {
      for (let s = 0; s < 2; s++) perm[h * hs + s * (hs / 2) + i] = h * hs + 2 * i + s;
    }
  }
  return perm;
}

/** perm[interleavedRow] = halfRow: the inverse of halfFromInterleaved. */
export function interleavedFromHalf(rows: number, nHeads: number): Int32Array {
  const fwd = halfFromInterleaved(rows, nHeads);
  const inv = new Int32Array(rows);
  fwd.forEach((src, dst) => (inv[src] = dst));
  return inv;
}

/** Rows of a row-major matrix (rows × rowLen elements of any typed array) in the order perm gives. */
export function permuteRows<T extends Uint8Array | Float32Array>(data: T, rows: number, perm: Int32Array): T {
  const rowLen = data.length / rows;
  if (!Number.isInteger(rowLen) || perm.length !== rows)
    throw new NibbleError('bad-argument', `permuteRows: ${data.length} values, ${rows} rows, ${perm.length} indices`);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let r = 0; r < rows; r++) out.set(data.subarray(perm[r] * rowLen, (perm[r] + 1) * rowLen), r * rowLen);
  return out;
}
