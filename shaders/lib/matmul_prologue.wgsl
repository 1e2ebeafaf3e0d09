// matmul_prologue — LIBRARY, not a kernel: x̂, the GEMV input after its fused prologue, for
// every GEMV (matmul_gemv_f32 / _sg / qn / nf4 / llmint8); prepended by the kernel table
// (src/gpu/kernel-table.ts). It uses what each of those kernels declares (module-scope names may
// be used before their declaration in WGSL): the uniform `p` (K, x_off, eps), the bindings `x`
// (activations) and `g` (RMSNorm gain) and the overrides PROLOGUE and WG (the workgroup size).
// A GEMV computes inv_rms once per workgroup, 1 unless PROLOGUE is 1:
//   inv_rms = rms_scale(<workgroup sum of x_sum_sq(lid)>)

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

// This thread's share of Σ x[k]² (RMSNorm prologue): k = lid, lid + WG, ...
fn x_sum_sq(lid: u32) -> f32 {
  var ss = 0.0;
  for (var k = lid; k < p.K; k += WG) {
    let v = x[p.x_off + k];
    ss += v * v;
  }
  return ss;
}

// 1 / sqrt(mean(x²) + eps) from the workgroup's total of x_sum_sq.
fn rms_scale(ss: f32) -> f32 {
  return 1.0 / sqrt(ss / f32(p.K) + p.eps);
}
