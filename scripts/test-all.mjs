// `npm test`: every tier, in order, failing the run if any tier fails.
//   1. typecheck (tsc)   2. lint (layer rules) + format (prettier --check)   3. unit + GPU kernels + golden (vitest)
//   4. browser e2e (Playwright + Chromium with SwiftShader WebGPU)
import { spawnSync } from 'node:child_process';

const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const steps = [
  ['typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']],
  ['lint', 'npx', ['eslint', '.', '--max-warnings', '0']],
  ['format', 'npx', ['prettier', '--check', '.', '--log-level', 'warn']],
  ['vitest (unit, gpu, golden)', 'npx', ['vitest', 'run']],
  ['e2e (chromium + webgpu)', 'node', ['test/e2e/run-e2e.mjs']],
];
const only = process.argv.slice(2);
const failed = [];
for (const [name, cmd, args] of steps) {
  if (only.length && !only.some((o) => name.startsWith(o))) continue;
  console.log(`\n=== ${name} ===`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  const ok = r.status === 0;
  console.log(
    `=== ${name}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s ===`,
  );
  if (!ok) failed.push(name);
}
if (failed.length) {
  console.error(`\nnpm test failed: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('\nnpm test: all tiers passed');
