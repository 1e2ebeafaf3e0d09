// Shared e2e helpers: the Chromium flags, a pass/fail harness, pages with console errors and
// network requests recorded, and the app's common steps. Scenario files (*.e2e.mjs) receive
// these through the context run-e2e.mjs passes them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const OUT = `${ROOT}test-results`;
export const PORT = 4173;
export const URL_ = `http://localhost:${PORT}/`;
export const CHROMIUM = '/usr/bin/chromium';
export const COMMON_ARGS = [
  '--headless',
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];
export const T = { ready: 20_000, generate: 60_000, action: 10_000, job: 120_000 };

export const log = (...a) => console.log('[e2e]', ...a);

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** A pass/fail recorder: `test(name, fn)` never throws; `results` lists every outcome. */
export function harness(prefix = '') {
  const results = [];
  async function test(name, fn) {
    const t0 = Date.now();
    const full = prefix ? `${prefix}: ${name}` : name;
    try {
      await fn();
      results.push({ name: full, ok: true });
      log(`PASS ${full} (${Date.now() - t0} ms)`);
    } catch (e) {
      results.push({ name: full, ok: false });
      log(`FAIL ${full}: ${e?.stack ?? e}`);
    }
  }
  return { test, results };
}

/** Imports a repository TypeScript module in Node (the same code the app bundles). */
export const imp = (p) => tsImport(`${ROOT}${p}`, import.meta.url);
export const readRepo = (p) => new Uint8Array(readFileSync(`${ROOT}${p}`));

/**
 * A page with console errors, page errors and every network request recorded (page, workers,
 * service worker: context-level events).
 */
export async function openPage(browser, { initScript, route, viewport } = {}) {
  const context = await browser.newContext({
    viewport: viewport ?? { width: 1280, height: 860 },
    acceptDownloads: true,
  });
  context.setDefaultTimeout(T.action);
  // Every Content-Security-Policy violation (page and its documents) becomes a console error the
  // errors list records; workers report theirs on their own console, recorded below too.
  await context.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(
        `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`,
      ),
    ),
  );
  if (initScript) await context.addInitScript(initScript);
  if (route) await context.route(route.pattern, route.handler);
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  // Chromium also logs "Refused to … because it violates the following Content Security Policy"
  // as an error; a warning-level CSP report (e.g. an ignored directive) is recorded as well.
  page.on(
    'console',
    (m) => m.type() === 'warning' && /Content Security Policy/i.test(m.text()) && errors.push(`csp: ${m.text()}`),
  );
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker console: ${m.text()}`)));
  return { context, page, errors, requests };
}

export const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** ms since navigation start of a User Timing mark the app sets (nibble:model-ready, …). */
export const markTime = (page, name) =>
  page.evaluate((n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN, name);

/** Navigates and waits for the embedded model; returns when it became usable (page-measured) and the wall time. */
export async function loadApp(page, url = URL_) {
  const t0 = Date.now();
  await page.goto(url, { timeout: T.ready, waitUntil: 'commit' });
  await page.locator('[data-testid="model-status"][data-status="ready"]').waitFor({ timeout: T.ready });
  return { ready: await markTime(page, 'nibble:model-ready'), wall: Date.now() - t0 };
}

/** Greedy, empty prompt, `n` tokens in the chat; waits for the turn and returns its text. */
export async function generateGreedy(page, n) {
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

export async function shot(page, name) {
  await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
  log(`screenshot test-results/${name}.png`);
}

export function assertNoErrors(errors) {
  assert(errors.length === 0, `console/page errors:\n  ${errors.join('\n  ')}`);
}

/** Every recorded request stayed on this machine (localhost, or in-page data:/blob: URLs). */
export function assertLocalOnly(requests) {
  const away = requests.filter((u) => !/^(https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?\/|data:|blob:)/.test(u));
  assert(away.length === 0, `requests left localhost:\n  ${[...new Set(away)].join('\n  ')}`);
}

/** Greedy text from BOS computed by the CPU engine, checked to be a prefix of the golden file. */
export async function expectedGreedy(maxTokens) {
  const [{ parseLlama2c }, { Tokenizer }, { createCpuRunner }, { generate }] = await Promise.all([
    imp('src/core/formats/llama2c.ts'),
    imp('src/core/tokenizers/llama2c-tokenizer.ts'),
    imp('src/engine/cpu-runner.ts'),
    imp('src/engine/generate.ts'),
  ]);
  const model = parseLlama2c(readRepo('public/models/stories260K.bin'));
  const tok = Tokenizer.fromLlama2c(readRepo('public/models/tok512.bin'), model.config.vocabSize);
  const res = await generate(createCpuRunner(model), tok, '', { maxTokens, temperature: 0, topP: 1, seed: 1 });
  const golden = readFileSync(`${ROOT}test/fixtures/golden-stories260K.txt`, 'utf8');
  assert(res.tokens.length === maxTokens, `CPU engine made ${res.tokens.length} tokens, wanted ${maxTokens}`);
  assert(
    golden.startsWith(res.text),
    `CPU engine text is not a prefix of the golden file: ${JSON.stringify(res.text)}`,
  );
  return res.text;
}

/** Clicks a download button and returns the downloaded file's bytes. */
export async function downloadOf(page, locator) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T.action }), locator.click()]);
  const path = await dl.path();
  return { name: dl.suggestedFilename(), bytes: readFileSync(path) };
}
