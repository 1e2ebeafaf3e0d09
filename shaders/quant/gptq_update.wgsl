// gptq_update — GPTQ's lazy batch update after a block of columns s1 .. s1 + cnt − 1:
//   W[:, s2:] −= Err · U[s1 : s2, s2:],  s2 = s1 + cnt,  Err (rows, cnt) from gptq_block
// a tiled GEMM over the (rows, cols − s2) right part of W.
//
// Bindings (group 0):
//   0 uniform  Params {rows, cols, s1, cnt}
//   1 read     err: array<f32>   (rows, 128), columns < cnt used
//   2 read     U:   array<f32>   (cols, cols)
//   3 rw       W:   array<f32>   (rows, cols)
// Dispatch: (ceil((cols − s2) / 32), ceil(rows / 32)) workgroups of 16×16 threads; workgroup
// (bx, by) owns rows by·32.., columns s2 + bx·32..; thread (tx, ty) owns (ty + 16i, tx + 16j).
// cnt is walked 16 at a time through workgroup memory, zero-filled past rows, cnt and cols.

const TILE = 32u;
const TK = 16u;
const BI = 128u;

var<workgroup> es: array<f32, TILE * TK>; // (32 rows, 16 k)
var<workgroup> us: array<f32, TK * TILE>; // (16 k, 32 cols)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let s2 = p.s1 + p.cnt;
  let r0 = wid.y * TILE;
  let c0 = s2 + wid.x * TILE;
  let lid = l.y * 16u + l.x;
  var acc: array<f32, 4>;
  for (var k0 = 0u; k0 < p.cnt; k0 += TK) {
    for (var e = lid; e < TILE * TK; e += 256u) {
      let r = e / TK;
      let k = k0 + e % TK;
      var ev = 0.0;
      if (r0 + r < p.rows && k < p.cnt) {
        ev = err[(r0 + r) * BI + k];
      }
      es[e] = ev;
      let kk = k0 + e / TILE;
      let c = c0 + e % TILE;
      var uv = 0.0;
      if (kk < p.cnt && c < p.cols) {
        uv = U[(p.s1 + kk) * p.cols + c];
      }
      us[e] = uv;
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let a0 = es[l.y * TK + k];
      let a1 = es[(l.y + 16u) * TK + k];
      let b0 = us[k * TILE + l.x];
      let b1 = us[k * TILE + l.x + 16u];
      acc[0] += a0 * b0;
      acc[1] += a0 * b1;
      acc[2] += a1 * b0;
      acc[3] += a1 * b1;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 2u; i++) {
    for (var j = 0u; j < 2u; j++) {
      let r = r0 + l.y + 16u * i;
      let c = c0 + l.x + 16u * j;
      if (r < p.rows && c < p.cols) {
        W[r * p.cols + c] -= acc[i * 2u + j];
      }
    }
  }
}
