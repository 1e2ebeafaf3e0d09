// IDX reader: the shipped MNIST held-out pair, and every way a header can lie.
import { describe, expect, it } from 'vitest';
import { readIdx, readIdxImages, readIdxLabels } from '../../src/core/formats/idx.ts';
import { readProjectFile, codeOf } from './helpers.ts';

const images = readProjectFile('public/data/mnist-heldout-images.idx3');
const labels = readProjectFile('public/data/mnist-heldout-labels.idx1');

/** A u8 IDX file with the given dims and data. */
function idx(dims: number[], data: Uint8Array, type = 0x08): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(b.buffer);
  b[2] = type;
  b[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d)); // big-endian
  b.set(data, 4 + 4 * dims.length);
  return b;
}

describe('MNIST held-out files', () => {
  it('2,000 images of 28×28 and 2,000 labels 0..9, as views without copies', () => {
    const im = readIdxImages(images);
    expect([im.count, im.rows, im.cols]).toEqual([2000, 28, 28]);
    expect(im.pixels.length).toBe(2000 * 784);
    expect(im.pixels.buffer).toBe(images.buffer);
    expect(Math.max(...im.pixels.subarray(0, 784))).toBe(255); // ink in the first digit
    const lab = readIdxLabels(labels);
    expect(lab.length).toBe(2000);
    const counts = new Array(10).fill(0);
    for (const l of lab) counts[l]++;
    expect(counts.every((c) => c > 150 && c < 260)).toBe(true); // every digit present, roughly balanced
  });
});

describe('damaged or wrong IDX files', () => {
  it('rejects wrong magic, swapped files and non-byte data', () => {
    expect(codeOf(() => readIdxImages(labels))).toBe('bad-format'); // a labels file given as images
    expect(() => readIdxLabels(images)).toThrow(/images file/);
    expect(codeOf(() => readIdxImages(new TextEncoder().encode('PK\x03\x04zipzipzip')))).toBe('bad-format');
    expect(codeOf(() => readIdx(idx([4], new Uint8Array(16), 0x0d)))).toBe('unsupported'); // float IDX
    expect(codeOf(() => readIdx(idx([], new Uint8Array(0))))).toBe('bad-dims');
  });

  it('rejects headers and data that do not fit the bytes', () => {
    expect(codeOf(() => readIdxImages(images.subarray(0, 3)))).toBe('truncated');
    expect(codeOf(() => readIdxImages(images.subarray(0, 10)))).toBe('truncated'); // dims cut off
    expect(codeOf(() => readIdxImages(images.subarray(0, images.length - 1)))).toBe('truncated');
    expect(codeOf(() => readIdxLabels(labels.subarray(0, 1000)))).toBe('truncated');
    const lying = idx([0xffffffff, 0xffffffff, 0xffffffff], new Uint8Array(8)); // 2^96 pixels claimed
    expect(codeOf(() => readIdxImages(lying))).toBe('truncated');
    const extra = new Uint8Array(labels.length + 3);
    extra.set(labels);
    expect(codeOf(() => readIdxLabels(extra))).toBe('bad-format');
    expect(codeOf(() => readIdxImages(idx([2, 0, 28], new Uint8Array(0))))).toBe('bad-dims');
  });

  it('reads a small hand-made pair exactly', () => {
    const im = readIdxImages(idx([2, 2, 3], new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])));
    expect([im.count, im.rows, im.cols]).toEqual([2, 2, 3]);
    expect(Array.from(im.pixels)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(Array.from(readIdxLabels(idx([3], new Uint8Array([7, 0, 9]))))).toEqual([7, 0, 9]);
  });
});
