import { it } from 'vitest';
import * as k from '../../src/gpu/kernels.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { gpuContext, upload, zeros, randomF32, rng } from './setup-device.ts';
import { readF32 } from '../../src/gpu/buffers.ts';
it('prof', async () => {
  for (const opts of [{}, { disableSubgroups: true }]) {
  const ctx = await gpuContext(opts);
  const r = rng(1);
  const time = async (name: string, f: (rec: Recorder) => void, reps = 20) => {
    const rec = new Recorder(ctx);
    f(rec); rec.submit(); await ctx.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f(rec);
    rec.submit(); await ctx.device.queue.onSubmittedWorkDone();
    console.log(JSON.stringify(opts), name, ((performance.now() - t0) / reps).toFixed(3), 'ms');
  };
  const w = (n: number, kk: number) => ({ format: 'f32' as const, n, k: kk, data: upload(ctx, randomF32(r, n * kk)) });
  const x = upload(ctx, randomF32(r, 4096)); const out = zeros(ctx, 4096); const g = upload(ctx, randomF32(r, 512));
  await time('empty submit', () => {}, 1);
  await time('gemv 128x64 rms', (rec) => k.matmul(rec, { x, w: w(128, 64), out, M: 1, prologue: { kind: 'rmsnorm', weight: g, eps: 1e-5 } }));
  await time('gemv 64x64', (rec) => k.matmul(rec, { x, w: w(64, 64), out, M: 1, accumulate: true }));
  await time('gemv 344x64 rms', (rec) => k.matmul(rec, { x, w: w(344, 64), out, M: 1, prologue: { kind: 'rmsnorm', weight: g, eps: 1e-5 } }));
  await time('gemv 64x172 swiglu', (rec) => k.matmul(rec, { x, w: w(64, 172), out, M: 1, prologue: { kind: 'swiglu' } }));
  await time('gemv 512x64 rms', (rec) => k.matmul(rec, { x, w: w(512, 64), out, M: 1, prologue: { kind: 'rmsnorm', weight: g, eps: 1e-5 } }));
  const kc = upload(ctx, randomF32(r, 512 * 32)); const vc = upload(ctx, randomF32(r, 512 * 32)); const tab = upload(ctx, k.ropeTable(512, 8, 10000));
  const qkv = upload(ctx, randomF32(r, 128));
  await time('rope', (rec) => k.rope(rec, { qkv, kcache: kc, vcache: vc, table: tab, M: 1, pos0: 100, nHeads: 8, nKv: 4, hs: 8, stride: 128, kOff: 64, vOff: 96, style: 'interleaved' }));
  await time('attention pos 100', (rec) => k.attention(rec, { q: qkv, qStride: 128, kcache: kc, vcache: vc, out, M: 1, pos0: 100, nHeads: 8, nKv: 4, hs: 8 }));
  await time('attention pos 400', (rec) => k.attention(rec, { q: qkv, qStride: 128, kcache: kc, vcache: vc, out, M: 1, pos0: 400, nHeads: 8, nKv: 4, hs: 8 }));
  await time('argmax 512', (rec) => k.argmax(rec, { x, n: 512, out }));
  const tokens = upload(ctx, new Uint32Array([3]));
  await time('embed', (rec) => k.embed(rec, { tokens, tokOff: 0, table: x, out, M: 1, dim: 64, vocab: 64 }));
  }
});
