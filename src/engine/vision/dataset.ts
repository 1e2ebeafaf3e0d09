// Labelled grayscale images for the vision lab, from an IDX pair or from images the UI decoded.
// Pure TypeScript: decoding PNG/JPEG needs the DOM (createImageBitmap + canvas), so the UI turns a
// folder of images into grayscale Float32Arrays in [0, 1] and hands them to `datasetFromImages`.

import { NibbleError } from '../../core/errors.ts';
import { readIdxImages, readIdxLabels } from '../../core/formats/idx.ts';

/** At most 255 classes: prediction 255 means "no prediction" (every logit NaN). */
export const MAX_CLASSES = 255;

export interface VisionDataset {
  count: number;
  height: number;
  width: number;
  pixels: Float32Array; // [count, height, width], row-major, 0 = black … 1 = white
  labels: Uint8Array; // [count], class index < MAX_CLASSES
}

/** The MNIST IDX pair: images u8 [count, rows, cols] scaled by 1/255; labels u8 [count]. */
export function datasetFromIdx(imagesFile: Uint8Array, labelsFile: Uint8Array): VisionDataset {
  const img = readIdxImages(imagesFile);
  const labels = readIdxLabels(labelsFile);
  if (labels.length !== img.count) {
    throw new NibbleError(
      'bad-argument',
      `the images file has ${img.count} images but the labels file has ${labels.length} labels`,
    );
  }
  const pixels = new Float32Array(img.pixels.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = img.pixels[i] / 255;
  checkLabels(labels);
  return { count: img.count, height: img.rows, width: img.cols, pixels, labels: labels.slice() };
}

/**
 * Images already decoded to grayscale: each a Float32Array [height × width] in [0, 1] (or one
 * Float32Array [count, height, width]); labels in the same order.
 */
export function datasetFromImages(
  images: readonly Float32Array[] | Float32Array,
  size: { height: number; width: number },
  labels: ArrayLike<number>,
): VisionDataset {
  const { height, width } = size;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new NibbleError('bad-argument', `image size ${height}×${width} is not a positive integer size`);
  }
  const hw = height * width;
  let pixels: Float32Array;
  if (images instanceof Float32Array) {
    if (images.length % hw !== 0) {
      throw new NibbleError(
        'bad-argument',
        `${images.length} pixels are not a whole number of ${height}×${width} images`,
      );
    }
    pixels = images.slice();
  } else {
    pixels = new Float32Array(images.length * hw);
    images.forEach((im, i) => {
      if (im.length !== hw)
        throw new NibbleError(
          'bad-argument',
          `image ${i} has ${im.length} pixels; every image must be ${height}×${width} = ${hw}`,
        );
      pixels.set(im, i * hw);
    });
  }
  const count = pixels.length / hw;
  if (labels.length !== count) throw new NibbleError('bad-argument', `${count} images but ${labels.length} labels`);
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i];
    if (!(v >= 0 && v <= 1)) {
      throw new NibbleError(
        'bad-argument',
        `image ${Math.floor(i / hw)}: pixel value ${v} is outside [0, 1] (scale 8-bit grayscale by 1/255)`,
      );
    }
  }
  const lab = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= MAX_CLASSES)
      throw new NibbleError('bad-argument', `label ${l} of image ${i} is not a class index 0..${MAX_CLASSES - 1}`);
    lab[i] = l;
  }
  if (count === 0) throw new NibbleError('bad-argument', 'the data set has no images');
  return { count, height, width, pixels, labels: lab };
}

function checkLabels(labels: Uint8Array): void {
  if (labels.length === 0) throw new NibbleError('bad-argument', 'the data set has no images');
  const bad = labels.findIndex((l) => l >= MAX_CLASSES);
  if (bad >= 0)
    throw new NibbleError(
      'bad-argument',
      `label ${labels[bad]} of image ${bad}: at most ${MAX_CLASSES} classes are supported`,
    );
}

/**
 * A labels file for a folder of images, in one of two forms:
 * - `name,label` (or `name<TAB>label`, `name label`) per line, optional header line: labels for
 *   `imageNames` (the files' names, path-less), matched by name;
 * - one integer label per line: labels in the order of `imageNames` (the UI sorts the folder).
 * Blank lines and lines starting with `#` are skipped. Returns labels in `imageNames` order.
 */
export function parseLabelsText(text: string, imageNames: readonly string[]): Uint8Array {
  const lines = text
    .split(/\r?\n/)
    .map((l, i) => ({ n: i + 1, s: l.trim() }))
    .filter((l) => l.s !== '' && !l.s.startsWith('#'));
  const out = new Uint8Array(imageNames.length);
  const label = (s: string, line: number): number => {
    const v = Number(s);
    if (!/^\d+$/.test(s) || v >= MAX_CLASSES)
      throw new NibbleError(
        'bad-format',
        `labels file line ${line}: '${s}' is not a class index 0..${MAX_CLASSES - 1}`,
      );
    return v;
  };
  const paired = lines.some((l) => /[,\t ]/.test(l.s));
  if (!paired) {
    if (lines.length !== imageNames.length)
      throw new NibbleError(
        'bad-argument',
        `the labels file has ${lines.length} labels for ${imageNames.length} images`,
      );
    lines.forEach((l, i) => {
      out[i] = label(l.s, l.n);
    });
    return out;
  }
  const byName = new Map<string, number>();
  lines.forEach((l, i) => {
    const cut = l.s.search(/[,\t ]\s*[^,\t ]*$/);
    const name = cut > 0 ? l.s.slice(0, cut).trim().replace(/^"|"$/g, '') : '';
    const value = cut > 0 ? l.s.slice(cut + 1).trim() : l.s;
    if (i === 0 && !/^\d+$/.test(value)) return; // header such as "filename,label"
    if (!name) throw new NibbleError('bad-format', `labels file line ${l.n}: expected 'name,label', got '${l.s}'`);
    byName.set(baseName(name), label(value, l.n));
  });
  imageNames.forEach((name, i) => {
    const v = byName.get(baseName(name));
    if (v === undefined) throw new NibbleError('bad-argument', `the labels file has no label for image '${name}'`);
    out[i] = v;
  });
  return out;
}

const baseName = (p: string): string => p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
