// The playground in the browser (WebGPU on SwiftShader), every number checked against the same
// computation in Node with the repository's core/engine functions (what the CLI runs):
//   1. Quantize stories260K to int4 (RTN g32) in the page: a variant with the CLI's bits/weight;
//      GPTQ shows its loss per linear as it goes and Cancel stops it.
//   2. Charts: the weight histogram of layers.0.wq equals Node's binning of the same weights;
//      the bucket collisions (codes per bucket, clipped counts) equal core quantizeTensor +
//      codeHistogram for every quantizer compared, computed on the GPU; outliers and drift render;
//      the PNG and JSON exports download.
//   3. A/B chat: fp32 vs int4 greedy, both outputs equal to Node's CPU generations.
//   4. LM truncation lab: the slider at 3 fraction bits adds a curve point whose perplexity and
//      top-1 agreement match Node's evaluation of the same truncated model.
//   5. The URL hash reproduces the view; no request left localhost; no console errors.
//   6. Export: the loaded model downloads as GGUF Q8_0, byte for byte the CLI's export of it.
import { writeFileSync } from 'node:fs';
import { COMMON_ARGS, T, URL_, WEBGPU_ARGS, assert, assertLocalOnly, assertNoErrors } from './lib.mjs';
import { byTestId, downloadOf, loadApp, log, openPage, shot } from './lib.mjs';

export const name = 'playground';
export const budgetMs = 6 * 60_000;

const RTN4 = { method: 'rtn', bits: 4, group: 32 };
const PROMPT = 'Once upon a time';

/** Node's side: the model, tokenizer and helpers, imported from the repository. */
async function nodeSide(e) {
  const [
    { parseLlama2c },
    { Tokenizer },
    { quantizeTensor },
    { codeHistogram },
    { quantizeModel },
    { DEFAULT_SPEC },
    { createCpuRunner },
    { generate },
    { evaluate },
    { textWindows },
  ] = await Promise.all([
    e.imp('src/core/formats/llama2c.ts'),
    e.imp('src/core/tokenizers/llama2c-tokenizer.ts'),
    e.imp('src/core/quant/quantize-tensor.ts'),
    e.imp('src/core/quant/histogram.ts'),
    e.imp('src/engine/quantize.ts'),
    e.imp('src/core/quant/quant-spec.ts'),
    e.imp('src/engine/cpu-runner.ts'),
    e.imp('src/engine/generate.ts'),
    e.imp('src/engine/evaluate.ts'),
    e.imp('src/core/model/metrics.ts'),
  ]);
  const model = parseLlama2c(e.readRepo('public/models/stories260K.bin'));
  const tok = Tokenizer.fromLlama2c(e.readRepo('public/models/tok512.bin'), model.config.vocabSize);
  const evalText = new TextDecoder().decode(e.readRepo('public/data/tinystories-eval.txt'));
  const greedy = async (m, n) =>
    (await generate(createCpuRunner(m), tok, PROMPT, { maxTokens: n, temperature: 0, topP: 1, seed: 42 })).text;
  return {
    model,
    wq: model.weights.layers[0].wq,
    quantize: (spec) => quantizeModel(model, { ...DEFAULT_SPEC, ...spec }),
    codes: (w, { bits, granularity, group, sym }) =>
      codeHistogram(
        quantizeTensor(w, { format: `q${bits}`, granularity, group: granularity === 'group' ? group : undefined, sym }),
        w.data,
      ),
    greedy,
    truncEval: async (k, mode, nWindows) => {
      const q = await quantizeModel(model, { ...DEFAULT_SPEC, method: 'trunc', mantissaBits: k, truncMode: mode });
      const windows = textWindows(tok, evalText, 256).slice(0, nWindows);
      return evaluate(createCpuRunner(q.model), windows, createCpuRunner(model));
    },
    drift: async (target, nWindows) => {
      const windows = textWindows(tok, evalText, 256).slice(0, nWindows);
      return evaluate(createCpuRunner(target), windows, target === model ? null : createCpuRunner(model));
    },
  };
}

/** Independent binning (not the worker's code): `bins` equal bins over [min, max], the last closed. */
function binsOf(values, bins) {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - min) / (max - min)) * bins))]++;
  return { min, max, counts };
}

export default async function playground(e) {
  const { test, launch } = e;
  const node = await nodeSide(e);
  const browser = await launch([...COMMON_ARGS, ...WEBGPU_ARGS]);
  const { page, errors, requests } = await openPage(browser, { viewport: { width: 1360, height: 900 } });
  const json = async (testId) =>
    JSON.parse((await downloadOf(page, byTestId(page, `${testId}-json`))).bytes.toString('utf8'));

  await test('quantize stories260K to int4 (RTN g32) in the page: a variant beside fp32 with the CLI’s bits/weight', async () => {
    await loadApp(page);
    await page.locator('[data-testid="gpu-status"][data-backend="webgpu"]').waitFor({ timeout: T.ready });
    await byTestId(page, 'tab-quantize').click();
    await byTestId(page, 'q-method').selectOption('rtn');
    await byTestId(page, 'q-bits').fill('4');
    await byTestId(page, 'q-group').fill('32');
    assert(
      (await byTestId(page, 'quant-label').textContent()) === 'rtn int4 g32',
      `form label: ${await byTestId(page, 'quant-label').textContent()}`,
    );
    const t0 = Date.now();
    await byTestId(page, 'quantize-run').click();
    const row = page.locator('[data-testid="variant-row"][data-variant="v1"]');
    await row.waitFor({ timeout: T.job });
    const { report } = await node.quantize(RTN4);
    const bits = await row.locator('[data-testid="variant-bits"]').textContent();
    assert(
      (await row.locator('[data-testid="variant-label"]').textContent()) === report.label,
      `variant label differs from the CLI's "${report.label}"`,
    );
    assert(bits === report.bitsPerWeight.toFixed(2), `bits/weight ${bits}, CLI ${report.bitsPerWeight.toFixed(2)}`);
    await page.locator('[data-testid="job"][data-kind="quantize"][data-status="done"]').waitFor();
    log(`quantized in the page in ${Date.now() - t0} ms: ${report.label}, ${bits} bits/weight`);
    await row.getByRole('button', { name: 'layers' }).click();
    const details = await byTestId(page, 'variant-details').textContent();
    const sqnr0 = report.layers[0].linears.wq.sqnrDb.toFixed(1);
    assert(details.includes(sqnr0), `per-layer weight SQNR (layer 0 wq ${sqnr0} dB) missing: ${details.slice(0, 120)}`);
    await shot(page, 'playground-quantize');
  });

  await test('export: Download GGUF Q8_0 of the loaded model gives the CLI’s file (GGUF magic, same size and bytes)', async () => {
    const [{ exportModelFiles }, { GGUF_MAGIC }] = await Promise.all([
      e.imp('src/engine/export-model.ts'),
      e.imp('src/core/formats/gguf/types.ts'),
    ]);
    const want = exportModelFiles(
      {
        model: node.model,
        modelName: 'stories260K',
        label: 'fp32',
        tokenizerFiles: { kind: 'llama2c', bytes: e.readRepo('public/models/tok512.bin') },
      },
      'gguf-q8_0',
    ).files[0];
    const base = page.locator('[data-testid="variant-row"][data-variant="base"]');
    const gptq = base.locator('[data-testid="export-format"] option[value="gptq-safetensors"]');
    assert(await gptq.isDisabled(), 'gptq-safetensors is offered for the fp32 model');
    assert(
      /uniform-int/.test(await gptq.getAttribute('title')),
      `no reason on the greyed-out format: ${await gptq.getAttribute('title')}`,
    );
    await base.locator('[data-testid="export-format"]').selectOption('gguf-q8_0');
    const dl = await downloadOf(page, base.locator('[data-testid="export-download"]'));
    const magic = dl.bytes.readUInt32LE(0);
    assert(dl.name === want.name, `file name ${dl.name}, wanted ${want.name}`);
    assert(magic === GGUF_MAGIC, `not a GGUF file: magic 0x${magic.toString(16)}`);
    assert(
      dl.bytes.length === want.bytes.byteLength,
      `${dl.bytes.length} bytes, the CLI's export has ${want.bytes.byteLength}`,
    );
    assert(Buffer.from(want.bytes).equals(dl.bytes), 'the downloaded GGUF differs from the CLI’s export');
    log(`export: ${dl.name}, ${dl.bytes.length} bytes, identical to exportModelFiles in Node`);
  });

  await test('GPTQ shows its loss per linear as it goes, and Cancel stops it without a variant', async () => {
    await byTestId(page, 'q-method').selectOption('gptq');
    await byTestId(page, 'quantize-run').click();
    const job = page.locator('[data-testid="job"][data-kind="quantize"][data-status="running"]');
    await job.waitFor();
    await job.locator('[data-testid="gptq-loss"] .recharts-wrapper').waitFor({ timeout: T.job });
    const stage = await job.locator('[data-testid="job-stage"]').textContent();
    assert(/layer \d of 5 · w\w+ · loss [\d.e+-]+/.test(stage), `stage line: ${stage}`);
    await shot(page, 'playground-gptq');
    await byTestId(page, 'quantize-cancel').click();
    await page
      .locator('[data-testid="job"][data-kind="quantize"][data-status="cancelled"]')
      .waitFor({ timeout: T.action });
    assert((await page.locator('[data-testid="variant-row"]').count()) === 2, 'a cancelled GPTQ left a variant');
    assert((await byTestId(page, 'error-banner').count()) === 0, 'Cancel raised an error banner');
    await byTestId(page, 'q-method').selectOption('rtn');
  });

  await test('charts: histogram of layers.0.wq and its bucket collisions equal Node’s numbers (collisions on the GPU)', async () => {
    await byTestId(page, 'tab-charts').click();
    await byTestId(page, 'pick-layer').selectOption('0');
    await byTestId(page, 'pick-linear').selectOption('wq');
    const plot = byTestId(page, 'histogram-plot');
    await plot.waitFor({ timeout: T.job });
    const h = await json('histogram-chart');
    assert(
      h.tensor === 'layers.0.wq' && h.quantizer === 'rtn int4 g32',
      `histogram of ${h.tensor} with ${h.quantizer}`,
    );
    const want = binsOf(node.wq.data, h.counts.length);
    assert(h.min === want.min && h.max === want.max, `range [${h.min}, ${h.max}] vs Node [${want.min}, ${want.max}]`);
    assert(
      JSON.stringify(h.counts) === JSON.stringify(want.counts),
      `histogram counts differ:\n  page ${h.counts}\n  node ${want.counts}`,
    );
    assert(
      h.selectedGroup.grid.length === 16 && h.selectedGroup.size === 32,
      `grid of the selected group: ${h.selectedGroup.grid.length} levels, ${h.selectedGroup.size} weights`,
    );
    assert(Number(await plot.getAttribute('data-grid')) > 0, 'no grid line drawn');

    await page.locator('[data-testid="collisions-plot"][data-label="int4 g32"]').waitFor({ timeout: T.job });
    const backend = await byTestId(page, 'collisions-backend').textContent();
    assert(/GPU/.test(backend), `collisions were not computed on the GPU: ${backend}`);
    const c = await json('collisions-chart');
    assert(c.computedOn === 'webgpu', `computed on ${c.computedOn}`);
    assert(
      c.quantizers.length === 12,
      `${c.quantizers.length} quantizers compared, wanted 8/4/3/2 bits × tensor/row/g32`,
    );
    for (const q of c.quantizers) {
      const ref = node.codes(node.wq, { ...q, sym: c.sym });
      assert(
        JSON.stringify(q.counts) === JSON.stringify([...ref.counts]),
        `${q.label}: codes per bucket differ:\n  page ${q.counts}\n  node ${[...ref.counts]}`,
      );
      assert(
        q.clippedLow === ref.clippedLow && q.clippedHigh === ref.clippedHigh,
        `${q.label}: clipped ${q.clippedLow}/${q.clippedHigh} vs ${ref.clippedLow}/${ref.clippedHigh}`,
      );
    }
    const shown = (await byTestId(page, 'collisions-plot').getAttribute('data-counts')).split(',').map(Number);
    const ref4 = [...node.codes(node.wq, { bits: 4, granularity: 'group', group: 32, sym: false }).counts];
    assert(JSON.stringify(shown) === JSON.stringify(ref4), `bars drawn ${shown} vs Node ${ref4}`);
    log(`layers.0.wq int4 g32 codes per bucket: ${shown.join(' ')} (page = Node, histogram on the GPU)`);

    const png = await downloadOf(page, byTestId(page, 'histogram-chart-png'));
    assert(
      png.bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) &&
        png.bytes.length > 5000,
      `PNG export: ${png.name}, ${png.bytes.length} bytes`,
    );
    writeFileSync(`${e.OUT}/playground-export-histogram.png`, png.bytes); // what the user downloads
    log(`screenshot test-results/playground-export-histogram.png (the PNG export, ${png.bytes.length} bytes)`);
  });

  await test('charts: outlier features and output drift + Pareto render for fp32 and the int4 variant', async () => {
    await byTestId(page, 'outliers-plot').waitFor({ timeout: T.job });
    const counts = await byTestId(page, 'outliers-counts').textContent();
    assert(/L0:/.test(counts) && /L4:/.test(counts), `per-layer counts: ${counts}`);
    await byTestId(page, 'drift-windows').fill('4'); // a subset keeps SwiftShader runs short
    await byTestId(page, 'drift-evaluate').click();
    await page.locator('[data-testid="drift-pareto"] .recharts-wrapper').waitFor({ timeout: T.job });
    await page.locator('[data-testid="drift-sqnr"] .recharts-wrapper').waitFor({ timeout: T.job });
    const d = await json('drift-chart');
    const v1 = d.variants.find((v) => v.id === 'v1');
    const base = d.variants.find((v) => v.id === 'base');
    assert(base && v1, `evaluated: ${d.variants.map((v) => v.id)}`);
    assert(
      v1.ppl > base.ppl && v1.top1 > 0.5 && v1.top1 < 1 && v1.sqnrDb.length === 5,
      `drift: fp32 ppl ${base.ppl}, int4 ppl ${v1.ppl}, top-1 ${v1.top1}`,
    );
    const [refBase, refV1] = [await node.drift(node.model, 4), await node.drift((await node.quantize(RTN4)).model, 4)];
    const close = (a, b) => Math.abs(a - b) / Math.abs(b) < 1e-4;
    assert(
      base.windows === 4 && close(base.ppl, refBase.ppl) && close(v1.ppl, refV1.ppl),
      `ppl fp32 ${base.ppl} / ${refBase.ppl}, int4 ${v1.ppl} / ${refV1.ppl} (page / Node)`,
    );
    assert(
      Math.abs(v1.top1 - refV1.top1Agreement) <= 4 / refV1.tokens && close(v1.klMean, refV1.klMean),
      `int4 top-1 ${v1.top1} / ${refV1.top1Agreement}, KL ${v1.klMean} / ${refV1.klMean}`,
    );
    log(
      `drift: fp32 ppl ${base.ppl.toFixed(3)}, int4 g32 ppl ${v1.ppl.toFixed(3)}, top-1 ${(v1.top1 * 100).toFixed(1)} %, KL ${v1.klMean.toFixed(4)}`,
    );
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'playground-charts');
  });

  await test('A/B chat: fp32 and int4 stream the same prompt side by side, each equal to Node’s greedy text', async () => {
    await page.locator('[data-testid="tab-quantize"]').click();
    await page.locator('[data-testid="variant-row"][data-variant="v1"] [data-testid="variant-ab"]').click();
    await byTestId(page, 'ab-chat').waitFor();
    await byTestId(page, 'temperature').fill('0');
    await byTestId(page, 'max-tokens').fill('40');
    await byTestId(page, 'ab-input').fill(PROMPT);
    await byTestId(page, 'ab-send').click();
    await page.locator('[data-testid="ab-output-a"]:not([data-status="streaming"])').waitFor({ timeout: T.generate });
    await page.locator('[data-testid="ab-output-b"]:not([data-status="streaming"])').waitFor({ timeout: T.generate });
    const a = await byTestId(page, 'ab-output-a').textContent();
    const b = await byTestId(page, 'ab-output-b').textContent();
    const [wantA, wantB] = [
      await node.greedy(node.model, 40),
      await node.greedy((await node.quantize(RTN4)).model, 40),
    ];
    assert(a === wantA, `A (fp32) differs from Node:\n  page ${JSON.stringify(a)}\n  node ${JSON.stringify(wantA)}`);
    assert(b === wantB, `B (int4) differs from Node:\n  page ${JSON.stringify(b)}\n  node ${JSON.stringify(wantB)}`);
    const div = await byTestId(page, 'ab-diverge').getAttribute('data-index');
    log(
      `A/B: diverge at ${div === '' ? 'never' : `token ${Number(div) + 1}`}; A ${JSON.stringify(a.slice(0, 60))}…; B ${JSON.stringify(b.slice(0, 60))}…`,
    );
    const stats = await page.locator('[data-testid="ab-turn"] .turn-stats').allTextContents();
    assert(stats.length === 2 && stats.every((s) => /tok\/s/.test(s) && /GPU \d/.test(s)), `side stats: ${stats}`);
    await shot(page, 'playground-ab');
  });

  await test('LM truncation lab: the slider at 3 fraction bits adds a curve point equal to Node’s evaluation', async () => {
    await byTestId(page, 'tab-truncation').click();
    const slider = byTestId(page, 'trunc-slider');
    await slider.waitFor();
    await page.locator('[data-testid="trunc-plot"]:not([data-points="0"])').waitFor({ timeout: T.job }); // k = 23 first
    await slider.fill('3');
    await page.locator('[data-testid="trunc-k"]', { hasText: 'k = 3' }).waitFor();
    await byTestId(page, 'trunc-sample-text').waitFor({ timeout: T.job });
    await page.waitForFunction(
      () => document.querySelector('[data-testid="trunc-plot"]')?.getAttribute('data-points') === '2',
      null,
      { timeout: T.job },
    );
    const t = await json('trunc-chart');
    const p3 = t.points.find((p) => p.k === 3 && p.mode === 'truncate');
    const p23 = t.points.find((p) => p.k === 23);
    assert(p3 && p23, `points: ${t.points.map((p) => `${p.mode}:${p.k}`)}`);
    const ref = await node.truncEval(3, 'truncate', t.evalWindows);
    assert(Math.abs(p3.ppl - ref.ppl) / ref.ppl < 1e-3, `k=3 ppl ${p3.ppl} vs Node ${ref.ppl}`);
    assert(
      Math.abs(p3.top1 - ref.top1Agreement) <= 4 / ref.tokens,
      `k=3 top-1 ${p3.top1} vs Node ${ref.top1Agreement}`,
    );
    assert(p23.top1 === 1 && p3.top1 < 1, `top-1 at 23 bits ${p23.top1}, at 3 bits ${p3.top1}`);
    log(
      `truncation: k=23 ppl ${p23.ppl.toFixed(3)}; k=3 ppl ${p3.ppl.toFixed(3)} (Node ${ref.ppl.toFixed(3)}), top-1 ${(p3.top1 * 100).toFixed(1)} %; sample "${p3.sample.slice(0, 50)}…"`,
    );
    await shot(page, 'playground-truncation');
    // A few more points, each computed as the slider stops there: the collapse at small k shows.
    const plot = byTestId(page, 'trunc-plot');
    for (const k of [0, 1, 8]) {
      const before = Number(await plot.getAttribute('data-points'));
      await slider.fill(String(k));
      await page.waitForFunction(
        (n) => Number(document.querySelector('[data-testid="trunc-plot"]')?.getAttribute('data-points')) > n,
        before,
        { timeout: T.job },
      );
    }
    const curve = (await json('trunc-chart')).points.filter((p) => p.mode === 'truncate');
    const at = (k) => curve.find((p) => p.k === k);
    assert(
      at(0).ppl > at(3).ppl && at(3).ppl >= at(8).ppl - 1e-9 && at(0).top1 < at(8).top1,
      `curve: ${curve.map((p) => `k${p.k} ppl ${p.ppl.toFixed(2)} top-1 ${p.top1.toFixed(3)}`).join(', ')}`,
    );
    log(
      `truncation curve: ${curve.map((p) => `k=${p.k} ppl ${p.ppl.toFixed(2)} top-1 ${(p.top1 * 100).toFixed(0)} %`).join(' · ')}`,
    );
    await shot(page, 'playground-truncation-curve');
  });

  await test('the URL hash reproduces the view and its options', async () => {
    const hash = await page.evaluate(() => window.location.hash);
    assert(/v=truncation/.test(hash) && /k=8/.test(hash), `hash: ${hash}`);
    const other = await page.context().newPage();
    await loadApp(other, `${URL_}#v=charts&m=gptq&b=3&g=64&L=2&lin=w2&log=1`);
    await byTestId(other, 'charts-tab').waitFor();
    assert(
      (await byTestId(other, 'chart-quantizer').textContent()) === 'gptq int3 g64',
      `quantizer: ${await byTestId(other, 'chart-quantizer').textContent()}`,
    );
    assert(
      (await byTestId(other, 'pick-layer').inputValue()) === '2' &&
        (await byTestId(other, 'pick-linear').inputValue()) === 'w2',
      'tensor not restored',
    );
    assert(await byTestId(other, 'hist-log').isChecked(), 'log count not restored');
    await other.close();
  });

  await test('no request left localhost; no console or page errors', async () => {
    log(
      `${requests.length} requests, e.g. ${[...new Set(requests.map((u) => u.replace(/\?.*$/, '')))].slice(0, 4).join(', ')}`,
    );
    assertLocalOnly(requests);
    assertNoErrors(errors);
  });
  await page.context().close();
}
