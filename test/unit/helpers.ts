// Shared test helpers: the real shipped model files, and a seeded PRNG for random inputs.
import { readFileSync } from 'node:fs';

export const readProjectFile = (p: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
export const stories260K = (): Uint8Array => readProjectFile('public/models/stories260K.bin');
export const tok512 = (): Uint8Array => readProjectFile('public/models/tok512.bin');

/** mulberry32: small seeded PRNG for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
