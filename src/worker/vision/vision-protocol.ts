// The vision worker's protocol (the truncation lab for ONNX image classifiers, run by
// onnxruntime-web in its own worker). Same conventions as protocol.ts: a closed union of requests
// with `kind` + caller-chosen `id`; per id zero or more `progress` replies, then exactly one
// `response` or `error`; `cancel` aborts a running request (which then answers 'cancelled').
// Every message is structured-clone safe; byte payloads travel as transferred ArrayBuffers.
import type { WireError } from '../engine-host/protocol.ts';

export type TruncMode = 'truncate' | 'rne';

/** Model + labelled images. The lab rewrites the model's float weights and re-runs the images. */
export type VisionSource =
  /** Everything by URL, data as an IDX pair (the embedded ViT and MNIST digits). */
  | { kind: 'url'; name: string; dataName: string; modelUrl: string; imagesUrl: string; labelsUrl: string }
  /** A dropped model with an IDX images file (u8 [N, H, W], magic 0x803) and labels file (0x801). */
  | { kind: 'idx'; name: string; dataName: string; model: ArrayBuffer; images: ArrayBuffer; labels: ArrayBuffer }
  /**
   * A dropped model with images the page decoded to grayscale: Float32 [N, H, W] in [0, 1], their
   * file names, and the labels file's text (`name,label` lines or one label per line, in `names` order).
   */
  | {
      kind: 'images';
      name: string;
      dataName: string;
      model: ArrayBuffer;
      pixels: ArrayBuffer;
      height: number;
      width: number;
      names: string[];
      labelsText: string;
    };

export interface VisionSamples {
  indices: number[]; // which images of the data set (the first N)
  pixels: Float32Array; // [n, height, width], 0 = black … 1 = white
  labels: number[];
}

export interface VisionModelInfo {
  name: string;
  dataName: string;
  modelBytes: number;
  input: string; // input name and shape as the file declares it, e.g. "image [batch, 1, 28, 28]"
  output: string;
  classes: number | null;
  weights: number; // float weights a truncation rewrites
  tensors: number; // … in this many initializers
  untouched: number; // float constants (Constant nodes) left as they are
  images: number;
  height: number;
  width: number;
  samples: VisionSamples;
  openMs: number; // parse + first session
}

/** One evaluation: the fp32 model (k = null) or every weight cut to k fraction bits. */
export interface VisionPoint {
  k: number | null;
  mode: TruncMode | null;
  accuracy: number;
  correct: number;
  count: number;
  seconds: number; // rewrite + new session + inference, when it ran
}

export interface VisionEvaluation extends VisionPoint {
  predictions: Uint8Array; // [count] argmax class per image (255: every logit NaN)
}

export type VisionProgress =
  | { phase: 'images'; k: number | null; mode: TruncMode | null; done: number; total: number }
  | { phase: 'point'; point: VisionPoint; done: number; total: number };

export type VisionRequest =
  | { kind: 'open'; id: number; source: VisionSource; samples: number }
  | { kind: 'evaluate'; id: number; k: number | null; mode: TruncMode | null }
  | { kind: 'sweep'; id: number; modes: TruncMode[]; bits: number[] }
  | { kind: 'cancel'; id: number; target: number };

export type VisionRequestKind = VisionRequest['kind'];

export interface VisionResultMap {
  open: VisionModelInfo;
  evaluate: VisionEvaluation;
  sweep: { points: VisionPoint[] };
  cancel: { cancelled: boolean };
}

export type VisionReply =
  | {
      [K in VisionRequestKind]: { kind: 'response'; id: number; request: K; result: VisionResultMap[K] };
    }[VisionRequestKind]
  | { kind: 'progress'; id: number; progress: VisionProgress }
  | { kind: 'error'; id: number | null; error: WireError };

/** What the store talks to (the worker client; tests may pass a fake or the in-thread host). */
export interface VisionEngine {
  /** Opens a model + data set (replacing the previous one; its running jobs are cancelled). */
  open(source: VisionSource, opts?: { samples?: number }): Promise<VisionModelInfo>;
  /** k = null: the fp32 model. Cached per (k, mode) in the worker. */
  evaluate(
    k: number | null,
    mode: TruncMode | null,
    opts?: { signal?: AbortSignal; onProgress?: (p: VisionProgress) => void },
  ): Promise<VisionEvaluation>;
  /** Evaluates every (mode, k), modes outer; a point already evaluated costs nothing. */
  sweep(
    modes: TruncMode[],
    bits: number[],
    opts?: { signal?: AbortSignal; onProgress?: (p: VisionProgress) => void },
  ): Promise<{ points: VisionPoint[] }>;
  dispose(): void;
}

/** The ArrayBuffers a source carries (transferred to the worker). */
export function sourceTransfer(source: VisionSource): ArrayBuffer[] {
  switch (source.kind) {
    case 'url':
      return [];
    case 'idx':
      return [source.model, source.images, source.labels];
    case 'images':
      return [source.model, source.pixels];
  }
}
