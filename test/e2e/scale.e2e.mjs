// A real-size model shape in the browser (issue 11; WebGPU on SwiftShader): a synthetic
// Qwen2.5-0.5B folder (published config.json and vocabulary of 151,936, seeded bf16 weights,
// src/core/formats/synthetic.ts) written to a temp dir with NIBBLE_E2E_SCALE_LAYERS layers
// (default 2; 24 = full depth, run by hand):
//   1. chosen through the folder input → plan (params = the config's count) → Load (not kept in
//      OPFS) → the WebGPU runner takes over from the CPU one;
//   2. quantized in the page (RTN int4 g32): the variant's label and bits per weight equal Node's
//      quantizeModel on the same folder;
//   3. the int4 variant chats greedily: its text equals Node's CPU generation of the same
//      quantized model through the same chat template;
//   4. no console errors (CSP violations included).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const name = 'scale';
const LAYERS = Number(process.env.NIBBLE_E2E_SCALE_LAYERS ?? 2);
if (!Number.isInteger(LAYERS) || LAYERS < 1) throw new Error(`NIBBLE_E2E_SCALE_LAYERS=${LAYERS}: a whole number ≥ 1`);
/** SwiftShader: every load, upload and quantize step grows with depth (2 layers: about 3 min). */
const SLOW = Math.max(1, LAYERS / 2);
export const budgetMs = Math.round(10 * 60_000 * SLOW);

const FAMILY = 'qwen2.5-0.5b';
const RTN4 = { method: 'rtn', bits: 4, group: 32 };
const PROMPT = 'Once upon a time';
const TOKENS = 3;
/** SwiftShader decodes the 151,936 × 896 classifier in seconds per token; prefill of the chat prompt too. */
const GENERATE_MS = 5 * 60_000;

/**
 * Weights from config.json alone, as the plan counts them (ModelInfo.params: no biases): the
 * embedding (tied: once), per layer q/k/v, o, 3 MLP matrices and 2 norms, the final norm.
 */
function paramsOf(c) {
  const hs = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const q = c.num_attention_heads * hs;
  const kv = c.num_key_value_heads * hs;
  const d = c.hidden_size;
  const layer = d * (q + 2 * kv) + q * d + 3 * d * c.intermediate_size + 2 * d;
  return c.vocab_size * d + c.num_hidden_layers * layer + d + (c.tie_word_embeddings ? 0 : c.vocab_size * d);
}

export default async function scale(e) {
  const { test, assert, log, byTestId, loadApp, shot, assertNoErrors, openPage, launch, T, COMMON_ARGS, WEBGPU_ARGS } =
    e;
  const slow = (ms) => Math.round(ms * SLOW);
  const dir = join(mkdtempSync(join(tmpdir(), 'nibble-e2e-scale-')), `${FAMILY}-${LAYERS}l`);
  try {
    const [{ writeSyntheticFolder }, { syntheticConfig }, { loadModel }, { quantizeModel }, quantSpec] =
      await Promise.all([
        e.imp('src/cli/bench-scale.ts'),
        e.imp('src/core/formats/synthetic.ts'),
        e.imp('src/cli/model-files.ts'),
        e.imp('src/engine/quantize.ts'),
        e.imp('src/core/quant/quant-spec.ts'),
      ]);
    const t0 = Date.now();
    const sizes = await writeSyntheticFolder({ family: FAMILY, layers: LAYERS }, dir);
    log(`wrote ${dir} (${(sizes['model.safetensors'] / 1e6).toFixed(0)} MB safetensors) in ${Date.now() - t0} ms`);
    const config = syntheticConfig({ family: FAMILY, layers: LAYERS });

    const browser = await launch([...COMMON_ARGS, ...WEBGPU_ARGS]);
    const { page, errors } = await openPage(browser);
    const banner = byTestId(page, 'error-banner');
    const bannerText = async () =>
      (await banner.count()) ? `${await banner.getAttribute('data-code')}: ${await banner.textContent()}` : 'none';
    const folderName = dir.split('/').pop();
    let stage = 'none'; // each step needs the one before: 'loaded', then 'quantized'

    await test(`${FAMILY} shape, ${LAYERS} layers: the folder input plans it (params from config.json) and Load gives a WebGPU model`, async () => {
      await loadApp(page);
      await byTestId(page, 'model-folder').setInputFiles(dir);
      try {
        await page.locator('[data-testid="byom"][data-phase="planned"]').waitFor({ timeout: slow(T.ready) });
      } catch (err) {
        await shot(page, 'scale-not-planned');
        throw new Error(`no plan (banner ${await bannerText()}): ${err.message}`);
      }
      const params = Number(await byTestId(page, 'plan-params').getAttribute('data-params'));
      assert(params === paramsOf(config), `plan params ${params}, config.json implies ${paramsOf(config)}`);
      const verdict = await byTestId(page, 'byom-plan').getAttribute('data-verdict');
      if (verdict === 'too-large') throw new Error(`too large: ${await byTestId(page, 'plan-reasons').textContent()}`);
      if (await byTestId(page, 'keep-model').count()) await byTestId(page, 'keep-model').uncheck();
      await shot(page, 'scale-plan');
      const t1 = Date.now();
      await byTestId(page, 'byom-load').click();
      try {
        await page
          .locator('[data-testid="model-status"][data-status="ready"]', { hasText: folderName })
          .waitFor({ timeout: slow(T.job) });
        const ready = Date.now() - t1;
        await page.locator('[data-testid="gpu-status"][data-backend="webgpu"]').waitFor({ timeout: slow(T.job) });
        log(`loaded in ${ready} ms, WebGPU runner after ${Date.now() - t1} ms`);
        stage = 'loaded';
      } catch (err) {
        await shot(page, 'scale-not-loaded');
        throw new Error(`not loaded (banner ${await bannerText()}): ${err.message}`);
      }
    });

    // Node's side, after the page has its copy (one 0.5B shape in memory at a time here).
    const io = { stdout: process.stdout, stderr: process.stderr };
    const loaded = await loadModel(io, dir, undefined);
    const q = await quantizeModel(loaded.model, { ...quantSpec.DEFAULT_SPEC, ...RTN4 });

    await test('RTN int4 g32 in the page: a variant with Node’s label and bits per weight', async () => {
      assert(stage === 'loaded', 'the folder did not load (see above)');
      await byTestId(page, 'tab-quantize').click();
      await byTestId(page, 'q-method').selectOption('rtn');
      await byTestId(page, 'q-bits').fill('4');
      await byTestId(page, 'q-group').fill('32');
      const t1 = Date.now();
      await byTestId(page, 'quantize-run').click();
      const row = page.locator('[data-testid="variant-row"][data-variant="v1"]');
      try {
        await row.waitFor({ timeout: slow(T.job) });
      } catch (err) {
        await shot(page, 'scale-not-quantized');
        throw new Error(`no variant (banner ${await bannerText()}): ${err.message}`);
      }
      await page.locator('[data-testid="job"][data-kind="quantize"][data-status="done"]').waitFor();
      const label = await row.locator('[data-testid="variant-label"]').textContent();
      const bits = await row.locator('[data-testid="variant-bits"]').textContent();
      assert(label === q.report.label, `variant label ${label}, Node ${q.report.label}`);
      assert(
        bits === q.report.bitsPerWeight.toFixed(2),
        `bits/weight ${bits}, Node ${q.report.bitsPerWeight.toFixed(2)}`,
      );
      log(`quantized in the page in ${Date.now() - t1} ms: ${label}, ${bits} bits/weight`);
      await shot(page, 'scale-quantized');
      stage = 'quantized';
    });

    await test(`the int4 variant chats greedily (${TOKENS} tokens): the text equals Node’s CPU generation`, async () => {
      assert(stage === 'quantized', 'no int4 variant (see above)');
      const [{ createCpuRunner }, { generate, renderChat }] = await Promise.all([
        e.imp('src/engine/cpu-runner.ts'),
        e.imp('src/engine/generate.ts'),
      ]);
      const want = await generate(
        createCpuRunner(q.model),
        loaded.tokenizer,
        renderChat(loaded.tokenizer, [{ role: 'user', content: PROMPT }]),
        { maxTokens: TOKENS, temperature: 0, topP: 1, seed: 1 },
      );
      await page
        .locator('[data-testid="variant-row"][data-variant="v1"]')
        .getByRole('button', { name: 'Chat' })
        .click();
      await byTestId(page, 'temperature').fill('0');
      await byTestId(page, 'max-tokens').fill(String(TOKENS));
      await byTestId(page, 'chat-input').fill(PROMPT);
      const t1 = Date.now();
      await byTestId(page, 'chat-send').click();
      const out = page.locator('[data-testid="chat-output"]:not([data-status="streaming"])');
      try {
        await out.waitFor({ timeout: slow(GENERATE_MS) });
      } catch (err) {
        await shot(page, 'scale-chat-timeout');
        throw new Error(
          `${await byTestId(page, 'chat-output').textContent()} … (banner ${await bannerText()}): ${err.message}`,
        );
      }
      const status = await out.getAttribute('data-status');
      assert(status === 'done', `turn ended with status ${status} (banner ${await bannerText()})`);
      const text = await out.textContent();
      log(
        `page: ${JSON.stringify(text)} in ${Date.now() - t1} ms; Node: ${JSON.stringify(want.text)} (${want.tokens.length} tokens, stopped by ${want.stoppedBy})`,
      );
      assert(want.tokens.length > 0, 'Node generated no token');
      assert(
        text === want.text,
        `page text differs from Node:\n  page ${JSON.stringify(text)}\n  node ${JSON.stringify(want.text)}`,
      );
      await shot(page, 'scale-chat');
    });

    await test('no console errors or page errors', async () => assertNoErrors(errors));
    await page.context().close();
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
}
