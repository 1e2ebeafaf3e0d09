#!/usr/bin/env node
// Full fuzz run of the HF loader: `node scripts/fuzz-hf.mjs [count=10000] [seed=1]`.
// Mutates the stories260K-hf fixture (model.safetensors, config.json, tokenizer.json) and loads
// each variant; prints a summary and exits 1 if any case ended in something other than a typed
// NibbleError or a valid model (an untyped exception, a load over 2 s, an allocation larger
// than the largest file). The bounded version runs in `npm test` (test/unit/hf-fuzz.test.ts).
import { register } from 'tsx/esm/api';

register();
const { fuzzHf } = await import('../test/unit/hf-fuzz-core.ts');

const count = Number(process.argv[2] ?? 10000);
const seed = Number(process.argv[3] ?? 1);
const t0 = Date.now();
const s = await fuzzHf(count, seed, (i) => {
  if ((i + 1) % 1000 === 0) process.stderr.write(`  ${i + 1}/${count}\n`);
});
const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
console.log(`HF loader fuzz: ${s.runs} cases, seed ${seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`  valid models:  ${s.valid}`);
console.log(`  typed errors:  ${JSON.stringify(sorted(s.errors))}`);
for (const [code, msg] of Object.entries(sorted(s.samples))) console.log(`    e.g. ${code}: ${msg.slice(0, 150)}`);
console.log(`  mutations:     ${JSON.stringify(sorted(s.byMutation))}`);
console.log(`  slowest case:  ${s.maxMs.toFixed(1)} ms (mean ${(s.totalMs / Math.max(1, s.runs)).toFixed(2)} ms)`);
console.log(`  largest single allocation / largest file: ${s.maxAllocRatio.toFixed(3)}`);
console.log(`  failures:      ${s.failures.length}`);
for (const f of s.failures.slice(0, 20)) console.log(`    #${f.index} ${f.mutation}: ${f.problem}`);
console.log(`${s.runs - s.failures.length} passed, ${s.failures.length} failed`);
process.exitCode = s.failures.length ? 1 : 0;
