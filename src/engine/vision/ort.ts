// The part of the onnxruntime-web module the vision lab uses. The host passes its own module in
// (`import * as ort from 'onnxruntime-web'`): the browser worker gets the Vite-bundled build, Node
// tests the package's Node build. The real module satisfies this interface structurally, and the
// engine never imports onnxruntime-web itself, so it stays free of Node- or DOM-only code.
//
// Configure the module before the first session, in the host:
//   ort.env.wasm.numThreads = 1;                    // tests / CI; the browser may use more
//   ort.env.wasm.wasmPaths = '/ort/' (or a file URL) // only where the default lookup fails

export interface OrtTensorLike {
  readonly data: unknown; // Float32Array for float32 outputs
  readonly dims: readonly number[];
  dispose?(): void;
}

export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}

/** Session options passed through to `InferenceSession.create` (e.g. executionProviders). */
export interface OrtSessionOptions {
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface OrtModuleLike {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSessionLike> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;
}
