// Browser end-to-end: builds the app (vite JS API), serves dist/ with `vite preview` on 4173,
// and drives /usr/bin/chromium (never a downloaded browser) through playwright-core.
//   1. WebGPU on SwiftShader: adapter in the GPU panel, model ready, greedy golden 20 tokens,
//      Stop, a bad file → error banner, backend switch to CPU; no console errors.
//   2. No WebGPU adapter (browser without --enable-unsafe-webgpu) and 3. no navigator.gpu at
//      all (deleted in page and worker): the page says so, and the CPU chat gives the same text.
// The expected text is computed here by the CPU engine (not hardcoded) and checked against
// test/fixtures/golden-stories260K.txt. Screenshots go to test-results/. Exit 1 on any failure;
// the last line is "N passed, N failed".
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { tsImport } from 'tsx/esm/api';
import { build, preview } from 'vite';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = `${ROOT}test-results`;
const PORT = 4173;
const URL_ = `http://localhost:${PORT}/`;
const CHROMIUM = '/usr/bin/chromium';
const COMMON_ARGS = ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];
const T = { ready: 20_000, generate: 60_000, action: 10_000 };
const READY_BUDGET_MS = 2_000; // the embedded model must be ready this soon after navigation

const results = [];
const log = (...a) => console.log('[e2e]', ...a);

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`PASS ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Greedy text from BOS computed by the CPU engine, checked to be a prefix of the golden file. */
async function expectedGreedy(maxTokens) {
  const imp = (p) => tsImport(`${ROOT}${p}`, import.meta.url);
  const [{ parseLlama2c }, { Tokenizer }, { createCpuRunner }, { generate }] = await Promise.all([
    imp('src/core/llama2c.ts'), imp('src/core/tokenizer.ts'), imp('src/engine/cpu-runner.ts'), imp('src/engine/generate.ts'),
  ]);
  const read = (p) => new Uint8Array(readFileSync(`${ROOT}${p}`));
  const model = parseLlama2c(read('public/models/stories260K.bin'));
  const tok = Tokenizer.fromLlama2c(read('public/models/tok512.bin'), model.config.vocabSize);
  const res = await generate(createCpuRunner(model), tok, '', { maxTokens, temperature: 0, topP: 1, seed: 1 });
  const golden = readFileSync(`${ROOT}test/fixtures/golden-stories260K.txt`, 'utf8');
  assert(res.tokens.length === maxTokens, `CPU engine made ${res.tokens.length} tokens, wanted ${maxTokens}`);
  assert(golden.startsWith(res.text), `CPU engine text is not a prefix of the golden file: ${JSON.stringify(res.text)}`);
  return res.text;
}

/** A page with console errors and page errors collected. */
async function openPage(browser, { initScript, route } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(T.action);
  if (initScript) await context.addInitScript(initScript);
  if (route) await context.route(route.pattern, route.handler);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker console: ${m.text()}`)));
  return { context, page, errors };
}

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** ms since navigation start of a User Timing mark the app sets (nibble:model-ready, …). */
const markTime = (page, name) => page.evaluate((n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN, name);

/**
 * Navigates and waits for the embedded model. Returns when it became usable as the page
 * measured it (the app's 'nibble:model-ready' mark), and the wall time seen from here.
 */
async function loadApp(page) {
  const t0 = Date.now();
  await page.goto(URL_, { timeout: T.ready, waitUntil: 'commit' });
  await page.locator('[data-testid="model-status"][data-status="ready"]').waitFor({ timeout: T.ready });
  return { ready: await markTime(page, 'nibble:model-ready'), wall: Date.now() - t0 };
}

/** Greedy, empty prompt, `n` tokens; waits for the turn to finish and returns its text. */
async function generateGreedy(page, n) {
  await byTestId(page, 'temperature').fill('0');
  await byTestId(page, 'max-tokens').fill(String(n));
  await byTestId(page, 'chat-input').fill('');
  await byTestId(page, 'chat-send').click();
  const out = page.locator('[data-testid="chat-output"]:not([data-status="streaming"])');
  await out.waitFor({ timeout: T.generate });
  const status = await out.getAttribute('data-status');
  assert(status === 'done', `turn ended with status ${status}`);
  return out.textContent();
}

async function shot(page, name) {
  await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
  log(`screenshot test-results/${name}.png`);
}

function assertNoErrors(errors) {
  assert(errors.length === 0, `console/page errors:\n  ${errors.join('\n  ')}`);
}

/** The shared checks for a page without WebGPU: the message, CPU backend, the same greedy text. */
async function cpuFallbackChecks(page, errors, expected, name) {
  const { ready, wall } = await loadApp(page);
  // Timed only (the budget is asserted once, in the WebGPU run): a route-rewritten worker
  // script here adds a Playwright round trip that the app does not have.
  log(`${name}: model ready ${ready.toFixed(0)} ms after navigation start (${wall} ms seen from here)`);
  const gpu = byTestId(page, 'gpu-status');
  await gpu.locator('[data-testid="webgpu-unavailable"]').waitFor({ timeout: T.action });
  const text = await gpu.textContent();
  assert(/WebGPU is unavailable/.test(text) && /CPU backend/.test(text), `GPU panel says: ${text}`);
  assert((await gpu.getAttribute('data-backend')) === 'cpu', 'backend is not cpu');
  const out = await generateGreedy(page, 20);
  assert(out === expected, `CPU chat text differs:\n  got      ${JSON.stringify(out)}\n  expected ${JSON.stringify(expected)}`);
  await shot(page, name);
  assertNoErrors(errors);
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const watchdog = setTimeout(() => {
    console.error('[e2e] global timeout (6 min): giving up');
    process.exit(1);
  }, 6 * 60_000);
  watchdog.unref();

  const expected = await expectedGreedy(20);
  log(`expected greedy text (20 tokens): ${JSON.stringify(expected)}`);
  log('building with vite…');
  await build({ root: ROOT, logLevel: 'warn' });

  let server;
  const browsers = [];
  try {
    server = await preview({ root: ROOT, logLevel: 'warn', preview: { port: PORT, strictPort: true, host: 'localhost' } });
    const launch = async (args) => {
      const b = await chromium.launch({ executablePath: CHROMIUM, args, timeout: 30_000 });
      browsers.push(b);
      return b;
    };

    // ---- 1. WebGPU (SwiftShader) ----
    const gpuBrowser = await launch([...COMMON_ARGS, ...WEBGPU_ARGS]);
    const { page, errors } = await openPage(gpuBrowser);
    await test('webgpu: embedded model ready within budget, then on WebGPU; GPU panel shows the SwiftShader adapter', async () => {
      const { ready, wall } = await loadApp(page);
      assert(ready < READY_BUDGET_MS, `model ready ${ready} ms after navigation start, budget ${READY_BUDGET_MS} ms`);
      // Usable at once on the CPU; the WebGPU runner (kernel compilation) follows.
      const gpu = byTestId(page, 'gpu-status');
      if ((await gpu.getAttribute('data-backend')) === 'cpu') await shot(page, 'webgpu-warming-up');
      await page.locator('[data-testid="gpu-status"][data-backend="webgpu"]').waitFor({ timeout: T.ready });
      const onGpu = await markTime(page, 'nibble:model-webgpu');
      log(`webgpu: model ready ${ready.toFixed(0)} ms after navigation start (${wall} ms seen from here), on WebGPU at ${onGpu.toFixed(0)} ms; the page says "${await byTestId(page, 'load-time').textContent()}"`);
      assert((await gpu.getAttribute('data-webgpu')) === 'true', 'GPU panel reports no WebGPU');
      assert((await gpu.getAttribute('data-backend')) === 'webgpu', `backend is ${await gpu.getAttribute('data-backend')}`);
      const adapter = await byTestId(page, 'gpu-adapter').textContent();
      assert(/swiftshader/i.test(adapter), `adapter is not SwiftShader: ${adapter}`);
      for (const f of ['feature-shader-f16', 'feature-subgroups']) {
        assert(/^(yes|no)/.test(await byTestId(page, f).textContent()), `${f} shows no yes/no`);
      }
      assert(/Max storage binding/.test(await gpu.textContent()), 'limits missing');
      await shot(page, 'webgpu-ready');
    });

    await test('webgpu: greedy decoding from BOS streams the golden 20 tokens', async () => {
      const out = await generateGreedy(page, 20);
      assert(out === expected, `chat-output differs:\n  got      ${JSON.stringify(out)}\n  expected ${JSON.stringify(expected)}`);
      const stats = await page.locator('[data-testid="chat-turn"]').last().textContent();
      assert(/20 tokens/.test(stats) && /tok\/s/.test(stats) && /WebGPU/.test(stats), `turn stats: ${stats}`);
      await shot(page, 'webgpu-golden');
    });

    await test('webgpu: Stop ends a long sampled generation early', async () => {
      await byTestId(page, 'temperature').fill('0.8');
      await byTestId(page, 'max-tokens').fill('500');
      await byTestId(page, 'chat-input').fill('Once upon a time');
      await byTestId(page, 'chat-send').click();
      await page.locator('[data-testid="chat-output"][data-status="streaming"]').waitFor({ timeout: T.action });
      await page.waitForFunction(() => (document.querySelector('[data-testid="chat-output"]')?.textContent ?? '').length > 20, null, { timeout: T.generate });
      const live = await byTestId(page, 'tokens-per-second').textContent();
      assert(/Generating · \d+ tokens/.test(live), `live rate shows: ${live}`);
      await byTestId(page, 'stop').click();
      await page.locator('[data-testid="chat-output"][data-status="stopped"]').waitFor({ timeout: T.action });
      const stats = await page.locator('[data-testid="chat-turn"]').last().textContent();
      const n = Number(/(\d+) tokens/.exec(stats)?.[1]);
      assert(n > 0 && n < 500, `stopped turn has ${n} tokens`);
      assert(await byTestId(page, 'chat-send').isEnabled(), 'Generate is not enabled again after Stop');
    });

    await test('webgpu: a non-checkpoint file shows the typed error banner and keeps the model', async () => {
      const tok = readFileSync(`${ROOT}public/models/tok512.bin`);
      await byTestId(page, 'model-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('These are my notes, not a model.\n'.repeat(8)) });
      await byTestId(page, 'tokenizer-file').setInputFiles({ name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: tok });
      await byTestId(page, 'load-files').click();
      const banner = byTestId(page, 'error-banner');
      await banner.waitFor({ timeout: T.action });
      const text = await banner.textContent();
      assert(/bad-format/.test(text) && /notes\.txt/.test(text) && /not a llama2\.c checkpoint/.test(text), `banner says: ${text}`);
      await page.locator('[data-testid="model-status"][data-status="ready"]').waitFor({ timeout: T.action });
      assert(/stories260K/.test(await byTestId(page, 'model-status').textContent()), 'the embedded model is no longer loaded');
      await shot(page, 'error-banner');
      await banner.getByRole('button', { name: 'Dismiss error' }).click();
      await banner.waitFor({ state: 'detached', timeout: T.action });
    });

    await test('webgpu: switching the backend to CPU reloads and gives the same greedy text', async () => {
      await byTestId(page, 'backend-select').selectOption('cpu');
      await page.locator('[data-testid="gpu-status"][data-backend="cpu"]').waitFor({ timeout: T.ready });
      await page.locator('[data-testid="model-status"][data-status="ready"]').waitFor({ timeout: T.ready });
      const out = await generateGreedy(page, 20);
      assert(out === expected, `CPU text differs: ${JSON.stringify(out)}`);
    });

    await test('webgpu: no console errors or page errors', async () => assertNoErrors(errors));

    // ---- 2. WebGPU present but no adapter ----
    const plainBrowser = await launch(COMMON_ARGS);
    const noAdapter = await openPage(plainBrowser);
    await test('no adapter: the page says WebGPU is unavailable and the CPU chat gives the same 20 tokens', () =>
      cpuFallbackChecks(noAdapter.page, noAdapter.errors, expected, 'no-webgpu-adapter'));

    // ---- 3. navigator.gpu missing in page and worker ----
    const hideGpu = 'Object.defineProperty(Object.getPrototypeOf(self.navigator), "gpu", { get: () => undefined, configurable: true });';
    const noApi = await openPage(gpuBrowser, {
      initScript: hideGpu,
      // Init scripts do not reach workers: prepend the same line to the worker script.
      route: {
        pattern: /engine\.worker[^/]*\.js$/,
        handler: async (route) => {
          const res = await route.fetch();
          await route.fulfill({ response: res, body: `${hideGpu}\n${await res.text()}` });
        },
      },
    });
    await test('no navigator.gpu: the page says WebGPU is unavailable and the CPU chat gives the same 20 tokens', async () => {
      await cpuFallbackChecks(noApi.page, noApi.errors, expected, 'no-webgpu-api');
      const reason = await byTestId(noApi.page, 'webgpu-unavailable').textContent();
      assert(/navigator\.gpu is missing/.test(reason), `reason shown: ${reason}`);
    });
  } finally {
    for (const b of browsers) await b.close().catch(() => undefined);
    if (server) await server.close().catch(() => undefined);
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
