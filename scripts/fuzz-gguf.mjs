#!/usr/bin/env node
// Seeded fuzzing of the GGUF loader: N mutations (default 10,000) of test/fixtures/stories260K-f32.gguf
// (the file llama.cpp wrote), each of which must end in a NibbleError or a model that runs, within
// 2 s, with no allocation larger than the mutated file. The mutation engine and checks live in
// test/unit/gguf-fuzz-lib.ts (npm test runs a bounded count of the same cases). Each case also
// goes through the page's path (header-only inspect + ranged load over a RangeReader): typed
// outcomes, the same limits, and every file the whole-bytes loader accepts must load there too.
//   node scripts/fuzz-gguf.mjs [--count N] [--seed S] [--json]
// Exit 0 when every case passes, 1 otherwise (the failing cases are listed).
import { readFileSync } from 'node:fs';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
const { mapFields, mutate, runCase, runRangedCase } = await import('../test/unit/gguf-fuzz-lib.ts');
const { seededRandom } = await import('../test/unit/helpers.ts');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const count = arg('count', 10_000);
const seed = arg('seed', 0x6775f);
const file = new Uint8Array(readFileSync(new URL('../test/fixtures/stories260K-f32.gguf', import.meta.url)));
const map = mapFields(file);
const rnd = seededRandom(seed);

const outcomes = {};
const ranged = {};
const byKind = {};
const failures = [];
let maxMs = 0;
let maxAllocRatio = 0;
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  const m = mutate(file, map, rnd);
  let outcome;
  try {
    const r = runCase(m.bytes);
    outcome = r.outcome;
    maxMs = Math.max(maxMs, r.ms);
    maxAllocRatio = Math.max(maxAllocRatio, r.maxAlloc / Math.max(1, m.bytes.length));
    if (r.ms > 2000) failures.push({ case: i, kind: m.kind, problem: `took ${r.ms.toFixed(0)} ms` });
    if (r.maxAlloc > m.bytes.length)
      failures.push({
        case: i,
        kind: m.kind,
        problem: `allocated ${r.maxAlloc} bytes for a ${m.bytes.length}-byte file`,
      });
  } catch (e) {
    outcome = 'EXCEPTION';
    failures.push({ case: i, kind: m.kind, problem: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
  try {
    const r = await runRangedCase(m.bytes, outcome);
    ranged[r.outcome] = (ranged[r.outcome] ?? 0) + 1;
    maxMs = Math.max(maxMs, r.ms);
    maxAllocRatio = Math.max(maxAllocRatio, r.maxAlloc / Math.max(1, m.bytes.length));
    if (r.ms > 2000) failures.push({ case: i, kind: m.kind, problem: `ranged path took ${r.ms.toFixed(0)} ms` });
    if (r.maxAlloc > m.bytes.length)
      failures.push({
        case: i,
        kind: m.kind,
        problem: `ranged path allocated ${r.maxAlloc} bytes for a ${m.bytes.length}-byte file`,
      });
  } catch (e) {
    failures.push({
      case: i,
      kind: m.kind,
      problem: `ranged path: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
    });
  }
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  byKind[m.kind] ??= {};
  byKind[m.kind][outcome] = (byKind[m.kind][outcome] ?? 0) + 1;
}
const report = {
  cases: count,
  seed,
  seconds: +((performance.now() - t0) / 1000).toFixed(1),
  outcomes,
  ranged_outcomes: ranged,
  by_mutation: byKind,
  max_case_ms: +maxMs.toFixed(1),
  max_allocation_vs_file: +maxAllocRatio.toFixed(3),
  failures: failures.slice(0, 50),
  failure_count: failures.length,
};
if (process.argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
else {
  console.log(
    `fuzz-gguf: ${count} cases (seed ${seed}) in ${report.seconds} s; slowest ${report.max_case_ms} ms; largest allocation ${report.max_allocation_vs_file} × the file`,
  );
  console.log(
    `outcomes: ${Object.entries(outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log(
    `ranged (page) path: ${Object.entries(ranged)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  for (const [k, v] of Object.entries(byKind))
    console.log(
      `  ${k.padEnd(12)} ${Object.entries(v)
        .map(([o, n]) => `${o} ${n}`)
        .join(', ')}`,
    );
  for (const f of failures.slice(0, 50)) console.log(`FAIL case ${f.case} (${f.kind}): ${f.problem}`);
  console.log(`${count - failures.length} passed, ${failures.length} failed`);
}
process.exitCode = failures.length ? 1 : 0;
