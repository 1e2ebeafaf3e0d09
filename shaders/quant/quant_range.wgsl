// quant_range — RTN step 1 of 3: the range of every (row, group) of a weight W (rows, cols),
// as src/core/quant/uniform.ts fitParams scans it: xmin = min(min x, 0), xmax = max(max x, 0).
// Kept as magnitudes (u32 bit patterns, exact: no float compare, so subnormals count):
//   ranges[2f] = |xmin|, ranges[2f + 1] = xmax, f = row · nGroups + g.
// Group g of a row covers columns [g·G, min((g + 1)·G, cols)) (the last one may be ragged).
// A non-finite weight sets status[0] bit 0 (the CPU twin throws 'bad-argument').
// Prepended library: quant_softfloat.wgsl (unused here beyond its conventions).
//
// Bindings (group 0):
//   0 uniform  Params {rows, cols, G, n_groups}
//   1 read     w:      array<u32>          (rows, cols) f32 bit patterns, row-major
//   2 rw       ranges: array<u32>          (rows · n_groups, 2)
//   3 rw       status: array<atomic<u32>>  (≥ 1)
// Dispatch: ceil(rows · n_groups / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per
// (row, group), scanning its G columns in order.

fn item_count() -> u32 {
  return p.rows * p.n_groups;
}

fn item(f: u32) {
  let r = f / p.n_groups;
  let g = f % p.n_groups;
  let c0 = g * p.G;
  let c1 = min(c0 + p.G, p.cols);
  var neg = 0u; // largest magnitude of a negative value
  var pos = 0u; // largest positive value
  var bad = false;
  for (var c = c0; c < c1; c++) {
    let b = w[r * p.cols + c];
    let mag = b & 0x7fffffffu;
    bad = bad || mag >= 0x7f800000u;
    if ((b >> 31u) != 0u) {
      neg = max(neg, mag);
    } else {
      pos = max(pos, mag);
    }
  }
  if (bad) {
    atomicOr(&status[0], 1u);
  }
  ranges[2u * f] = neg;
  ranges[2u * f + 1u] = pos;
}
