#!/usr/bin/env node
// Seeded value fuzzing: N cases (default 2,000) of a small model with one poisoned value (NaN,
// ±Inf, a denormal, a huge finite weight, −0) in a weight or a quantized scale, saved as llama2.c,
// GGUF f32/Q8_0 or .nibble (f32, q4 with f16 scales), through load → generate with sampling →
// eval against the clean model → export (.nibble, GGUF) → reload. The cases and checks live in
// test/unit/hostile-fuzz-values-lib.ts (npm test runs a bounded count of the same cases).
//   node scripts/fuzz-values.mjs [--count N] [--seed S] [--json]
// Exit 0 when every case passes, 1 otherwise (the failing cases are listed).
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
const { randomCase, runValueCase } = await import('../test/unit/hostile-fuzz-values-lib.ts');
const { seededRandom } = await import('../test/unit/helpers.ts');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const count = arg('count', 2000);
const seed = arg('seed', 0x7a1);
const rnd = seededRandom(seed);

const outcomes = {};
const byPoison = {};
const failures = [];
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  const c = randomCase(rnd);
  let outcome;
  try {
    outcome = await runValueCase(c);
    if (!Number.isFinite(c.poison) && outcome !== 'refused-at-load')
      failures.push({ case: i, ...c, poison: String(c.poison), problem: `non-finite value ${outcome}` });
  } catch (e) {
    outcome = 'BROKEN';
    failures.push({ case: i, ...c, poison: String(c.poison), problem: String(e?.message ?? e).slice(0, 300) });
  }
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  const k = `${c.format} ${String(c.poison)}`;
  byPoison[k] = { ...(byPoison[k] ?? {}), [outcome]: (byPoison[k]?.[outcome] ?? 0) + 1 };
}
const report = { count, seed, seconds: (performance.now() - t0) / 1000, outcomes, byPoison, failures };
if (process.argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`fuzz-values: ${count} cases (seed ${seed}) in ${report.seconds.toFixed(1)} s`);
  console.log(`outcomes: ${JSON.stringify(outcomes)}`);
  for (const f of failures.slice(0, 20)) console.log(`FAIL ${JSON.stringify(f)}`);
  console.log(failures.length === 0 ? 'all cases passed' : `${failures.length} cases failed`);
}
process.exit(failures.length === 0 ? 0 : 1);
