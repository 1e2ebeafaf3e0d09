// Vision data sets (IDX pair, decoded images, labels files) and the model-vs-data checks that
// give a user-dropped classifier a clear error. No onnxruntime here: see vision-lab.test.ts.
import { describe, expect, it } from 'vitest';
import type { OnnxModelInfo, OnnxValueInfo } from '../../src/core/formats/onnx/model.ts';
import { classifierIO } from '../../src/engine/vision/classifier.ts';
import {
  datasetFromIdx,
  datasetFromImages,
  parseLabelsText,
  type VisionDataset,
} from '../../src/engine/vision/dataset.ts';
import { readProjectFile, codeOf } from './helpers.ts';

describe('data sets', () => {
  it('the MNIST pair: 2,000 images scaled to [0, 1]', () => {
    const images = readProjectFile('public/data/mnist-heldout-images.idx3');
    const d = datasetFromIdx(images, readProjectFile('public/data/mnist-heldout-labels.idx1'));
    expect([d.count, d.height, d.width, d.pixels.length, d.labels.length]).toEqual([2000, 28, 28, 2000 * 784, 2000]);
    expect(d.pixels[300]).toBe(Math.fround(images[16 + 300] / 255));
    expect(Math.max(...d.pixels.subarray(0, 784))).toBe(1);
  });

  it('rejects a pair whose counts differ', () => {
    const images = readProjectFile('public/data/mnist-heldout-images.idx3');
    const labels = readProjectFile('public/data/mnist-heldout-labels.idx1').slice(0, 8 + 1999);
    new DataView(labels.buffer).setUint32(4, 1999);
    expect(() => datasetFromIdx(images, labels)).toThrow(/2000 images but the labels file has 1999/);
  });

  it('decoded images: one array per image or one packed array', () => {
    const a = new Float32Array([0, 0.5, 1, 0.25]);
    const b = new Float32Array([1, 1, 0, 0]);
    const d = datasetFromImages([a, b], { height: 2, width: 2 }, [3, 1]);
    expect([d.count, Array.from(d.pixels), Array.from(d.labels)]).toEqual([2, [0, 0.5, 1, 0.25, 1, 1, 0, 0], [3, 1]]);
    expect(datasetFromImages(d.pixels, { height: 2, width: 2 }, [3, 1]).count).toBe(2);
    expect(codeOf(() => datasetFromImages([a, new Float32Array(3)], { height: 2, width: 2 }, [0, 0]))).toBe(
      'bad-argument',
    );
    expect(() => datasetFromImages([new Float32Array([0, 2, 0, 0])], { height: 2, width: 2 }, [0])).toThrow(
      /outside \[0, 1\]/,
    );
    expect(() => datasetFromImages([a], { height: 2, width: 2 }, [0, 1])).toThrow(/1 images but 2 labels/);
    expect(() => datasetFromImages([a], { height: 2, width: 2 }, [1.5])).toThrow(/class index/);
    expect(() => datasetFromImages([], { height: 2, width: 2 }, [])).toThrow(/no images/);
  });

  it('labels files: name,label with a header, or one label per line', () => {
    const names = ['digits/b.png', 'a.png', 'c.png'];
    expect(Array.from(parseLabelsText('filename,label\na.png,7\r\nb.png,3\n\n# note\nc.png, 0\n', names))).toEqual([
      3, 7, 0,
    ]);
    expect(Array.from(parseLabelsText('a.png\t1\nb.png\t2\nc.png\t9', names))).toEqual([2, 1, 9]);
    expect(Array.from(parseLabelsText('"my digit.png",4\n', ['my digit.png']))).toEqual([4]);
    expect(Array.from(parseLabelsText('5\n6\n7\n', names))).toEqual([5, 6, 7]);
    expect(() => parseLabelsText('a.png,1\nb.png,2\n', names)).toThrow(/no label for image 'c.png'/);
    expect(() => parseLabelsText('5\n6\n', names)).toThrow(/2 labels for 3 images/);
    expect(codeOf(() => parseLabelsText('5\nx\n7\n', names))).toBe('bad-format');
    expect(() => parseLabelsText('a.png,1\nb.png,-2\nc.png,3', names)).toThrow(/line 2/);
  });
});

describe('does the model fit the data?', () => {
  const data: VisionDataset = {
    count: 3,
    height: 28,
    width: 28,
    pixels: new Float32Array(3 * 784),
    labels: new Uint8Array([0, 9, 4]),
  };
  const vi = (name: string, dims: OnnxValueInfo['dims'], elemType: number | null = 1): OnnxValueInfo => ({
    name,
    elemType,
    dims,
  });
  const info = (inputs: OnnxValueInfo[], outputs: OnnxValueInfo[] = [vi('logits', ['batch', 10])]): OnnxModelInfo => ({
    irVersion: 7,
    producer: '',
    opsets: [],
    inputs,
    outputs,
    floatTensors: [],
    otherTensors: 0,
  });

  it('accepts [N,1,H,W] and [N,H,W], symbolic or fixed batch, and prefers an output named logits', () => {
    expect(classifierIO(info([vi('image', ['batch', 1, 28, 28])]), data)).toEqual({
      input: 'image',
      output: 'logits',
      layout: 'nchw',
      fixedBatch: null,
      classes: 10,
    });
    expect(classifierIO(info([vi('x', [1, 28, 28])], [vi('prob', [1, 10]), vi('logits', [1, 10])]), data)).toEqual({
      input: 'x',
      output: 'logits',
      layout: 'nhw',
      fixedBatch: 1,
      classes: 10,
    });
    expect(classifierIO(info([vi('x', [null, 'c', 'h', 'w'])], [vi('y', null)]), data)).toEqual({
      input: 'x',
      output: 'y',
      layout: 'nchw',
      fixedBatch: null,
      classes: null,
    });
  });

  it('says what is wrong with a model that does not fit', () => {
    const cases: Array<[OnnxModelInfo, string, RegExp]> = [
      [
        info([vi('image', ['N', 3, 28, 28])]),
        'unsupported',
        /3 channels; the lab feeds grayscale images as \[N, 1, H, W\] or \[N, H, W\]/,
      ],
      [info([vi('image', ['N', 1, 32, 32])]), 'bad-argument', /takes 32×32 images .* data set's images are 28×28/],
      [info([vi('image', ['N', 784])]), 'unsupported', /shape \[N, 784\]; the lab needs \[N, 1, H, W\] or \[N, H, W\]/],
      [info([vi('image', null)]), 'unsupported', /with no recorded shape/],
      [info([vi('image', ['N', 1, 28, 28], 2)]), 'unsupported', /not float32 \(ONNX type 2\)/],
      [info([vi('a', ['N', 28, 28]), vi('b', ['N'])]), 'unsupported', /2 inputs \(a, b\)/],
      [info([vi('image', ['N', 28, 28])], [vi('logits', ['N', 10, 1])]), 'unsupported', /logits \[N, classes\]/],
      [
        info([vi('image', ['N', 28, 28])], [vi('logits', ['N', 5])]),
        'bad-argument',
        /label 9 of image 1 is not one of the model's 5 classes/,
      ],
      [info([vi('image', ['N', 28, 28])], [vi('logits', ['N', 1000])]), 'unsupported', /1000 classes/],
      [info([vi('image', ['N', 28, 28])], []), 'unsupported', /no outputs/],
    ];
    for (const [m, code, msg] of cases) {
      expect(codeOf(() => classifierIO(m, data))).toBe(code);
      expect(() => classifierIO(m, data)).toThrow(msg);
    }
  });
});
