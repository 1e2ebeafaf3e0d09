// Shape checks shared by every kernel wrapper (kernels.ts, matmul-quant.ts, quant-*.ts): a wrong
// size fails here with a NibbleError 'bad-argument' instead of reading garbage on the GPU.
import { NibbleError } from '../core/errors.ts';
import type { Recorder } from './recorder.ts';

export const fail = (msg: string): never => {
  throw new NibbleError('bad-argument', msg);
};

export function positive(what: string, ...dims: [string, number][]): void {
  for (const [name, v] of dims) {
    if (!Number.isInteger(v) || v < 1) fail(`${what}: ${name} must be a positive integer, got ${v}`);
  }
}

/** Checks that `buf` holds at least `words` 32-bit values. */
export function holds(what: string, buf: GPUBuffer, words: number): void {
  if (buf.size < words * 4) fail(`${what}: buffer ${buf.label || '?'} has ${buf.size} bytes, needs ${words * 4}`);
}

/** Workgroups of `size` threads covering `threads` threads, as an (x, y) grid. */
export const groupsFor = (rec: Pick<Recorder, 'grid'>, threads: number, size = 64): [number, number] =>
  rec.grid(Math.ceil(threads / size));
