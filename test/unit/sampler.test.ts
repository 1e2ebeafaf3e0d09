import { describe, expect, it } from 'vitest';
import { Rng, Sampler, sampleTopP, softmaxInPlace } from '../../src/core/model/sampler.ts';
import { seededRandom } from './helpers.ts';

describe('sampler', () => {
  it('xorshift64* matches run.c random_u32 (values from an independent Python model)', () => {
    const r = new Rng(42);
    expect([r.nextU32(), r.nextU32(), r.nextU32(), r.nextU32(), r.nextU32()]).toEqual([
      1456360119, 3359763283, 3393612768, 4054632243, 3283045847,
    ]);
  });

  it('greedy picks the first maximum', () => {
    const s = new Sampler({ temperature: 0, topP: 0.9, seed: 1 });
    expect(s.sample(Float32Array.from([0.1, 3, -1, 3]))).toBe(1);
  });

  it('top-p only ever draws from the nucleus', () => {
    const p = Float32Array.from([0.5, 0.3, 0.1, 0.05, 0.05]);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(sampleTopP(p, 0.75, i / 1000));
    expect([...seen].sort()).toEqual([0, 1]); // 0.5 + 0.3 > 0.75: the nucleus is {0, 1}
  });

  it('sampling frequencies follow softmax(logits / T)', () => {
    const logits = [1, 2, 0.5, -1];
    const T = 0.7;
    const expected = Float32Array.from(logits.map((l) => l / T));
    softmaxInPlace(expected);
    const s = new Sampler({ temperature: T, topP: 1, seed: 7 });
    const counts = new Array(4).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[s.sample(Float32Array.from(logits))]++;
    for (let i = 0; i < 4; i++) expect(Math.abs(counts[i] / n - expected[i])).toBeLessThan(0.015);
  });

  it('is reproducible for a seed', () => {
    const rnd = seededRandom(3);
    const logits = Array.from({ length: 64 }, () => rnd() * 4);
    const draw = (seed: number) => {
      const s = new Sampler({ temperature: 1, topP: 0.9, seed });
      return Array.from({ length: 50 }, () => s.sample(Float32Array.from(logits)));
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });
});
