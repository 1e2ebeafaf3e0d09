// matmul_gemv_common — LIBRARY, not a kernel: the GEMV prologue and reduction shared by
// matmul_gemv_f32 / matmul_gemv_qn / matmul_gemv_nf4, prepended to them in src/gpu/shaders.ts.
// It uses what each of those kernels declares (module-scope names may be used before their
// declaration in WGSL): the uniform `p` (K, x_off), the bindings `x` (activations) and `g`
// (RMSNorm gain), the overrides WG and PROLOGUE, and `red: array<f32, ≥ WG>` in workgroup memory.

// Sum of v over the workgroup, returned to every thread. Call from uniform control flow.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (lid < st) {
      red[lid] += red[lid + st];
    }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier(); // all have read red[0] before anyone writes red again
  return total;
}

// x̂[k], the matmul input after the fused prologue: PROLOGUE 0 = x, 1 = RMSNorm (g · x / rms),
// 2 = SwiGLU silu(gate) · up with x = [gate | up] (2K wide). 0 past K (ragged chunks read there).
fn x_hat(k: u32, inv_rms: f32) -> f32 {
  if (k >= p.K) {
    return 0.0;
  }
  let v = x[p.x_off + k];
  switch PROLOGUE {
    case 1u: {
      return g[k] * (inv_rms * v);
    }
    case 2u: {
      return v / (1.0 + exp(-v)) * x[p.x_off + p.K + k];
    }
    default: {
      return v;
    }
  }
}
