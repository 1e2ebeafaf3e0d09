// silu_mul_f32 — SwiGLU gate: out[m, j] = silu(gu[m, j]) * gu[m, H + j], silu(g) = g / (1 + e^-g).
//
// Bindings (group 0):
//   0 uniform  Params {M, H}
//   1 read     gu:  array<f32>   (M, 2H): each row is [gate (H) | up (H)], the output of the
//                                fused w1/w3 matmul
//   2 rw       out: array<f32>   (M, H)
// Dispatch: ceil(M * H / 64) workgroups of 64 threads on an (x, y) grid (lib/per_item.wgsl), one value each.

fn item_count() -> u32 {
  return p.M * p.H;
}

fn item(i: u32) {
  let m = i / p.H;
  let j = i % p.H;
  let g = gu[m * 2u * p.H + j];
  let u = gu[m * 2u * p.H + p.H + j];
  out[i] = g / (1.0 + exp(-g)) * u;
}
