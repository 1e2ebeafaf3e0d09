// An ONNX image classifier as the lab sees it: which input to feed in which layout, which output
// holds the logits, and a batched accuracy run over a data set.
//   input  float32 [N, 1, H, W] ('nchw') or [N, H, W] ('nhw'), pixels in [0, 1]
//   output float32 [N, C] logits; prediction = argmax over C
// N may be symbolic (any batch) or fixed (then every batch has that size, the last one padded).

import { NibbleError } from '../../core/errors.ts';
import type { OnnxModelInfo, OnnxValueInfo } from '../../core/formats/onnx/model.ts';
import { MAX_CLASSES, type VisionDataset } from './dataset.ts';
import type { OrtModuleLike, OrtSessionLike } from './ort.ts';

export interface ClassifierIO {
  input: string;
  output: string;
  layout: 'nchw' | 'nhw';
  fixedBatch: number | null; // the model's batch size when its first input dim is a number
  classes: number | null; // C when the output shape records it
}

const shapeText = (v: OnnxValueInfo): string =>
  v.dims ? `[${v.dims.map((d) => d ?? '?').join(', ')}]` : 'with no recorded shape';
const fits = (d: number | string | null, want: number): boolean => typeof d !== 'number' || d === want;

/** Checks that the model takes one grayscale image batch of the data set's size; throws unsupported / bad-argument. */
export function classifierIO(info: OnnxModelInfo, data: VisionDataset): ClassifierIO {
  if (info.inputs.length !== 1) {
    throw new NibbleError(
      'unsupported',
      `the model has ${info.inputs.length} inputs (${info.inputs.map((v) => v.name).join(', ')}); the lab needs an image classifier with one image input`,
    );
  }
  const inp = info.inputs[0];
  if (inp.elemType !== 1)
    throw new NibbleError(
      'unsupported',
      `input '${inp.name}' is not float32 (ONNX type ${inp.elemType}); the lab feeds float32 pixels in [0, 1]`,
    );
  const d = inp.dims;
  let layout: ClassifierIO['layout'];
  if (d && d.length === 4) {
    if (!fits(d[1], 1))
      throw new NibbleError(
        'unsupported',
        `input '${inp.name}' has shape ${shapeText(inp)}: ${d[1]} channels; the lab feeds grayscale images as [N, 1, H, W] or [N, H, W]`,
      );
    layout = 'nchw';
  } else if (d && d.length === 3) layout = 'nhw';
  else
    throw new NibbleError(
      'unsupported',
      `input '${inp.name}' has shape ${shapeText(inp)}; the lab needs [N, 1, H, W] or [N, H, W]`,
    );
  const [h, w] = d.slice(-2);
  if (!fits(h, data.height) || !fits(w, data.width)) {
    throw new NibbleError(
      'bad-argument',
      `the model takes ${h}×${w} images (input '${inp.name}' ${shapeText(inp)}) but the data set's images are ${data.height}×${data.width}`,
    );
  }
  const fixedBatch = typeof d[0] === 'number' && d[0] > 0 ? d[0] : null;
  const out = info.outputs.find((o) => o.name === 'logits') ?? info.outputs[0];
  if (!out) throw new NibbleError('unsupported', 'the model has no outputs');
  if (out.elemType !== 1)
    throw new NibbleError('unsupported', `output '${out.name}' is not float32 logits (ONNX type ${out.elemType})`);
  if (out.dims && out.dims.length !== 2)
    throw new NibbleError(
      'unsupported',
      `output '${out.name}' has shape ${shapeText(out)}; the lab needs logits [N, classes]`,
    );
  const c = out.dims?.[1];
  const classes = typeof c === 'number' ? c : null;
  if (classes !== null) checkClasses(classes, out.name, data);
  return { input: inp.name, output: out.name, layout, fixedBatch, classes };
}

function checkClasses(classes: number, output: string, data: VisionDataset): void {
  if (classes < 1 || classes > MAX_CLASSES)
    throw new NibbleError(
      'unsupported',
      `output '${output}' has ${classes} classes; the lab supports 1..${MAX_CLASSES}`,
    );
  const bad = data.labels.findIndex((l) => l >= classes);
  if (bad >= 0)
    throw new NibbleError(
      'bad-argument',
      `label ${data.labels[bad]} of image ${bad} is not one of the model's ${classes} classes`,
    );
}

/** Also checks the names against what ORT itself reports for the session. */
export function checkSessionNames(io: ClassifierIO, session: OrtSessionLike): void {
  if (!session.inputNames.includes(io.input) || !session.outputNames.includes(io.output)) {
    throw new NibbleError(
      'bad-format',
      `onnxruntime sees inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}], the file declares '${io.input}' → '${io.output}'`,
    );
  }
}

export interface ClassifyOptions {
  batchSize: number; // used when the model's batch dimension is free
  signal?: AbortSignal;
  onBatch?: (done: number, total: number) => void;
}

export interface ClassifyResult {
  predictions: Uint8Array; // [count], argmax class; 255 when every logit is NaN
  correct: number;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new NibbleError('cancelled', 'the vision evaluation was cancelled');
}

/** Runs the whole data set through the session in batches and takes argmax of the logits. */
export async function classify(
  ort: OrtModuleLike,
  session: OrtSessionLike,
  io: ClassifierIO,
  data: VisionDataset,
  opt: ClassifyOptions,
): Promise<ClassifyResult> {
  const hw = data.height * data.width;
  const batch = io.fixedBatch ?? Math.max(1, Math.min(opt.batchSize, data.count));
  const predictions = new Uint8Array(data.count);
  let correct = 0;
  for (let start = 0; start < data.count; start += batch) {
    throwIfAborted(opt.signal);
    const n = Math.min(batch, data.count - start); // real images in this batch
    const fed = io.fixedBatch ?? n; // rows fed (zero padding after the n real ones)
    const x = new Float32Array(fed * hw); // [fed, 1, H, W] or [fed, H, W]
    x.set(data.pixels.subarray(start * hw, (start + n) * hw));
    const dims = io.layout === 'nchw' ? [fed, 1, data.height, data.width] : [fed, data.height, data.width];
    const feed = new ort.Tensor('float32', x, dims);
    const outputs = await session.run({ [io.input]: feed });
    feed.dispose?.();
    const y = outputs[io.output];
    for (const t of Object.values(outputs)) if (t !== y) t.dispose?.();
    if (!y || !(y.data instanceof Float32Array) || y.dims.length !== 2 || y.dims[0] !== fed) {
      y?.dispose?.();
      throw new NibbleError(
        'unsupported',
        `output '${io.output}' came back as ${y ? `[${y.dims.join(', ')}]` : 'nothing'}; expected float32 logits [${fed}, classes]`,
      );
    }
    const classes = y.dims[1];
    if (start === 0 && io.classes === null) checkClasses(classes, io.output, data);
    const logits = y.data; // [fed, classes]
    for (let r = 0; r < n; r++) {
      const p = argmax(logits, r * classes, classes);
      predictions[start + r] = p;
      if (p === data.labels[start + r]) correct++;
    }
    y.dispose?.();
    opt.onBatch?.(start + n, data.count);
  }
  return { predictions, correct };
}

/** Index of the largest of row[off .. off+n); NaNs never win; 255 if all are NaN. */
function argmax(row: Float32Array, off: number, n: number): number {
  let best = -1;
  let bestV = -Infinity;
  for (let c = 0; c < n; c++) {
    const v = row[off + c];
    if (v > bestV || (best < 0 && v === -Infinity)) {
      best = c;
      bestV = v;
    }
  }
  return best < 0 ? MAX_CLASSES : best;
}
