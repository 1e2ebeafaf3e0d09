// histogram_codes — bucket collisions of a packed uniform tensor: how many weights share each
// code, plus how many were clipped at the ends of the grid. CPU twin:
// src/core/quant/histogram.ts codeHistogram.
//   out[c]          number of codes c, c < 2^BITS (codes read from the packed rows of
//                   src/core/quant/packing.ts: 8/4/2 bits per value, or the 3-bit planes)
//   out[256], [257] with has_w: weights whose unclamped code round(w / scale) + zero (correctly
//                   rounded division, ties to even: quant_softfloat.wgsl) was < 0, or > maxq,
//                   i.e. that lay outside the grid and were clamped to 0 or maxq
// scale / zero of (row r, column j): entry r·n_groups + g, g = gidx[j] when has_gidx, else ⌊j / G⌋.
// Counts go to workgroup-memory atomics first, then one global atomicAdd per nonzero bin.
// Prepended library: quant_softfloat.wgsl.
//
// Bindings (group 0):
//   0 uniform  Params {rows, cols, wpr, G, n_groups, bits, has_w, has_gidx}
//   1 read     q:      array<u32>          (rows, wpr) packed codes (read_code, lib/qn_code.wgsl)
//   2 read     w:      array<u32>          (rows, cols) f32 bits; any buffer unless has_w
//   3 read     scales: array<u32>          (rows · n_groups) f32 bits; any buffer unless has_w
//   4 read     zeros:  array<u32>          (rows · n_groups) one zero point per u32; ditto
//   5 read     gidx:   array<u32>          (cols); any buffer unless has_gidx
//   6 rw       out:    array<atomic<u32>>  (258), zeroed by the caller
// Dispatch: ceil(rows · cols / 256) workgroups of 256 on an (x, y) grid; one thread per weight.

override BITS: u32 = 4u;
const WG = 256u;
const NB = 258u;

var<workgroup> bins: array<atomic<u32>, NB>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i < p.rows * p.cols) {
    let r = i / p.cols;
    let j = i % p.cols;
    atomicAdd(&bins[read_code(r * p.wpr, j)], 1u);
    if (p.has_w != 0u) {
      let g = select(j / p.G, gidx[j], p.has_gidx != 0u);
      let f = r * p.n_groups + g;
      let x = w[i];
      let c = sf_div_rint(x, scales[f]) + i32(zeros[f]);
      if (c < 0) {
        atomicAdd(&bins[256], 1u);
      } else if (c > i32((1u << p.bits) - 1u)) {
        atomicAdd(&bins[257], 1u);
      }
    }
  }
  workgroupBarrier();
  for (var b = lid; b < NB; b += WG) {
    let c = atomicLoad(&bins[b]);
    if (c != 0u) {
      atomicAdd(&out[b], c);
    }
  }
}
