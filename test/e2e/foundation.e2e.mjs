// The app's foundation in the browser:
//   1. WebGPU on SwiftShader: adapter in the GPU panel, model ready within budget, greedy golden
//      20 tokens, Stop, a bad file → error banner, backend switch to CPU; no console errors.
//   2. No WebGPU adapter (browser without --enable-unsafe-webgpu) and 3. no navigator.gpu at all
//      (deleted in page and worker): the page says so, and the CPU chat gives the same text.
// The expected text is computed by the CPU engine (not hardcoded) and checked against
// test/fixtures/golden-stories260K.txt.
import { readFileSync } from 'node:fs';
import { COMMON_ARGS, ROOT, T, URL_, WEBGPU_ARGS, assert, assertNoErrors, byTestId } from './lib.mjs';
import { generateGreedy, loadApp, log, markTime, openPage, shot } from './lib.mjs';

const READY_BUDGET_MS = 2_000; // the embedded model must be ready this soon after navigation

export const name = 'foundation';

export default async function foundation(e) {
  const { test, launch } = e;
  const expected = await e.expectedGreedy(20);
  log(`expected greedy text (20 tokens): ${JSON.stringify(expected)}`);

  /** The shared checks for a page without WebGPU: the message, CPU backend, the same greedy text. */
  async function cpuFallbackChecks(page, errors, name) {
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
    assert(
      out === expected,
      `CPU chat text differs:\n  got      ${JSON.stringify(out)}\n  expected ${JSON.stringify(expected)}`,
    );
    await shot(page, name);
    assertNoErrors(errors);
  }

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
    log(
      `webgpu: model ready ${ready.toFixed(0)} ms after navigation start (${wall} ms seen from here), on WebGPU at ${onGpu.toFixed(0)} ms; the page says "${await byTestId(page, 'load-time').textContent()}"`,
    );
    assert((await gpu.getAttribute('data-webgpu')) === 'true', 'GPU panel reports no WebGPU');
    assert(
      (await gpu.getAttribute('data-backend')) === 'webgpu',
      `backend is ${await gpu.getAttribute('data-backend')}`,
    );
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
    assert(
      out === expected,
      `chat-output differs:\n  got      ${JSON.stringify(out)}\n  expected ${JSON.stringify(expected)}`,
    );
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
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="chat-output"]')?.textContent ?? '').length > 20,
      null,
      { timeout: T.generate },
    );
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
    // "Bring your own model": choosing the files inspects them at once (no Load needed to fail).
    await byTestId(page, 'model-files').setInputFiles([
      {
        name: 'notes.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('These are my notes, not a model.\n'.repeat(8)),
      },
      { name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: tok },
    ]);
    const banner = byTestId(page, 'error-banner');
    await banner.waitFor({ timeout: T.action });
    const text = await banner.textContent();
    assert(
      /bad-format/.test(text) && /notes\.txt/.test(text) && /not a llama2\.c checkpoint/.test(text),
      `banner says: ${text}`,
    );
    await page.locator('[data-testid="model-status"][data-status="ready"]').waitFor({ timeout: T.action });
    assert(
      /stories260K/.test(await byTestId(page, 'model-status').textContent()),
      'the embedded model is no longer loaded',
    );
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

  await test('CSP: the build carries the strict policy; an inline script is refused and recorded as a violation', async () => {
    const probe = await openPage(gpuBrowser);
    const res = await probe.page.goto(URL_, { timeout: T.ready, waitUntil: 'domcontentloaded' });
    const header = res?.headers()['content-security-policy'] ?? '';
    const meta = await probe.page.evaluate(
      () => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '',
    );
    for (const policy of [header, meta])
      for (const d of [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "object-src 'none'",
        "base-uri 'none'",
      ])
        assert(policy.includes(d), `policy lacks ${d}: ${JSON.stringify(policy)}`);
    const ran = await probe.page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.head.append(s);
      await new Promise((r) => setTimeout(r, 200));
      return window.__inlineRan === true;
    });
    assert(!ran, 'an inline script ran');
    assert(
      probe.errors.some((e) => /CSP violation: script-src/.test(e)),
      `the violation was not recorded: ${probe.errors.join(' | ')}`,
    );
    await probe.context.close();
  });

  // ---- 2. WebGPU present but no adapter ----
  const plainBrowser = await launch(COMMON_ARGS);
  const noAdapter = await openPage(plainBrowser);
  await test('no adapter: the page says WebGPU is unavailable and the CPU chat gives the same 20 tokens', () =>
    cpuFallbackChecks(noAdapter.page, noAdapter.errors, 'no-webgpu-adapter'));

  // ---- 3. navigator.gpu missing in page and worker ----
  const hideGpu =
    'Object.defineProperty(Object.getPrototypeOf(self.navigator), "gpu", { get: () => undefined, configurable: true });';
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
    await cpuFallbackChecks(noApi.page, noApi.errors, 'no-webgpu-api');
    const reason = await byTestId(noApi.page, 'webgpu-unavailable').textContent();
    assert(/navigator\.gpu is missing/.test(reason), `reason shown: ${reason}`);
  });
  for (const p of [page, noAdapter.page, noApi.page]) await p.context().close();
}
