// The vision half of the truncation lab in the browser (onnxruntime-web wasm in the vision
// worker), every number checked against the same computation in Node (src/engine/vision on
// onnxruntime-web's Node build, computed here, not hardcoded):
//   1. The embedded ViT opens; its fp32 accuracy on the 2,000 held-out digits equals Node's.
//   2. The slider at 3 fraction bits (truncate): accuracy within 0.5 % of Node's rewritten model
//      (in practice equal), and the digit grid's predictions equal Node's for those images.
//   3. 0 fraction bits: truncation collapses, round-to-nearest does not — both equal to Node's.
//   4. A dropped image folder (PNG digits made here) + labels.csv is decoded in the page and
//      classified: accuracy equal to Node's on the same images.
//   5. A file that is not a model: the typed error banner, then back to the embedded ViT.
//   6. No console errors; no request left localhost.
import { crc32, deflateSync } from 'node:zlib';
import * as ort from 'onnxruntime-web';
import { COMMON_ARGS, T, assert, assertLocalOnly, assertNoErrors, byTestId, loadApp, log } from './lib.mjs';
import { openPage, shot } from './lib.mjs';

export const name = 'vision';
export const budgetMs = 5 * 60_000;

const T_EVAL = 120_000; // one evaluation: rewrite + new session + 2,000 images on wasm, 2 shared cores
const DROPPED = 24; // PNG digits in the dropped folder

/** A grayscale 8-bit PNG (no dependency: zlib stream + CRC32 chunks). */
function png(gray, width, height) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++)
    Buffer.from(gray.subarray(y * width, (y + 1) * width)).copy(raw, y * (width + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Node's side: the same lab on the same files (fp32, truncate 3 and 0, rne 0). */
async function nodeSide(e) {
  ort.env.wasm.numThreads = 1;
  const [{ createVisionLab }, { datasetFromIdx }, { readIdxImages }] = await Promise.all([
    e.imp('src/engine/vision/lab.ts'),
    e.imp('src/engine/vision/dataset.ts'),
    e.imp('src/core/formats/idx.ts'),
  ]);
  const imagesIdx = e.readRepo('public/data/mnist-heldout-images.idx3');
  const labelsIdx = e.readRepo('public/data/mnist-heldout-labels.idx1');
  const onnx = e.readRepo('public/models/vit-mnist.onnx');
  const data = datasetFromIdx(imagesIdx, labelsIdx);
  const lab = await createVisionLab(ort, onnx, data);
  const t0 = Date.now();
  const r = {
    fp32: await lab.evaluateFp32(),
    t3: await lab.evaluateTruncated(3, 'truncate'),
    t0: await lab.evaluateTruncated(0, 'truncate'),
    r0: await lab.evaluateTruncated(0, 'rne'),
  };
  await lab.dispose();
  e.log(
    `node: fp32 ${r.fp32.accuracy}, truncate k=3 ${r.t3.accuracy}, truncate k=0 ${r.t0.accuracy}, rne k=0 ${r.r0.accuracy} (${Date.now() - t0} ms)`,
  );
  const raw = readIdxImages(imagesIdx);
  const hw = raw.rows * raw.cols;
  const pngs = Array.from({ length: DROPPED }, (_, i) => ({
    name: `digit-${String(i).padStart(3, '0')}.png`,
    mimeType: 'image/png',
    buffer: png(raw.pixels.subarray(i * hw, (i + 1) * hw), raw.cols, raw.rows),
  }));
  const labelsCsv = `filename,label\n${pngs.map((p, i) => `${p.name},${data.labels[i]}`).join('\n')}\n`;
  const droppedCorrect = Array.from({ length: DROPPED }, (_, i) => r.fp32.predictions[i] === data.labels[i]).filter(
    Boolean,
  ).length;
  return { ...r, onnx, pngs, labelsCsv, droppedCorrect, labels: Array.from(data.labels.subarray(0, 48)) };
}

export default async function vision(e) {
  const { test, launch } = e;
  const node = await nodeSide(e);
  // ORT runs on wasm: the vision lab needs no WebGPU (the chat falls back to the CPU).
  const browser = await launch(COMMON_ARGS);
  const { page, errors, requests } = await openPage(browser, { viewport: { width: 1360, height: 900 } });
  const readout = byTestId(page, 'vision-readout');
  /** On a timeout, say what the lab was doing (progress line, model facts). */
  const explain = async (what, p) => {
    try {
      await p;
    } catch (err) {
      const lab = await byTestId(page, 'vision-lab')
        .textContent()
        .catch(() => '(no lab)');
      throw new Error(`${what}: ${err.message}\n  the lab shows: ${lab.slice(0, 400)}`);
    }
  };
  const waitPoint = async (k, mode) => {
    const done = page.locator(`[data-testid="vision-readout"][data-k="${k}"][data-mode="${mode}"][data-status="done"]`);
    await explain(`waiting for ${mode} k=${k}`, done.waitFor({ timeout: T_EVAL }));
    return Number(await done.getAttribute('data-accuracy'));
  };
  const gridPredictions = async () =>
    page.locator('[data-testid="digit-cell"]').evaluateAll((cells) =>
      cells.map((c) => ({
        label: Number(c.dataset.label),
        pred: c.dataset.pred === '' ? null : Number(c.dataset.pred),
        wrong: c.dataset.wrong === 'true',
      })),
    );

  await test('vision: the embedded ViT opens in the vision worker; fp32 accuracy on 2,000 digits equals Node’s', async () => {
    await loadApp(page);
    await byTestId(page, 'tab-truncation').click();
    await explain(
      'opening the embedded ViT',
      page.locator('[data-testid="vision-lab"][data-status="ready"]').waitFor({ timeout: T_EVAL }),
    );
    const model = await byTestId(page, 'vision-model').textContent();
    assert(
      /vit-mnist\.onnx/.test(model) &&
        /139,018 floats in 56 initializers/.test(model) &&
        /2,000 images, 28×28/.test(model),
      `model facts: ${model}`,
    );
    await explain(
      'the fp32 reference',
      page.locator('[data-testid="vision-readout"]:not([data-fp32=""])').waitFor({ timeout: T_EVAL }),
    );
    const fp32 = Number(await readout.getAttribute('data-fp32'));
    assert(fp32 === node.fp32.accuracy, `fp32 accuracy in the page ${fp32}, Node ${node.fp32.accuracy}`);
    log(`page: fp32 accuracy ${fp32}`);
  });

  await test('vision: slider at 3 fraction bits — a rewritten model in a new session — within 0.5 % of Node, grid predictions equal', async () => {
    await byTestId(page, 'vision-mode-truncate').click();
    const t0 = Date.now();
    await byTestId(page, 'vision-bits').fill('3');
    assert((await byTestId(page, 'vision-bits-value').textContent()) === '3', 'slider label does not say 3');
    const acc = await waitPoint(3, 'truncate');
    log(`page: truncate k=3 accuracy ${acc} in ${Date.now() - t0} ms (Node ${node.t3.accuracy})`);
    assert(
      Math.abs(acc - node.t3.accuracy) <= 0.005,
      `k=3 accuracy in the page ${acc}, Node ${node.t3.accuracy}: more than 0.5 % apart`,
    );
    assert(
      acc < node.fp32.accuracy,
      `k=3 accuracy ${acc} is not below fp32 ${node.fp32.accuracy}: was the model really rewritten?`,
    );
    const cells = await gridPredictions();
    assert(cells.length === 48, `${cells.length} digits in the grid`);
    cells.forEach((c, i) => {
      assert(c.label === node.labels[i], `digit ${i}: label ${c.label}, IDX says ${node.labels[i]}`);
      assert(c.pred === node.t3.predictions[i], `digit ${i}: page predicts ${c.pred}, Node ${node.t3.predictions[i]}`);
      assert(c.wrong === (c.pred !== c.label), `digit ${i}: marked wrong=${c.wrong} for ${c.pred} vs label ${c.label}`);
    });
    await page.locator('[data-testid="vision-curve"] .recharts-line-dot').first().waitFor({ timeout: T.action });
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'vision-k3-truncate');
  });

  await test('vision: at 0 fraction bits truncation collapses and round-to-nearest does not — both equal to Node', async () => {
    await byTestId(page, 'vision-bits').fill('0');
    const t = await waitPoint(0, 'truncate');
    const cells = await gridPredictions();
    const wrong = cells.filter((c) => c.wrong).length;
    await page.locator('[data-testid="digit-grid"]').scrollIntoViewIfNeeded();
    await shot(page, 'vision-k0-truncate');
    await byTestId(page, 'vision-mode-rne').click();
    const r = await waitPoint(0, 'rne');
    log(
      `page: k=0 truncate ${t} (${wrong} of 48 sample digits wrong), rne ${r}; Node ${node.t0.accuracy}, ${node.r0.accuracy}`,
    );
    assert(
      Math.abs(t - node.t0.accuracy) <= 0.005 && Math.abs(r - node.r0.accuracy) <= 0.005,
      `k=0: page ${t} / ${r}, Node ${node.t0.accuracy} / ${node.r0.accuracy}`,
    );
    assert(t < 0.3 && r > 0.95, `expected a collapse for truncate (${t}) and none for rne (${r})`);
    assert(wrong > 24, `only ${wrong} of 48 sample digits are red at k=0 truncated`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'vision-k0-rne');
  });

  await test('vision: a dropped image folder + labels.csv is decoded in the page and classified like Node', async () => {
    await byTestId(page, 'vision-files').setInputFiles([
      { name: 'vit-mnist.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(node.onnx) },
      ...node.pngs,
      { name: 'labels.csv', mimeType: 'text/csv', buffer: Buffer.from(node.labelsCsv) },
    ]);
    const model = byTestId(page, 'vision-model');
    await page
      .locator('[data-testid="vision-model"]', { hasText: `${DROPPED} images, 28×28` })
      .waitFor({ timeout: T_EVAL });
    await page.locator('[data-testid="vision-readout"]:not([data-fp32=""])').waitFor({ timeout: T_EVAL });
    const fp32 = Number(await readout.getAttribute('data-fp32'));
    const want = node.droppedCorrect / DROPPED;
    log(`page: dropped ${DROPPED} PNGs → fp32 accuracy ${fp32} (Node ${want}); ${await model.textContent()}`);
    assert(fp32 === want, `fp32 accuracy on the dropped images ${fp32}, Node ${want}`);
    await waitPoint(0, 'rne'); // the slider stays where it was: rne k=0 on the new model
    assert((await gridPredictions()).length === DROPPED, 'the grid does not show the dropped images');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'vision-dropped-folder');
  });

  await test('vision: a file that is not an ONNX model gives the typed error banner; the embedded ViT comes back', async () => {
    await byTestId(page, 'vision-files').setInputFiles([
      {
        name: 'broken.onnx',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from('this is not a protobuf at all, just text'.repeat(4)),
      },
    ]);
    const banner = byTestId(page, 'error-banner');
    await banner.waitFor({ timeout: T_EVAL });
    const text = await banner.textContent();
    assert(/bad-format|truncated/.test(text) && /broken\.onnx/.test(text), `banner says: ${text}`);
    await page.locator('[data-testid="vision-lab"][data-status="error"]').waitFor();
    await shot(page, 'vision-bad-model');
    await banner.getByRole('button', { name: 'Dismiss error' }).click();
    await byTestId(page, 'vision-back').click();
    await page.locator('[data-testid="vision-model"]', { hasText: '2,000 images' }).waitFor({ timeout: T_EVAL });
    await page.locator('[data-testid="vision-readout"]:not([data-fp32=""])').waitFor({ timeout: T_EVAL });
    assert(
      Number(await readout.getAttribute('data-fp32')) === node.fp32.accuracy,
      'the embedded ViT did not come back',
    );
  });

  await test('vision: no console errors; no request left localhost', async () => {
    assertNoErrors(errors);
    assertLocalOnly(requests);
    assert(
      requests.some((u) => /ort-wasm-simd-threaded.*\.wasm$/.test(u)),
      `the ORT wasm was never requested: ${requests.filter((u) => /wasm|ort/.test(u)).join(', ')}`,
    );
  });
}
