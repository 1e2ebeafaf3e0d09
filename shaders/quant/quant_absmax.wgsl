// quant_absmax — NF4/FP4 step 1 of 2: absmax of every block of B consecutive elements of the
// flattened tensor x (n), as src/core/quant/nf4.ts quantize4bit: absmax[b] = max |x| over
// [b·B, min((b + 1)·B, n)), exact (compared as magnitude bit patterns). A non-finite value
// sets status[0] bit 0 (the CPU twin throws 'bad-argument').
//
// Bindings (group 0):
//   0 uniform  Params {n, B, n_blocks}
//   1 read     x:      array<u32>          (n) f32 bit patterns
//   2 rw       absmax: array<u32>          (n_blocks) f32 bits
//   3 rw       status: array<atomic<u32>>  (≥ 1)
// Dispatch: ceil(n_blocks / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per block.

fn item_count() -> u32 {
  return p.n_blocks;
}

fn item(b: u32) {
  let start = b * p.B;
  let end = min(start + p.B, p.n);
  var m = 0u;
  for (var i = start; i < end; i++) {
    m = max(m, x[i] & 0x7fffffffu);
  }
  if (m >= 0x7f800000u) {
    atomicOr(&status[0], 1u);
  }
  absmax[b] = m;
}
