// Pure helpers of "bring your own model": directory walking (drop entries, File System Access
// handles, webkitdirectory inputs), common-root stripping and naming, the URL field's parser,
// progress rate / ETA, what can be kept in browser storage, and the progress line's formatting.
import { describe, expect, it } from 'vitest';
import { keepable, nextProgress, parseRemoteRef, startProgress } from '../../src/state/pending-model.ts';
import type { ModelPlan, PendingSource } from '../../src/state/types.ts';
import { formatBytesOf, formatEta, formatRate, percentOf } from '../../src/ui/models/format-progress.ts';
import {
  filesFromList,
  nameForFiles,
  prepareFiles,
  stripCommonRoot,
  walkEntries,
  walkHandle,
  type EntryLike,
  type HandleLike,
} from '../../src/ui/models/source-files.ts';

const file = (name: string, size = 1, rel = '') =>
  Object.assign(new File([new Uint8Array(size)], name), rel ? { webkitRelativePath: rel } : {});
const paths = (fs: { path: string }[]) => fs.map((f) => f.path).sort();

/** A FileSystemEntry tree; directories answer readEntries in batches of 2, as Chromium does in 100s. */
function entry(name: string, children?: EntryLike[]): EntryLike {
  if (!children) return { name, isFile: true, isDirectory: false, file: (ok) => ok(file(name, name.length)) };
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader() {
      let at = 0;
      return { readEntries: (ok) => ok(children.slice(at, (at += 2))) };
    },
  };
}

function handle(name: string, children?: HandleLike[]): HandleLike {
  if (!children) return { kind: 'file', name, getFile: async () => file(name, 3) };
  return {
    kind: 'directory',
    name,
    async *values() {
      yield* children;
    },
  };
}

describe('walking what the user chose', () => {
  it('walks dropped folders recursively (batched readEntries), keeps relative paths, skips hidden entries', async () => {
    const tree = entry('stories260K-hf', [
      entry('config.json'),
      entry('model.safetensors'),
      entry('tokenizer.json'),
      entry('.gitattributes'),
      entry('.git', [entry('HEAD'), entry('objects', [entry('pack.bin')])]),
      entry('onnx', [entry('model.onnx')]),
    ]);
    const files = await walkEntries([tree, entry('notes.txt')]);
    expect(paths(files)).toEqual([
      'notes.txt',
      'stories260K-hf/config.json',
      'stories260K-hf/model.safetensors',
      'stories260K-hf/onnx/model.onnx',
      'stories260K-hf/tokenizer.json',
    ]);
    expect(files.find((f) => f.path.endsWith('config.json'))!.blob.size).toBe('config.json'.length);
  });

  it('walks a File System Access directory handle', async () => {
    const files = await walkHandle(
      handle('m', [handle('config.json'), handle('.cache', [handle('x')]), handle('sub', [handle('a.safetensors')])]),
    );
    expect(paths(files)).toEqual(['m/config.json', 'm/sub/a.safetensors']);
    expect(files[0].blob.size).toBe(3);
  });

  it('takes webkitdirectory paths when set, else names; hidden paths are dropped', () => {
    const list = [file('config.json', 1, 'hf/config.json'), file('HEAD', 1, 'hf/.git/HEAD'), file('x.gguf')];
    expect(paths(filesFromList(list))).toEqual(['hf/config.json', 'x.gguf']);
  });
});

describe('common root and name', () => {
  const sf = (path: string, size = 1) => ({ path, blob: new Blob([new Uint8Array(size)]) });

  it('strips every folder all paths share and names the model after the innermost', () => {
    const r = stripCommonRoot([
      sf('models/stories260K-hf/config.json'),
      sf('models/stories260K-hf/shards/a.safetensors'),
    ]);
    expect(r.root).toBe('stories260K-hf');
    expect(paths(r.files)).toEqual(['config.json', 'shards/a.safetensors']);
  });

  it('keeps paths without a shared folder, and a lone file as it is', () => {
    expect(stripCommonRoot([sf('a/x'), sf('b/y')]).root).toBeNull();
    expect(stripCommonRoot([sf('a/x'), sf('y')]).files.map((f) => f.path)).toEqual(['a/x', 'y']);
    const lone = stripCommonRoot([sf('m.gguf')]);
    expect(lone).toMatchObject({ root: null, files: [{ path: 'm.gguf' }] });
  });

  it('names loose files after the largest one that is not a tokenizer', () => {
    expect(nameForFiles([sf('tok512.bin', 6000), sf('notes.txt', 200)], null)).toBe('notes.txt');
    expect(nameForFiles([sf('my-stories.bin', 1000), sf('my-tok512.bin', 6000)], null)).toBe('my-stories.bin');
    expect(nameForFiles([sf('tokenizer.json', 5)], null)).toBe('tokenizer.json');
    expect(prepareFiles([sf('hf/config.json'), sf('hf/model.safetensors', 9)])).toMatchObject({
      name: 'hf',
      files: [{ path: 'config.json' }, { path: 'model.safetensors' }],
    });
  });
});

describe('the URL field', () => {
  it('accepts HF repo ids (with a revision), repo pages and https file URLs', () => {
    expect(parseRemoteRef(' nibble-test/stories260K ')).toEqual({
      ok: true,
      ref: 'nibble-test/stories260K',
      name: 'nibble-test/stories260K',
      from: 'huggingface.co/nibble-test/stories260K',
    });
    expect(parseRemoteRef('a/b@v1.0')).toMatchObject({ ok: true, ref: 'a/b@v1.0', name: 'a/b' });
    expect(parseRemoteRef('https://huggingface.co/a/b')).toMatchObject({
      ok: true,
      ref: 'a/b',
      from: 'huggingface.co/a/b',
    });
    expect(parseRemoteRef('https://huggingface.co/a/b/tree/main')).toMatchObject({ ok: true, ref: 'a/b@main' });
    expect(parseRemoteRef('https://example.org/m/x.gguf?download=1')).toMatchObject({
      ok: true,
      ref: 'https://example.org/m/x.gguf?download=1',
      name: 'x.gguf',
      from: 'example.org',
    });
    expect(parseRemoteRef('http://localhost:8000/m.bin')).toMatchObject({ ok: true, name: 'm.bin', from: 'localhost' });
    expect(parseRemoteRef('https://huggingface.co/a/b/resolve/main/m.gguf')).toMatchObject({
      ok: true,
      name: 'm.gguf',
      from: 'huggingface.co',
    });
  });

  it('refuses what it cannot fetch, with a reason', () => {
    for (const bad of [
      '',
      'stories',
      'a/b/c',
      'http://example.org/x.gguf',
      'ftp://x/y',
      'https://example.org/',
      'https://example.org/x.txt',
    ]) {
      const r = parseRemoteRef(bad);
      expect(r.ok, bad).toBe(false);
      expect((r as { message: string }).message.length).toBeGreaterThan(5);
    }
  });
});

describe('progress', () => {
  const p = (bytesDone: number, bytesTotal: number, etaMs: number | null = null) => ({
    kind: 'load' as const,
    phase: 'weights' as const,
    file: 'm.gguf',
    bytesDone,
    bytesTotal,
    etaMs,
  });

  it('measures the rate from the start and estimates an ETA when the engine gives none', () => {
    let v = startProgress('load', 1000, 0);
    v = nextProgress(v, p(100, 1000), 'load', 100);
    expect(v).toMatchObject({ bytesPerSecond: null, etaMs: null, startedAt: 0 }); // too early to measure
    v = nextProgress(v, p(500, 1000), 'load', 1000);
    expect(v.bytesPerSecond).toBeCloseTo(500);
    expect(v.etaMs).toBeCloseTo(1000);
    expect(nextProgress(v, p(600, 1000, 42), 'load', 1200).etaMs).toBe(42); // the engine's own estimate wins
    expect(nextProgress(v, p(10, 0), 'inspect', 5000)).toMatchObject({ op: 'inspect', startedAt: 5000, etaMs: null });
  });

  it('formats ETA, rate, percent and bytes', () => {
    expect([
      formatEta(null),
      formatEta(0),
      formatEta(4_400),
      formatEta(95_000),
      formatEta(120_000),
      formatEta(7_500_000),
    ]).toEqual(['—', '0 s', '4 s', '1 min 35 s', '2 min', '2 h 5 min']);
    expect([formatRate(null), formatRate(12_345_678), formatRate(250e6), formatRate(85_300), formatRate(0)]).toEqual([
      '—',
      '12.3 MB/s',
      '250 MB/s',
      '85 kB/s',
      '0 kB/s',
    ]);
    expect([percentOf(0, 0), percentOf(1, 3), percentOf(5, 5), percentOf(9, 5)]).toEqual([0, 33, 100, 100]);
    expect(formatBytesOf(1024, 2048)).toBe('1 KiB of 2 KiB');
    expect(formatBytesOf(1536, 0)).toBe('1.5 KiB');
  });
});

describe('keeping in browser storage', () => {
  const plan = (format: ModelPlan['format'], files: ModelPlan['files']) => ({ format, files }) as ModelPlan;
  const files: PendingSource = { kind: 'files', name: 'm', ref: null, from: null, files: [] };

  it('keeps one checkpoint with at most one tokenizer as it is; HF folders and downloads as a .nibble', () => {
    expect(
      keepable(
        files,
        plan('llama2c', [
          { path: 'm.bin', bytes: 9, role: 'weights' },
          { path: 't.bin', bytes: 1, role: 'tokenizer' },
        ]),
      ),
    ).toEqual({ ok: true, weights: 'm.bin', tokenizer: 't.bin' });
    expect(keepable(files, plan('gguf', [{ path: 'm.gguf', bytes: 9, role: 'weights' }]))).toEqual({
      ok: true,
      weights: 'm.gguf',
      tokenizer: null,
    });
    expect(keepable(files, plan('hf', [{ path: 'model.safetensors', bytes: 9, role: 'weights' }]))).toMatchObject({
      ok: true,
      convert: true,
      note: expect.stringMatching(/the folder is stored as one \.nibble file/),
    });
    expect(
      keepable({ ...files, kind: 'remote' }, plan('gguf', [{ path: 'm.gguf', bytes: 9, role: 'weights' }])),
    ).toMatchObject({ ok: true, convert: true, note: expect.stringMatching(/the download/) });
    expect(
      keepable(
        files,
        plan('gguf', [
          { path: 'a.gguf', bytes: 9, role: 'weights' },
          { path: 'b.gguf', bytes: 9, role: 'weights' },
        ]),
      ).ok,
    ).toBe(false);
  });
});
