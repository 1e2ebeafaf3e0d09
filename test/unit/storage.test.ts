// The stored-models store (src/worker/storage/storage.ts) on an in-memory fake of the OPFS handles:
// the contract (shared with memoryStore), temp-then-rename writes with the manifest last, a
// simulated reload at every step of a put and a remove, orphan cleanup, and recovery from a
// corrupt or missing manifest. The real OPFS is exercised by test/e2e/offline.e2e.mjs.
import { describe, expect, it } from 'vitest';
import {
  memoryStore,
  openOpfsStore,
  STORE_DIR,
  type ModelStore,
  type OpenedStore,
} from '../../src/worker/storage/storage.ts';
import { Crash, FakeFs, type MoveMode } from './storage-fake-fs.ts';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const open = (fs: FakeFs) => openOpfsStore(fs.root as unknown as FileSystemDirectoryHandle);
const MODEL = { 'model.bin': bytes(1000), 'tokenizer.bin': bytes(60, 7) };
const VARIANT = { 'model.nibble': bytes(333, 3) };
const META = { label: 'int4 RTN g32', spec: { method: 'rtn', bits: 4, group: 32 }, baseModel: 'stories260K' };

async function contract(make: () => Promise<ModelStore>) {
  const store = await make();
  expect(await store.list()).toEqual([]);
  const m = await store.put({ kind: 'model', name: 'stories260K' }, MODEL);
  expect(m).toMatchObject({ kind: 'model', name: 'stories260K', bytes: 1060 });
  expect(m.id).toMatch(/^model-/);
  const v = await store.put({ kind: 'variant', name: 'q4', meta: META, id: 'v1' }, VARIANT);
  expect(v).toMatchObject({ id: 'v1', kind: 'variant', bytes: 333, meta: META });
  expect((await store.list()).map((e) => e.id)).toEqual([m.id, 'v1']);
  const got = await store.get(m.id);
  expect(got.entry).toEqual(m);
  expect(got.files).toEqual(MODEL);
  // the same id replaces the entry
  const v2 = await store.put({ kind: 'variant', name: 'q4 again', id: 'v1' }, { 'model.nibble': bytes(10) });
  expect((await store.list()).map((e) => [e.id, e.name])).toEqual([
    [m.id, 'stories260K'],
    ['v1', 'q4 again'],
  ]);
  expect((await store.get('v1')).files['model.nibble']).toEqual(bytes(10));
  expect(v2.meta).toBeUndefined();
  await store.remove(m.id);
  await store.remove(m.id); // removing twice is fine
  expect((await store.list()).map((e) => e.id)).toEqual(['v1']);
  await expect(store.get(m.id)).rejects.toMatchObject({ name: 'NibbleError', code: 'bad-argument' });
  // bad puts are typed errors and change nothing
  await expect(store.put({ kind: 'model', name: 'x' }, {})).rejects.toMatchObject({ code: 'bad-argument' });
  await expect(store.put({ kind: 'model', name: 'x' }, { '../evil': bytes(1) })).rejects.toMatchObject({
    code: 'bad-argument',
  });
  await expect(store.put({ kind: 'model', name: 'x' }, { 'entry.json': bytes(1) })).rejects.toMatchObject({
    code: 'bad-argument',
  });
  await expect(store.put({ kind: 'model', name: 'x', id: 'a/b' }, VARIANT)).rejects.toMatchObject({
    code: 'bad-argument',
  });
  await expect(store.put({ kind: 'thing' as 'model', name: 'x' }, VARIANT)).rejects.toMatchObject({
    code: 'bad-argument',
  });
  expect((await store.list()).map((e) => e.id)).toEqual(['v1']);
  // the store copies: changing the caller's buffer afterwards changes nothing stored
  const buf = bytes(8);
  await store.put({ kind: 'model', name: 'copy', id: 'c' }, { 'model.bin': buf });
  buf.fill(0);
  expect((await store.get('c')).files['model.bin']).toEqual(bytes(8));
  const q = await store.quota();
  expect(q.usage).toBeGreaterThan(0);
}

describe('store contract', () => {
  it('memoryStore', () => contract(async () => memoryStore()));
  for (const mode of ['move', 'no-move', 'no-overwrite'] as MoveMode[]) {
    it(`OPFS store on the fake file system (rename: ${mode})`, async () => {
      const fs = new FakeFs(mode);
      await contract(() => open(fs));
      // nothing left behind but the manifest and the live entries' directories
      const paths = fs.paths();
      expect(paths.filter((p) => p.endsWith('.tmp'))).toEqual([]);
      const reopened = await open(fs);
      expect(reopened.recovery).toBeNull();
      expect((await reopened.list()).map((e) => e.id)).toEqual(['v1', 'c']);
      expect((await reopened.get('c')).files['model.bin']).toEqual(bytes(8));
    });
  }
});

describe('writes: temp file, rename, manifest last', () => {
  it('every file is written as .tmp and renamed; the manifest is replaced after the entry is complete', async () => {
    const fs = new FakeFs('move');
    const store = await open(fs);
    fs.log = [];
    const e = await store.put({ kind: 'variant', name: 'q4', meta: META }, VARIANT);
    const log = fs.log.map((l) => l.replace(/\/e-[^/]+\//, '/E/'));
    expect(log).toEqual([
      `mkdir ${STORE_DIR}/E/`,
      `create ${STORE_DIR}/E/model.nibble.tmp`,
      `write ${STORE_DIR}/E/model.nibble.tmp`,
      `close ${STORE_DIR}/E/model.nibble.tmp`,
      `move ${STORE_DIR}/E/model.nibble.tmp -> model.nibble`,
      `create ${STORE_DIR}/E/entry.json.tmp`,
      `write ${STORE_DIR}/E/entry.json.tmp`,
      `close ${STORE_DIR}/E/entry.json.tmp`,
      `move ${STORE_DIR}/E/entry.json.tmp -> entry.json`,
      `create ${STORE_DIR}/manifest.json.tmp`,
      `write ${STORE_DIR}/manifest.json.tmp`,
      `close ${STORE_DIR}/manifest.json.tmp`,
      `move ${STORE_DIR}/manifest.json.tmp -> manifest.json`,
    ]);
    const manifest = JSON.parse(new TextDecoder().decode(fs.root.file(`${STORE_DIR}/manifest.json`)!.data));
    expect(manifest).toMatchObject({
      format: 'nibble-store',
      version: 1,
      entries: [{ id: e.id, kind: 'variant', bytes: 333, files: { 'model.nibble': 333 } }],
    });
  });

  for (const mode of ['move', 'no-move', 'no-overwrite'] as MoveMode[]) {
    it(`a reload at any step of a put or a remove leaves the old or the new state, never a broken entry (${mode})`, async () => {
      // Count the steps of the whole scenario once, then crash at each of them in turn.
      const scenario = async (store: OpenedStore) => {
        await store.put({ kind: 'variant', name: 'replacement', id: 'keep' }, { 'model.nibble': bytes(50, 9) });
        await store.put({ kind: 'model', name: 'new model' }, MODEL);
        await store.remove('gone');
      };
      const seed = async (fs: FakeFs) => {
        const s = await open(fs);
        await s.put({ kind: 'variant', name: 'original', id: 'keep' }, VARIANT);
        await s.put({ kind: 'model', name: 'doomed', id: 'gone' }, { 'model.bin': bytes(20) });
        return s;
      };
      const probe = new FakeFs(mode);
      const probeStore = await seed(probe);
      const before = probe.ops;
      await scenario(probeStore);
      const total = probe.ops - before;
      expect(total).toBeGreaterThan(20);
      let crashes = 0;
      for (let at = 1; at <= total; at++) {
        const fs = new FakeFs(mode);
        const store = await seed(fs);
        fs.crashAt = fs.ops + at;
        await scenario(store).catch((e: unknown) => expect(e).toBeInstanceOf(Crash));
        if (fs.crashed) crashes++;
        fs.crashAt = Infinity;
        fs.crashed = false;
        const after = await open(fs); // the reload
        expect(after.recovery).toBeNull();
        const list = await after.list();
        const keep = list.find((e) => e.id === 'keep')!;
        const got = await after.get('keep');
        if (keep.name === 'original') expect(got.files).toEqual(VARIANT);
        else expect(got.files).toEqual({ 'model.nibble': bytes(50, 9) });
        for (const e of list) await expect(after.get(e.id)).resolves.toMatchObject({ entry: e }); // every entry loads
        const newModel = list.find((e) => e.name === 'new model');
        if (newModel) expect((await after.get(newModel.id)).files).toEqual(MODEL);
        // no temp files, no directories the manifest does not name
        const paths = fs.paths();
        expect(paths.filter((p) => p.endsWith('.tmp'))).toEqual([]);
        const dirs = paths.filter((p) => /^nibble-store\/e-[^/]+\/$/.test(p)).length;
        expect(dirs).toBe(list.length);
      }
      expect(crashes).toBe(total);
    });
  }
});

describe('opening: orphans and damaged manifests', () => {
  const seeded = async (mode: MoveMode = 'move') => {
    const fs = new FakeFs(mode);
    const s = await open(fs);
    const a = await s.put({ kind: 'model', name: 'A', id: 'a' }, MODEL);
    const b = await s.put({ kind: 'variant', name: 'B', id: 'b', meta: META }, VARIANT);
    return { fs, a, b };
  };
  const manifestPath = `${STORE_DIR}/manifest.json`;

  it('removes directories and temp files the manifest does not name', async () => {
    const { fs } = await seeded();
    fs.root.writeNow(`${STORE_DIR}/e-half-written-xyz/model.bin.tmp`, bytes(5));
    fs.root.writeNow(`${STORE_DIR}/e-zombie-1/model.bin`, bytes(5));
    fs.root.writeNow(`${STORE_DIR}/manifest.json.tmp`, '{"format":"nibble-store"');
    fs.root.writeNow(`${STORE_DIR}/stray.txt`, 'x');
    const entryDir = fs.paths().find((p) => /e-a-/.test(p))!;
    fs.root.writeNow(`${entryDir}model.bin.tmp`, bytes(3));
    const s = await open(fs);
    expect(s.recovery).toBeNull();
    expect((await s.list()).map((e) => e.id)).toEqual(['a', 'b']);
    const left = fs.paths();
    expect(left.some((p) => /half-written|zombie|stray|\.tmp$/.test(p))).toBe(false);
    expect((await s.get('a')).files).toEqual(MODEL);
  });

  it('a manifest that is not JSON: typed recovery, entries rebuilt from their directories', async () => {
    const { fs, a, b } = await seeded();
    fs.root.writeNow(manifestPath, '{"format":"nibble-store","version":1,"entries":[{"id":"a"'); // cut mid-write
    const s = await open(fs);
    expect(s.recovery).toMatchObject({ code: 'bad-format', recovered: 2 });
    expect(s.recovery!.message).toMatch(/not JSON/);
    expect(await s.list()).toEqual([a, b]);
    expect((await s.get('b')).files).toEqual(VARIANT);
    // the repaired manifest is valid: the next open is clean
    expect((await open(fs)).recovery).toBeNull();
  });

  it('a manifest with one bad record keeps the others; a record whose files are gone is dropped', async () => {
    const { fs, b } = await seeded();
    const m = JSON.parse(new TextDecoder().decode(fs.root.file(manifestPath)!.data));
    m.entries[0].bytes = -5; // record 'a' invalid
    fs.root.writeNow(manifestPath, JSON.stringify(m));
    const s = await open(fs);
    expect(s.recovery?.code).toBe('bad-format');
    // 'a' itself is rescued from its entry.json (its files are complete)
    expect((await s.list()).map((e) => e.id)).toEqual(['a', 'b']);

    const bDir = fs.paths().find((p) => /e-b-.*\/$/.test(p))!;
    fs.root.file(`${bDir}model.nibble`)!.data = bytes(100); // truncated file
    const s2 = await open(fs);
    expect(s2.recovery!.message).toMatch(/incomplete/);
    expect((await s2.list()).map((e) => e.id)).toEqual(['a']);
    expect(b.id).toBe('b');
  });

  it('a missing manifest is rebuilt; garbage everywhere gives an empty working store, never a throw', async () => {
    const { fs, a, b } = await seeded();
    await fs.root.getDirectoryHandle(STORE_DIR).then((d) => d.removeEntry('manifest.json'));
    const s = await open(fs);
    expect(s.recovery?.message).toMatch(/missing/);
    expect(await s.list()).toEqual([a, b]);

    for (const p of fs.paths()) if (p.endsWith('entry.json')) fs.root.writeNow(p, 'garbage');
    fs.root.writeNow(manifestPath, '\u0000\u0001 not a manifest');
    const s2 = await open(fs);
    expect(s2.recovery).toMatchObject({ code: 'bad-format', recovered: 0 });
    expect(await s2.list()).toEqual([]);
    await s2.put({ kind: 'model', name: 'fresh', id: 'f' }, MODEL);
    expect((await (await open(fs)).list()).map((e) => e.id)).toEqual(['f']);
  });

  it('a manifest of another version or shape is not trusted', async () => {
    const { fs } = await seeded();
    fs.root.writeNow(manifestPath, JSON.stringify({ format: 'nibble-store', version: 2, entries: [] }));
    const s = await open(fs);
    expect(s.recovery?.message).toMatch(/version 2/);
    expect((await s.list()).map((e) => e.id)).toEqual(['a', 'b']); // rebuilt from directories
  });

  it('a file truncated after opening gives a typed error on get', async () => {
    const { fs } = await seeded();
    const s = await open(fs);
    const aDir = fs.paths().find((p) => /e-a-.*\/$/.test(p))!;
    fs.root.file(`${aDir}model.bin`)!.data = bytes(3);
    await expect(s.get('a')).rejects.toMatchObject({ name: 'NibbleError', code: 'truncated' });
    await (await fs.root.getDirectoryHandle(STORE_DIR)).removeEntry(aDir.split('/')[1], { recursive: true });
    await expect(s.get('a')).rejects.toMatchObject({ name: 'NibbleError', code: 'truncated' });
  });

  it('two store instances on one directory (page and worker) see each other’s writes', async () => {
    const fs = new FakeFs();
    const page = await open(fs);
    const worker = await open(fs);
    const v = await worker.put({ kind: 'variant', name: 'from the worker', meta: META }, VARIANT);
    expect(await page.list()).toEqual([v]);
    await page.remove(v.id);
    expect(await worker.list()).toEqual([]);
  });

  it('quota without navigator.storage is the stored bytes', async () => {
    const { fs } = await seeded();
    expect(await (await open(fs)).quota()).toEqual({ usage: 1060 + 333, quota: 0 });
  });
});
