// qn_code — LIBRARY, not a kernel: one code of a packed q2–q8 row (src/core/quant/packing.ts
// readCode), for matmul_gemm_qn and histogram_codes; prepended by the kernel table
// (src/gpu/kernel-table.ts). Uses what the kernel declares: the binding `q` (rows of wpr words)
// and the override BITS. BITS 3: each 32 codes are 3 words, two low bits in the first two words
// (16 per word), the high bits in the third; other BITS: 32 / BITS codes per word, low bits first.

// Code j of the row whose first word is q[row].
fn read_code(row: u32, j: u32) -> u32 {
  if (BITS == 3u) {
    let b = row + 3u * (j >> 5u);
    let k = j & 31u;
    return ((q[b + (k >> 4u)] >> (2u * (k & 15u))) & 3u) | (((q[b + 2u] >> k) & 1u) << 2u);
  }
  let per = 32u / BITS;
  return (q[row + j / per] >> (BITS * (j % per))) & ((1u << BITS) - 1u);
}
