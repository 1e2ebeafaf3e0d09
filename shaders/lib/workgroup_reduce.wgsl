// workgroup_reduce — LIBRARY, not a kernel: tree reductions over a workgroup through workgroup
// memory, for the GEMVs without subgroups (matmul_gemv_f32 / qn / nf4 / llmint8), rmsnorm_f32,
// rope_f32 and matmul_prep_llmint8; prepended by the kernel table (src/gpu/kernel-table.ts).
// Uses what the kernel declares: WG (an override or a const, a power of two, the workgroup
// size) and `red: array<f32, ≥ WG>` in workgroup memory.

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

// Max of v over the workgroup, returned to every thread. Call from uniform control flow.
fn workgroup_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (lid < st) {
      red[lid] = max(red[lid], red[lid + st]);
    }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier(); // all have read red[0] before anyone writes red again
  return total;
}
