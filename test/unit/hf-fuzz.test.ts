// Bounded, seeded run of the HF loader fuzzer (test/unit/hf-fuzz-core.ts); the 10,000-case run
// is `node scripts/fuzz-hf.mjs`. Every case must end in a typed NibbleError or a valid model.
import { describe, expect, it } from 'vitest';
import { fuzzHf } from './hf-fuzz-core.ts';

const COUNT = 1000;

describe('HF loader fuzz', () => {
  it(`${COUNT} seeded mutations of model.safetensors, config.json and tokenizer.json end in typed errors or valid models`, async () => {
    const s = await fuzzHf(COUNT, 20250601);
    expect(s.failures).toEqual([]);
    expect(s.runs).toBe(COUNT);
    expect(s.maxAllocRatio).toBeLessThanOrEqual(1);
    expect(s.maxMs).toBeLessThan(2000);
    // The mutations reach the validators, not just one early check.
    for (const code of ['bad-format', 'bad-dims', 'truncated', 'unsupported'])
      expect(s.errors[code] ?? 0).toBeGreaterThan(0);
    expect(s.valid).toBeGreaterThan(0);
  });
});
