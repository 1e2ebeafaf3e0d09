// copy_stream — the bandwidth reference of `nibble bench` (src/cli/bench-matmul.ts): reads
// n_vec vec4<u32> (16 bytes each) of `src` once, in coalesced grid-stride order, and either
//   MODE 0 (stream): folds them with XOR and writes only when the fold equals `magic` (never, for
//          the bench's data; the write keeps the loads alive), so the traffic is reads alone —
//          what a GEMV's weight stream should approach;
//   MODE 1 (copy):   writes each vec4 to dst (reads + writes the same bytes).
// Thread t of T = WG · num_workgroups handles elements t, t + T, t + 2T, ...
//
// Bindings (group 0):
//   0 uniform  Params {n_vec, magic}
//   1 read     src: array<vec4<u32>>  (n_vec)
//   2 rw       dst: array<vec4<u32>>  (n_vec for MODE 1; at least T for MODE 0)
// Dispatch: (gx, gy) workgroups of WG threads, gx · gy · WG ≤ n_vec (src/cli/bench-matmul.ts).

override WG: u32 = 256u;
override MODE: u32 = 0u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let threads = nwg.x * WG;
  let t = gid.y * threads + gid.x;
  let total = threads * nwg.y;
  var acc = vec4<u32>(0u);
  for (var i = t; i < p.n_vec; i += total) {
    let v = src[i];
    if (MODE == 1u) {
      dst[i] = v;
    } else {
      acc ^= v;
    }
  }
  if (MODE == 0u && acc.x == p.magic && acc.y == p.magic) {
    dst[t] = acc;
  }
}
