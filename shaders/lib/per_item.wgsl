// per_item — LIBRARY, not a kernel: the entry point of every kernel that runs one thread per
// item (an output value, an element, a row, a group, a packed word), prepended by the kernel
// table (src/gpu/kernel-table.ts). The kernel supplies `fn item_count() -> u32` (from the
// uniform p) and `fn item(t: u32)`, the work of item t; item is called for t < item_count() only.
// Dispatch: ceil(item_count() / 64) workgroups of 64 threads laid out on an (x, y) grid, so that
// any count fits the per-dimension limit: t = (y · num_workgroups.x + x) · 64 + local index.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (t < item_count()) {
    item(t);
  }
}
