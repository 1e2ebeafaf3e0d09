// Wrappers of the NF4 / FP4 kernels (bitsandbytes blockwise 4-bit): quant_absmax then quant_nf4.
// Bit-identical to quantizeTensor({ format: 'nf4' | 'fp4' }) without double quantization.
import { groupsFor, holds, positive } from './checks.ts';
import type { Recorder } from './recorder.ts';

export function quant4bit(
  rec: Recorder,
  a: {
    x: GPUBuffer;
    absmax: GPUBuffer;
    data: GPUBuffer;
    status: GPUBuffer;
    n: number;
    blockSize: number;
    fp4: boolean;
  },
): void {
  positive('quant4bit', ['n', a.n], ['blockSize', a.blockSize]);
  const nBlocks = Math.ceil(a.n / a.blockSize);
  const nWords = Math.ceil(a.n / 8);
  holds('quant4bit x', a.x, a.n);
  holds('quant4bit absmax', a.absmax, nBlocks);
  holds('quant4bit data', a.data, nWords);
  holds('quant4bit status', a.status, 1);
  rec.dispatch('quant_absmax', {
    buffers: [a.x, a.absmax, a.status],
    params: { n: a.n, B: a.blockSize, n_blocks: nBlocks },
    workgroups: groupsFor(rec, nBlocks),
  });
  rec.dispatch('quant_nf4', {
    constants: { FP4: a.fp4 ? 1 : 0 },
    buffers: [a.x, a.absmax, a.data],
    params: { n: a.n, B: a.blockSize, n_words: nWords },
    workgroups: groupsFor(rec, nWords),
  });
}
