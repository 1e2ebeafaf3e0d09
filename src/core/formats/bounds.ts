// One set of bounds for every model format (llama2.c, .nibble, GGUF, HF): what one loader
// accepts, every writer can save and every loader reads back. Beyond them a header is corrupt,
// not a model this app can run. The HF config reader (hf/config.ts) states the same values.
export const MODEL_BOUNDS = {
  dim: 1 << 16,
  layers: 1024,
  heads: 1024,
  vocab: 1 << 20,
  context: 1 << 24, // positions a file may declare; the context run is chosen separately
  tokenBytes: 1 << 16, // longest token piece (llama2.c max_token_length)
} as const;

/** RMSNorm epsilon: a finite number in the open interval (0, 1) in every format. */
export const isNormEps = (x: unknown): x is number => typeof x === 'number' && x > 0 && x < 1;
