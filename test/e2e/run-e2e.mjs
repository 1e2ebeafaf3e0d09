// Browser end-to-end driver: builds the app (vite JS API), serves dist/ with `vite preview` on
// 4173, and runs every scenario file test/e2e/*.e2e.mjs against it in /usr/bin/chromium (never
// a downloaded browser) through playwright-core. Screenshots go to test-results/. The last line
// is "N passed, N failed" summed over the scenarios; exit 1 on any failure.
//   node test/e2e/run-e2e.mjs                 every scenario file
//   node test/e2e/run-e2e.mjs playground      only files whose name contains "playground"
//
// Scenario contract: `export default async function (e)`, where `e` is everything lib.mjs
// exports plus `test(name, fn)` (records pass/fail, never throws) and `launch(args)` (a
// Chromium the driver closes at the end). Optional `export const budgetMs` (default 4 min).
import { mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';
import * as lib from './lib.mjs';

const HERE = fileURLToPath(new URL('./', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(HERE)
  .filter((f) => f.endsWith('.e2e.mjs') && (filters.length === 0 || filters.some((x) => f.includes(x))))
  .sort((a, b) => (a.startsWith('foundation') ? -1 : b.startsWith('foundation') ? 1 : a.localeCompare(b)));

const results = [];
const { log } = lib;

async function runScenario(file) {
  const mod = await import(pathToFileURL(`${HERE}${file}`).href);
  const { test, results: own } = lib.harness();
  const browsers = [];
  const launch = async (args) => {
    const b = await chromium.launch({ executablePath: lib.CHROMIUM, args, timeout: 30_000 });
    browsers.push(b);
    return b;
  };
  const budget = mod.budgetMs ?? 4 * 60_000;
  let timer;
  const t0 = Date.now();
  log(`── ${file} (budget ${(budget / 1000).toFixed(0)} s)`);
  try {
    await Promise.race([
      mod.default({ ...lib, test, launch }),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`${file} ran past its budget of ${budget} ms`)), budget)),
      ),
    ]);
  } catch (e) {
    own.push({ name: `${file}: setup`, ok: false });
    log(`FAIL ${file}: ${e?.stack ?? e}`);
  } finally {
    clearTimeout(timer);
    for (const b of browsers) await b.close().catch(() => undefined);
  }
  log(
    `── ${file}: ${own.filter((r) => r.ok).length} passed, ${own.filter((r) => !r.ok).length} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  results.push(...own);
}

async function main() {
  mkdirSync(lib.OUT, { recursive: true });
  if (files.length === 0) throw new Error(`no scenario file matches ${filters.join(', ')}`);
  log('building with vite…');
  await build({ root: lib.ROOT, logLevel: 'warn' });
  const server = await preview({
    root: lib.ROOT,
    logLevel: 'warn',
    preview: { port: lib.PORT, strictPort: true, host: 'localhost' },
  });
  try {
    for (const f of files) await runScenario(f);
  } finally {
    await server.close().catch(() => undefined);
  }
}

try {
  await main();
} catch (e) {
  results.push({ name: 'setup', ok: false });
  log(`FAIL setup: ${e?.stack ?? e}`);
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
