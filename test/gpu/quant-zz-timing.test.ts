import { beforeAll, it } from 'vitest';
import { GPTQ_DEFAULTS, HessianAccumulator, gptqQuantize } from '../../src/core/gptq.ts';
import { packInt8Rows, quantizeRowsInt8 } from '../../src/core/llmint8.ts';
import { roundArrayToFloat } from '../../src/core/quant/float-formats.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor } from '../../src/core/tensor.ts';
import { GpuQuantizer } from '../../src/engine/gpu-quantize.ts';
import { gpuContext, randomF32, rng } from './setup-device.ts';

let gq: GpuQuantizer;
beforeAll(async () => { gq = new GpuQuantizer(await gpuContext()); });
async function time(label: string, f: () => unknown, reps = 3) {
  await f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); await f(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log(`${label}: ${ts[Math.floor(reps / 2)].toFixed(1)} ms`);
}
it('timings', async () => {
  const rand = rng(1);
  const [R, C] = [512, 1024];
  const w = f32Tensor([R, C], randomF32(rand, R * C, 0.1));
  await time('rtn q4 g128 512x1024 GPU', () => gq.quantizeTensor(w, { format: 'q4', group: 128 }));
  await time('rtn q4 g128 512x1024 CPU', () => quantizeTensor(w, { format: 'q4', group: 128 }));
  await time('rtn q3 row 512x1024 GPU', () => gq.quantizeTensor(w, { format: 'q3' }));
  await time('nf4 512x1024 GPU', () => gq.quantizeTensor(w, { format: 'nf4' }));
  await time('nf4 512x1024 CPU', () => quantizeTensor(w, { format: 'nf4' }));
  await time('int8 rows 512x1024 GPU', () => gq.int8Rows(w, 6));
  await time('int8 rows 512x1024 CPU', () => packInt8Rows(quantizeRowsInt8(w.data, R, C), R, C, 6));
  await time('fp8e4m3 512K GPU', () => gq.roundToFloat(w.data, 'fp8e4m3'));
  await time('fp8e4m3 512K CPU', () => roundArrayToFloat(w.data, 'fp8e4m3'));
  const K = 512, T = 256, rows = 256;
  const X = randomF32(rand, T * K, 1);
  const acc = new HessianAccumulator(K);
  await time('hessian add K=512 T=256 CPU', () => { const a = new HessianAccumulator(K); a.add(X, T); }, 1);
  acc.add(X, T);
  await time('hessian add K=512 T=256 GPU (+read)', async () => { const h = gq.hessian(K); h.add(X, T); await h.read(); h.destroy(); }, 1);
  const W = randomF32(rand, rows * K, 0.1);
  const o = { ...GPTQ_DEFAULTS, bits: 4, group: 128 };
  await time('gptq 256x512 g128 CPU', () => gptqQuantize(W, rows, K, acc.H, o), 1);
  await time('gptq 256x512 g128 GPU', () => gq.gptq(W, rows, K, acc.H, o), 1);
  console.log('dispatches so far', gq.dispatches);
}, 600_000);
