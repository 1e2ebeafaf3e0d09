// Offline: the service worker and stored models in the browser (real OPFS, real Workbox).
//   1. First visit: the service worker installs and controls the page; its precache holds the
//      app, both workers, the ORT wasm runtime and the embedded models and data.
//   2. A quantized variant (RTN int4 g32, made in the page) and a user-loaded model are stored
//      in OPFS: the Models drawer lists them with sizes and the quota; the manifest on disk
//      names exactly their directories (no temp files). An orphan directory and a stale temp
//      manifest are planted, as a reload in the middle of a write would leave them.
//   3. context.setOffline(true), reload: the app loads from the precache, the chat gives the
//      CPU engine's greedy text, the drawer still lists both entries (the orphans are gone), the
//      stored model loads from OPFS and chats, the stored variant loads without re-quantizing,
//      and the vision lab opens (ORT wasm from the precache).
//   4. Delete from the drawer; every request stayed on localhost; no console errors.
import { COMMON_ARGS, T, assert, assertLocalOnly, assertNoErrors, byTestId, generateGreedy } from './lib.mjs';
import { loadApp, log, openPage, readRepo, shot } from './lib.mjs';
export const name = 'offline';
export const budgetMs = 5 * 60_000;

const T_SW = 90_000; // install = download ~18 MB into the precache on 2 shared cores
const T_EVAL = 120_000;

/** What is in OPFS under nibble-store/ (read in the page). */
const readOpfs = (page) =>
  page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('nibble-store', { create: true });
    const names = [];
    for await (const n of dir.keys()) names.push(n);
    let manifest = null;
    try {
      manifest = JSON.parse(await (await (await dir.getFileHandle('manifest.json')).getFile()).text());
    } catch {
      manifest = null;
    }
    const inside = {};
    for (const n of names.filter((x) => x.startsWith('e-'))) {
      inside[n] = [];
      for await (const f of (await dir.getDirectoryHandle(n)).keys()) inside[n].push(f);
    }
    return { names: names.sort(), manifest, inside };
  });

export default async function offline(e) {
  const { test, launch } = e;
  const expected = await e.expectedGreedy(20);
  const browser = await launch(COMMON_ARGS); // the CPU engine: offline behaviour, not kernels, is under test
  const { context, page, errors, requests } = await openPage(browser);
  const drawerEntry = (name) => page.locator(`[data-testid="stored-entry"][data-name="${name}"]`);
  const openDrawer = async () => {
    await byTestId(page, 'models-drawer-open').click();
    await page.locator('[data-testid="models-drawer"][data-status="ready"]').waitFor();
  };
  const closeDrawer = () => byTestId(page, 'models-drawer-close').click();
  let variantLabel = null;
  /** The drawer is fixed to the viewport: a full-page shot would cut it; this one does not. */
  const viewportShot = async (name) => {
    await page.screenshot({ path: `${e.OUT}/${name}.png` });
    log(`screenshot test-results/${name}.png`);
  };

  await test('offline: the service worker installs, controls the page, and precaches the app, ORT wasm and the embedded models', async () => {
    await loadApp(page);
    await page
      .locator('[data-testid="offline-status"][data-sw="ready"][data-controlled="true"]')
      .waitFor({ timeout: T_SW });
    const cache = await page.evaluate(async () => {
      const keys = await caches.keys();
      const urls = [];
      for (const k of keys) for (const r of await (await caches.open(k)).keys()) urls.push(new URL(r.url).pathname);
      return { keys, urls, sw: navigator.serviceWorker.controller?.scriptURL ?? null };
    });
    assert(/\/sw\.js$/.test(cache.sw ?? ''), `controller: ${cache.sw}`);
    const want = [
      /^\/index\.html$/,
      /^\/models\/stories260K\.bin$/,
      /^\/models\/tok512\.bin$/,
      /^\/models\/vit-mnist\.onnx$/,
      /^\/data\/mnist-heldout-images\.idx3$/,
      /^\/data\/mnist-heldout-labels\.idx1$/,
      /^\/assets\/ort-wasm-simd-threaded-[\w-]+\.wasm$/,
      /^\/assets\/engine\.worker-[\w-]+\.js$/,
      /^\/assets\/vision\.worker-[\w-]+\.js$/,
    ];
    for (const re of want)
      assert(
        cache.urls.some((u) => re.test(u)),
        `precache lacks ${re}: ${cache.urls.join(', ')}`,
      );
    log(`precache: ${cache.urls.length} files in ${cache.keys.join(', ')}`);
  });

  await test('offline: a quantized variant is stored in OPFS as it is made', async () => {
    await byTestId(page, 'tab-quantize').click();
    await byTestId(page, 'q-method').selectOption('rtn');
    await byTestId(page, 'q-bits').fill('4');
    await byTestId(page, 'q-group').fill('32');
    variantLabel = (await byTestId(page, 'quant-label').textContent()).trim();
    await byTestId(page, 'quantize-run').click();
    await page.locator('[data-testid="variant-row"]').first().waitFor({ timeout: T.job });
    await openDrawer();
    await page
      .locator(`[data-testid="stored-entry"][data-kind="variant"][data-name="${variantLabel}"]`)
      .waitFor({ timeout: T.job });
    await closeDrawer();
  });

  await test('offline: a user-loaded model is stored in OPFS; the drawer lists it with its size and the quota; no temp files', async () => {
    await byTestId(page, 'tab-chat').click();
    await byTestId(page, 'model-files').setInputFiles([
      {
        name: 'my-stories.bin',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from(readRepo('public/models/stories260K.bin')),
      },
      {
        name: 'my-tok512.bin',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from(readRepo('public/models/tok512.bin')),
      },
    ]);
    await page.locator('[data-testid="byom"][data-phase="planned"]').waitFor({ timeout: T.ready });
    assert(await byTestId(page, 'keep-model').isChecked(), '"Keep in this browser" is not ticked by default');
    await byTestId(page, 'byom-load').click();
    await page
      .locator('[data-testid="model-status"][data-status="ready"]', { hasText: 'my-stories.bin' })
      .waitFor({ timeout: T.ready });
    await openDrawer();
    const entry = drawerEntry('my-stories.bin');
    await entry.waitFor({ timeout: T.action });
    const text = await entry.textContent();
    assert(/1\.0 MiB/.test(text), `entry says: ${text}`);
    const quota = byTestId(page, 'models-drawer').locator('[data-testid="storage-quota"]');
    const usage = Number(await quota.getAttribute('data-usage'));
    const avail = Number(await quota.getAttribute('data-quota'));
    assert(usage > 1_000_000 && avail > usage, `quota: ${usage} used of ${avail}`);
    await viewportShot('offline-drawer-online');
    await closeDrawer();
    const disk = await readOpfs(page);
    const entries = disk.manifest?.entries ?? [];
    assert(entries.length === 2, `manifest has ${entries.length} entries`);
    const m = entries.find((x) => x.name === 'my-stories.bin');
    assert(
      m && m.kind === 'model' && m.files['model.bin'] === 1056540 && m.files['tokenizer.bin'] === 6227,
      `manifest record: ${JSON.stringify(m)}`,
    );
    assert(
      JSON.stringify(disk.names) === JSON.stringify(['manifest.json', ...entries.map((x) => x.dir)].sort()),
      `OPFS holds ${disk.names.join(', ')}`,
    );
    for (const [dir, files] of Object.entries(disk.inside))
      assert(!files.some((f) => f.endsWith('.tmp')) && files.includes('entry.json'), `${dir}: ${files.join(', ')}`);
    // What a reload in the middle of a write leaves behind: cleaned up on the next open.
    await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('nibble-store');
      const orphan = await dir.getDirectoryHandle('e-orphan-half-written', { create: true });
      const w = await (await orphan.getFileHandle('model.bin.tmp', { create: true })).createWritable();
      await w.write(new Uint8Array(1000));
      await w.close();
      const t = await (await dir.getFileHandle('manifest.json.tmp', { create: true })).createWritable();
      await t.write('{"format":"nibble-store","version":1,"entries":[');
      await t.close();
    });
  });

  await test('offline: network off, reload — the app loads from the precache, chats, and still lists the stored entries', async () => {
    const before = requests.length;
    await context.setOffline(true);
    await page.reload({ waitUntil: 'commit' });
    await page
      .locator('[data-testid="model-status"][data-status="ready"]', { hasText: 'stories260K' })
      .waitFor({ timeout: T.ready });
    await page
      .locator('[data-testid="offline-status"][data-online="false"][data-sw="ready"][data-controlled="true"]')
      .waitFor({ timeout: T.action });
    const out = await generateGreedy(page, 20);
    assert(
      out === expected,
      `offline chat text differs:\n  got      ${JSON.stringify(out)}\n  expected ${JSON.stringify(expected)}`,
    );
    await shot(page, 'offline-reloaded-chat');
    await openDrawer();
    await drawerEntry('my-stories.bin').waitFor({ timeout: T.action });
    await drawerEntry(variantLabel).waitFor({ timeout: T.action });
    await viewportShot('offline-reloaded-drawer');
    const disk = await readOpfs(page);
    assert(
      !disk.names.includes('e-orphan-half-written') && !disk.names.includes('manifest.json.tmp'),
      `orphans survived the reload: ${disk.names.join(', ')}`,
    );
    log(`offline reload: ${requests.length - before} requests, all served without the network`);
  });

  await test('offline: the stored model loads from OPFS and chats; the stored variant loads without re-quantizing', async () => {
    await drawerEntry('my-stories.bin').locator('[data-testid="stored-load"]').click();
    await page
      .locator('[data-testid="model-status"][data-status="ready"]', { hasText: 'my-stories.bin' })
      .waitFor({ timeout: T.ready });
    await closeDrawer().catch(() => undefined);
    const out = await generateGreedy(page, 20);
    assert(out === expected, `stored model's text differs: ${JSON.stringify(out)}`);
    // the variant was made from stories260K: load that first, then the variant
    await byTestId(page, 'tab-chat').click();
    await page.locator('text=Back to the embedded stories260K').click();
    await page
      .locator('[data-testid="model-status"][data-status="ready"]', { hasText: 'stories260K' })
      .waitFor({ timeout: T.ready });
    await openDrawer();
    await drawerEntry(variantLabel).locator('[data-testid="stored-load"]').click();
    await closeDrawer();
    await byTestId(page, 'tab-quantize').click();
    await page.locator('[data-testid="variant-row"]', { hasText: variantLabel }).waitFor({ timeout: T.job });
    const jobs = await page.locator('[data-testid="job"][data-kind="quantize"]').count();
    assert(jobs === 0, `${jobs} quantize jobs ran after the reload`);
  });

  await test('offline: the vision lab opens with no network (ORT wasm, ViT and digits from the precache)', async () => {
    await byTestId(page, 'tab-truncation').click();
    await page.locator('[data-testid="vision-readout"]:not([data-fp32=""])').waitFor({ timeout: T_EVAL });
    const fp32 = Number(await byTestId(page, 'vision-readout').getAttribute('data-fp32'));
    assert(fp32 === 0.9795, `offline fp32 accuracy ${fp32}`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'offline-vision');
  });

  await test('offline: deleting from the drawer removes the entry and its files', async () => {
    await openDrawer();
    const entry = drawerEntry('my-stories.bin');
    await entry.locator('[data-testid="stored-delete"]').click();
    await entry.locator('[data-testid="stored-confirm-delete"]').click();
    await entry.waitFor({ state: 'detached', timeout: T.action });
    const disk = await readOpfs(page);
    assert(disk.manifest.entries.length === 1 && disk.names.length === 2, `after delete: ${disk.names.join(', ')}`);
    await closeDrawer();
  });

  await test('offline: every request stayed on localhost; no console errors', async () => {
    await context.setOffline(false);
    assertLocalOnly(requests);
    assertNoErrors(errors);
  });
}
