// "Bring your own model" in the browser (WebGPU on SwiftShader):
//   a. the HF fixture folder through the folder input → plan (params, KV cache bytes) → Load →
//      greedy decoding gives the golden text;
//   b. the GGUF fixture dropped on the card → Load; the progress reaches 100 %;
//   c. an HF repo id in the URL field, huggingface.co answered by a local responder (page.route)
//      from the fixture files, honouring Range (206 + Content-Range), slowed so the progress
//      shows → plan → Load (progress screenshot) → golden text;
//   d. a corrupt checkpoint → the typed error banner; the previous model still generates;
//   e. a crafted GGUF (1024 wide, context 2^20) with the context field set to 2^20 → 'too-large'
//      (one layer's KV cache is larger than one binding) with the reason, Load disabled.
import { readFileSync, readdirSync } from 'node:fs';
import { COMMON_ARGS, ROOT, T, WEBGPU_ARGS, assert, assertNoErrors, byTestId } from './lib.mjs';
import { generateGreedy, loadApp, log, openPage, shot } from './lib.mjs';

export const name = 'byom';
export const budgetMs = 6 * 60_000;

const HF_DIR = 'test/fixtures/stories260K-hf';
const GGUF = 'test/fixtures/stories260K-f32.gguf';
const REPO = 'nibble-test/stories260K-hf';
/** stories260K: 512·64 embedding (shared classifier) + 5 layers · 45,440 + final norm. */
const PARAMS = 512 * 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64) + 64;
/** K and V, 5 layers, kvDim 32, f32, per position. */
const KV_PER_POSITION = 2 * 5 * 32 * 4;

/**
 * A huggingface.co stand-in serving `files` as repo REPO: the model API (siblings), the tree API,
 * and /resolve/ downloads honouring Range (206 + Content-Range; HEAD too). Every request is
 * recorded; `delayMs` slows each download so the progress can be seen.
 */
function hfResponder(files, seen, opts) {
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'content-range, content-length, accept-ranges, etag, x-repo-commit',
  };
  const json = (route, body) =>
    route.fulfill({
      status: 200,
      headers: { ...cors, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    const range = req.headers().range ?? null;
    const path = decodeURIComponent(url.pathname);
    const rec = { method: req.method(), path, range, status: 0 };
    seen.push(rec);
    const answer = (status, headers, body) => {
      rec.status = status;
      return route.fulfill({ status, headers: { ...cors, ...headers }, body });
    };
    const names = Object.keys(files);
    let m;
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)(?:\/revision\/([^/]+))?$/.exec(path)) && m[1] === REPO) {
      rec.status = 200;
      return json(route, {
        id: REPO,
        modelId: REPO,
        sha: 'f'.repeat(40),
        siblings: names.map((rfilename) => ({ rfilename, size: files[rfilename].length })),
      });
    }
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)/.exec(path)) && m[1] === REPO) {
      rec.status = 200;
      return json(
        route,
        names.map((p) => ({ type: 'file', path: p, size: files[p].length, oid: '0'.repeat(40) })),
      );
    }
    if ((m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path)) && m[1] === REPO) {
      const bytes = files[m[3]];
      if (!bytes) return answer(404, { 'content-type': 'text/plain' }, 'Entry not found');
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      const total = bytes.length;
      const base = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', etag: `"${m[3]}-${total}"` };
      const r = range && /^bytes=(\d+)-(\d*)$/.exec(range);
      if (r) {
        const start = Number(r[1]);
        const end = Math.min(total - 1, r[2] === '' ? total - 1 : Number(r[2]));
        if (start >= total) return answer(416, { ...base, 'content-range': `bytes */${total}` }, '');
        const body = bytes.subarray(start, end + 1);
        return answer(
          206,
          { ...base, 'content-range': `bytes ${start}-${end}/${total}`, 'content-length': String(body.length) },
          req.method() === 'HEAD' ? '' : Buffer.from(body),
        );
      }
      return answer(
        200,
        { ...base, 'content-length': String(total) },
        req.method() === 'HEAD' ? '' : Buffer.from(bytes),
      );
    }
    return answer(404, { 'content-type': 'text/plain' }, 'Repository not found');
  };
}

/** Width (= kvDim) and context of the crafted GGUF: one layer's KV buffer is 2^20 · 1024 · 4 B = 4 GiB. */
const WIDE = 1024;
const WIDE_CONTEXT = 1 << 20;

/**
 * A GGUF with stories260K's vocabulary but one layer 1024 wide (8 heads, no GQA) and a context of
 * 2^20: small on disk (zero Q8_0 weights, about 5 MB), while its KV cache at the full context
 * cannot be bound. Written with the project's own GGUF writer.
 */
async function wideGguf(e) {
  const [{ parseGguf }, { serializeGguf }, { GgmlType, ggmlBytes }] = await Promise.all([
    e.imp('src/core/formats/gguf/read.ts'),
    e.imp('src/core/formats/gguf/write.ts'),
    e.imp('src/core/formats/gguf/types.ts'),
  ]);
  const src = parseGguf(e.readRepo(GGUF));
  const set = {
    'llama.context_length': WIDE_CONTEXT,
    'llama.embedding_length': WIDE,
    'llama.feed_forward_length': 64,
    'llama.attention.head_count': 8,
    'llama.attention.head_count_kv': 8,
    'llama.block_count': 1,
    'llama.rope.dimension_count': WIDE / 8,
  };
  const kvs = [...src.kv].map(([key, kv]) => ({ key, type: kv.type, value: key in set ? set[key] : kv.value }));
  const t = (name, ne, type = GgmlType.Q8_0) => {
    const data = new Uint8Array(
      ggmlBytes(
        type,
        ne.reduce((a, b) => a * b, 1),
      ),
    );
    if (type === GgmlType.F32) new Float32Array(data.buffer).fill(1); // norms
    return { name, ne, type, data };
  };
  return serializeGguf(kvs, [
    t('token_embd.weight', [WIDE, 512]),
    t('output_norm.weight', [WIDE], GgmlType.F32),
    ...['attn_q', 'attn_k', 'attn_v', 'attn_output'].map((n) => t(`blk.0.${n}.weight`, [WIDE, WIDE])),
    t('blk.0.attn_norm.weight', [WIDE], GgmlType.F32),
    t('blk.0.ffn_norm.weight', [WIDE], GgmlType.F32),
    t('blk.0.ffn_gate.weight', [WIDE, 64]),
    t('blk.0.ffn_up.weight', [WIDE, 64]),
    t('blk.0.ffn_down.weight', [64, WIDE]),
  ]);
}

export default async function byom(e) {
  const { test, launch } = e;
  const expected = await e.expectedGreedy(20);
  const hfFiles = Object.fromEntries(
    readdirSync(`${ROOT}${HF_DIR}`).map((f) => [f, readFileSync(`${ROOT}${HF_DIR}/${f}`)]),
  );
  const seen = [];
  const responder = { delayMs: 0 };

  const browser = await launch([...COMMON_ARGS, ...WEBGPU_ARGS]);
  const { context, page, errors } = await openPage(browser);
  await context.route(/^https:\/\/huggingface\.co\//, hfResponder(hfFiles, seen, responder));
  const plan = byTestId(page, 'byom-plan');
  const banner = byTestId(page, 'error-banner');
  const attr = async (id, name) => byTestId(page, id).getAttribute(name);

  /** The plan card of a fresh choice, ready to load ('planned'). */
  async function planned() {
    try {
      await page.locator('[data-testid="byom"][data-phase="planned"]').waitFor({ timeout: T.ready });
    } catch (err) {
      const why = (await banner.count())
        ? await banner.textContent()
        : `phase ${await byTestId(page, 'byom').getAttribute('data-phase')}`;
      await shot(page, 'byom-not-planned');
      throw new Error(`no plan (${why}): ${err.message}`);
    }
    return plan;
  }
  /** Load, then wait for `name` to be the loaded model. */
  async function loadAndWait(modelName) {
    await byTestId(page, 'byom-load').click();
    await page
      .locator('[data-testid="model-status"][data-status="ready"]', { hasText: modelName })
      .waitFor({ timeout: T.ready });
    await page.locator('[data-testid="byom"][data-phase="idle"]').waitFor({ timeout: T.action });
  }

  await test('setup: the app is ready with the embedded model', async () => {
    await loadApp(page);
  });

  await test('a. HF folder (folder input) → plan shows params and KV cache → Load → golden greedy text; kept in OPFS as a .nibble', async () => {
    await byTestId(page, 'model-folder').setInputFiles(`${ROOT}${HF_DIR}`);
    await planned();
    assert(
      /stories260K-hf/.test(await byTestId(page, 'plan-name').textContent()),
      'plan is not named after the folder',
    );
    const params = Number(await attr('plan-params', 'data-params'));
    assert(params === PARAMS, `plan params ${params}, expected ${PARAMS}`);
    const kv = Number(await attr('plan-kv', 'data-bytes'));
    assert(kv === KV_PER_POSITION * 512, `KV cache ${kv} bytes, expected ${KV_PER_POSITION * 512} (512 positions)`);
    assert(
      /KV cache \(512 positions\)/.test(await byTestId(page, 'plan-kv').textContent()),
      'KV row does not say 512 positions',
    );
    const verdict = await plan.getAttribute('data-verdict');
    assert(verdict === 'fits', `verdict ${verdict}`);
    const facts = await plan.textContent();
    assert(
      /Hugging Face/.test(facts) &&
        /llama/.test(facts) &&
        /model\.safetensors/.test(facts) &&
        /tokenizer\.json/.test(facts),
      `plan card: ${facts}`,
    );
    assert(
      /stored as one \.nibble file/.test(await byTestId(page, 'byom-keep-note').textContent()),
      'no note that the HF folder is kept as a .nibble',
    );
    await shot(page, 'byom-plan-hf-folder');
    await loadAndWait('stories260K-hf');
    const out = await generateGreedy(page, 20);
    assert(
      out === expected,
      `HF folder text differs:\n  got      ${JSON.stringify(out)}\n  expected ${JSON.stringify(expected)}`,
    );
    // Kept: the worker wrote the loaded model as one .nibble into OPFS; the drawer lists it.
    await byTestId(page, 'models-drawer-open').click();
    await page.locator('[data-testid="models-drawer"][data-status="ready"]').waitFor();
    await page.locator('[data-testid="stored-entry"][data-name="stories260K-hf"]').waitFor({ timeout: 20_000 });
    await byTestId(page, 'models-drawer-close').click();
  });

  await test('b. GGUF dropped on the card → Load; the progress reaches 100 %', async () => {
    const b64 = readFileSync(`${ROOT}${GGUF}`).toString('base64');
    const dt = await page.evaluateHandle((data) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const t = new DataTransfer();
      t.items.add(new File([bytes], 'stories260K-f32.gguf', { type: 'application/octet-stream' }));
      return t;
    }, b64);
    await byTestId(page, 'byom-drop').dispatchEvent('dragenter', { dataTransfer: dt });
    await byTestId(page, 'byom-drop').dispatchEvent('drop', { dataTransfer: dt });
    await planned();
    const text = await plan.textContent();
    assert(/GGUF/.test(text) && /embedded in the GGUF/.test(text), `plan card: ${text}`);
    assert(Number(await attr('plan-params', 'data-params')) === PARAMS, 'GGUF params differ');
    assert(await byTestId(page, 'keep-model').isVisible(), 'a single GGUF file offers no keep-in-browser option');
    await byTestId(page, 'keep-model').uncheck();
    await loadAndWait('stories260K-f32.gguf');
    const done = byTestId(page, 'byom-finished');
    await done.waitFor({ timeout: T.action });
    const [pct, got, total] = await Promise.all(
      ['data-percent', 'data-done', 'data-total'].map((a) => done.getAttribute(a)),
    );
    assert(
      pct === '100' && got === total && Number(total) >= 1_000_000,
      `last progress: ${got} of ${total} (${pct} %): ${await done.textContent()}`,
    );
    const out = await generateGreedy(page, 20);
    assert(out === expected, `GGUF text differs: ${JSON.stringify(out)}`);
  });

  await test('c. HF repo id in the URL field: fetched from huggingface.co (local responder) with Range → plan → Load with progress → golden text', async () => {
    assert(!seen.length, `huggingface.co was asked before Fetch: ${seen.map((s) => s.path).join(', ')}`);
    await byTestId(page, 'byom-url').fill(REPO);
    await byTestId(page, 'byom-fetch').click();
    await planned();
    assert(
      /downloading from huggingface\.co\/nibble-test\/stories260K-hf/.test(
        await byTestId(page, 'byom-source').textContent(),
      ),
      'source line does not say where it downloads from',
    );
    assert(Number(await attr('plan-params', 'data-params')) === PARAMS, 'remote params differ');
    assert(Number(await attr('plan-kv', 'data-bytes')) === KV_PER_POSITION * 512, 'remote KV differs');
    await shot(page, 'byom-plan-remote');
    responder.delayMs = 150;
    await byTestId(page, 'byom-load').click();
    const bar = page.locator('[data-testid="byom-progress"][data-op="load"]');
    await bar.waitFor({ timeout: T.action });
    // A screenshot once a quarter is read (the responder is slowed; the bar may still finish first).
    await page
      .waitForFunction(
        () =>
          Number(
            document.querySelector('[data-testid="byom-progress"][data-op="load"]')?.getAttribute('data-percent') ??
              100,
          ) >= 25,
        null,
        { timeout: T.ready },
      )
      .catch(() => undefined);
    if (await bar.count()) await shot(page, 'byom-progress-remote');
    await page
      .locator('[data-testid="model-status"][data-status="ready"]', { hasText: REPO })
      .waitFor({ timeout: T.job });
    responder.delayMs = 0;
    const ranged = seen.filter((s) => s.status === 206 && s.range);
    assert(ranged.length > 0, `no Range request was answered with 206: ${JSON.stringify(seen)}`);
    assert(
      seen.every(
        (s) => s.status !== 404 || /generation_config|tokenizer_config|index\.json|chat_template/.test(s.path),
      ),
      `unexpected 404s: ${JSON.stringify(seen.filter((s) => s.status === 404))}`,
    );
    log(
      `huggingface.co requests: ${seen.length} (${ranged.length} ranged 206); ${[...new Set(seen.map((s) => `${s.method} ${s.path}`))].join(', ')}`,
    );
    const out = await generateGreedy(page, 20);
    assert(out === expected, `remote text differs: ${JSON.stringify(out)}`);
  });

  await test('d. a corrupt checkpoint → typed error banner; the previous model still generates', async () => {
    const gguf = readFileSync(`${ROOT}${GGUF}`);
    await byTestId(page, 'model-files').setInputFiles({
      name: 'broken.gguf',
      mimeType: 'application/octet-stream',
      buffer: gguf.subarray(0, Math.floor(gguf.length * 0.6)),
    });
    // The headers may be whole (then the plan shows and the load fails) or not (the inspect fails).
    await Promise.race([
      banner.waitFor({ timeout: T.ready }),
      planned().then(() => byTestId(page, 'byom-load').click()),
    ]);
    await banner.waitFor({ timeout: T.ready });
    const code = await banner.getAttribute('data-code');
    const text = await banner.textContent();
    assert(code && code !== 'internal' && /broken\.gguf/.test(text), `banner: ${code}: ${text}`);
    await shot(page, 'byom-corrupt-banner');
    await banner.getByRole('button', { name: 'Dismiss error' }).click();
    await page
      .locator('[data-testid="model-status"][data-status="ready"]', { hasText: REPO })
      .waitFor({ timeout: T.action });
    if ((await byTestId(page, 'byom').getAttribute('data-phase')) !== 'idle')
      await byTestId(page, 'byom-cancel').click();
    const out = await generateGreedy(page, 20);
    assert(out === expected, `after the corrupt file, text differs: ${JSON.stringify(out)}`);
  });

  await test('e. a GGUF whose KV cache outgrows one binding at a long context → too-large with the reason, Load disabled', async () => {
    await byTestId(page, 'model-files').setInputFiles({
      name: 'wide-1M.gguf',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(await wideGguf(e)),
    });
    await planned();
    assert(Number(await attr('plan-kv', 'data-bytes')) === 2 * 2048 * WIDE * 4, 'the default context is not 2048');
    assert((await plan.getAttribute('data-verdict')) !== 'too-large', 'too large already at the default context');
    await byTestId(page, 'byom-context').fill(String(WIDE_CONTEXT));
    await byTestId(page, 'byom-context').press('Enter');
    await page.locator('[data-testid="byom-plan"][data-verdict="too-large"]').waitFor({ timeout: T.ready });
    await page.locator('[data-testid="byom"][data-phase="planned"]').waitFor({ timeout: T.action });
    assert(
      Number(await attr('plan-kv', 'data-bytes')) === 2 * WIDE_CONTEXT * WIDE * 4,
      'KV cache not planned for the new context',
    );
    const reasons = await byTestId(page, 'plan-reasons').textContent();
    assert(
      /KV cache of one layer at 1048576 positions is 4096\.0 MiB, more than one binding holds/.test(reasons),
      `reasons: ${reasons}`,
    );
    assert(await byTestId(page, 'byom-load').isDisabled(), 'Load is enabled for a too-large plan');
    await shot(page, 'byom-too-large');
    await byTestId(page, 'byom-cancel').click();
    await page.locator('[data-testid="byom"][data-phase="idle"]').waitFor({ timeout: T.action });
    assert(/stories260K-hf/.test(await byTestId(page, 'model-status').textContent()), 'the loaded model changed');
  });

  await test('no console errors or page errors', async () => assertNoErrors(errors));
  await page.context().close();
}
