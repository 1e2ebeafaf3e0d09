// Seeded fuzzing of the GGUF loader on the real llama.cpp-written file (a bounded count here;
// scripts/fuzz-gguf.mjs runs 10,000). Every mutation must end in a NibbleError or a model that
// runs, within 2 s, with no allocation larger than the mutated file (gguf-fuzz-lib.ts).
import { describe, expect, it } from 'vitest';
import { loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { mapFields, mutate, runCase, runRangedCase, trackAllocations } from './gguf-fuzz-lib.ts';
import { readProjectFile, seededRandom } from './helpers.ts';

const GGUF = readProjectFile('test/fixtures/stories260K-f32.gguf');
const CASES = 400;

describe('GGUF loader fuzzing', () => {
  it('the allocation probe sees typed-array allocations and a clean load stays under the file size', () => {
    expect(trackAllocations(() => new Float32Array(1000)).maxAlloc).toBe(4000);
    expect(trackAllocations(() => Float64Array.from([1, 2, 3])).maxAlloc).toBe(24);
    const { maxAlloc } = trackAllocations(() => loadGguf(GGUF));
    expect(maxAlloc).toBe(512 * 64 * 4); // the embedding, the largest tensor
    expect(new Float32Array(2)).toBeInstanceOf(Float32Array); // constructors restored
  });

  it(`${CASES} seeded mutations through the page's path (inspect + ranged load): typed, bounded, never refusing what loadGguf accepts`, async () => {
    const map = mapFields(GGUF);
    const rnd = seededRandom(0x7a11);
    const problems: string[] = [];
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < CASES; i++) {
      const m = mutate(GGUF, map, rnd);
      try {
        const whole = runCase(m.bytes).outcome;
        const r = await runRangedCase(m.bytes, whole);
        outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
        if (r.ms > 2000) problems.push(`case ${i} (${m.kind}): ${r.ms.toFixed(0)} ms`);
        if (r.maxAlloc > m.bytes.length)
          problems.push(`case ${i} (${m.kind}): allocated ${r.maxAlloc} bytes for a ${m.bytes.length}-byte file`);
      } catch (e) {
        problems.push(`case ${i} (${m.kind}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
    }
    expect(problems).toEqual([]);
    expect(outcomes.model).toBeGreaterThan(10);
  });

  it(`${CASES} seeded mutations: typed errors or runnable models, fast, bounded allocations`, () => {
    const map = mapFields(GGUF);
    const rnd = seededRandom(0x6775);
    const outcomes: Record<string, number> = {};
    const problems: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const m = mutate(GGUF, map, rnd);
      try {
        const r = runCase(m.bytes);
        outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
        if (r.ms > 2000) problems.push(`case ${i} (${m.kind}): ${r.ms.toFixed(0)} ms`);
        if (r.maxAlloc > m.bytes.length)
          problems.push(`case ${i} (${m.kind}): allocated ${r.maxAlloc} bytes for a ${m.bytes.length}-byte file`);
      } catch (e) {
        problems.push(`case ${i} (${m.kind}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
    }
    expect(problems).toEqual([]);
    // The mix reaches both ends: many rejections of each kind, and intact models (data-only flips).
    expect(outcomes.model).toBeGreaterThan(10);
    for (const code of ['bad-format', 'bad-dims', 'unsupported', 'truncated'])
      expect(outcomes[code], code).toBeGreaterThan(0);
  });
});
