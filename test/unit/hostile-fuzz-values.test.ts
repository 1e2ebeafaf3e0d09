// A bounded count of the value fuzzer's cases (scripts/fuzz-values.mjs runs thousands): NaN/Inf/
// denormal/huge weights and scales through load → generate → eval → export → reload, every
// outcome typed; non-finite weights are refused at load, finite ones run or fail typed.
import { describe, expect, it } from 'vitest';
import { seededRandom } from './helpers.ts';
import { randomCase, runValueCase, type Outcome } from './hostile-fuzz-values-lib.ts';

describe('value fuzzing', () => {
  it('60 seeded cases: every outcome typed, non-finite values never reach the sampler', async () => {
    const rnd = seededRandom(0x7a1);
    const seen: Record<Outcome, number> = {
      'refused-at-load': 0,
      'refused-at-generate': 0,
      'refused-at-eval': 0,
      ran: 0,
    };
    for (let i = 0; i < 60; i++) {
      const c = randomCase(rnd);
      const o = await runValueCase(c);
      seen[o]++;
      if (Number.isNaN(c.poison) || !Number.isFinite(c.poison)) expect(o, JSON.stringify(c)).toBe('refused-at-load');
    }
    expect(seen['refused-at-load']).toBeGreaterThan(5);
    expect(seen.ran).toBeGreaterThan(5);
  }, 120_000);
});
