// Shared test helpers: the real shipped model files, and a seeded PRNG for random inputs.
import { readFileSync } from 'node:fs';
import { isNibbleError } from '../../src/core/errors.ts';
import { mulberry32 } from '../../src/core/random.ts';

export const readProjectFile = (p: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
export const stories260K = (): Uint8Array => readProjectFile('public/models/stories260K.bin');
export const tok512 = (): Uint8Array => readProjectFile('public/models/tok512.bin');

export const seededRandom = mulberry32;

/** stories260K's header (dims llama2.c's run.c reads; headSize = dim / nHeads). */
export const STORIES260K_CONFIG = {
  dim: 64,
  hiddenDim: 172,
  nLayers: 5,
  nHeads: 8,
  nKvHeads: 4,
  vocabSize: 512,
  seqLen: 512,
  headSize: 8,
} as const;

/** The NibbleError code `f` throws, or 'ok' when it returns; any other throw fails the test. */
export const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!isNibbleError(e)) throw e;
    return e.code;
  }
};

/** The embedded model and texts as the page fetches them (an in-thread engine's fetchBytes). */
export const storiesFiles = (): Record<string, Uint8Array> => ({
  '/models/stories260K.bin': stories260K(),
  '/models/tok512.bin': tok512(),
  '/calib.txt': readProjectFile('public/data/tinystories-calib.txt'),
  '/eval.txt': readProjectFile('public/data/tinystories-eval.txt'),
});
export const STORIES_SOURCE = {
  kind: 'url',
  name: 'stories260K',
  modelUrl: '/models/stories260K.bin',
  tokenizerUrl: '/models/tok512.bin',
} as const;
