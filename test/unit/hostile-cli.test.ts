// Hostile inputs at the CLI's door and in JSON (issue 10, rows 5, 11, 13, 14): JSON nested
// 100,000 deep in every JSON a model carries, shard names with NUL bytes or 300 characters, a
// FIFO where a safetensors file should be, and option names that live on Object's prototype.
// Each is a NibbleError (exit 2) with a plain-words message, in bounded time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { parseJsonObject, show } from '../../src/core/formats/hf/json.ts';
import { parseNibbleHeader } from '../../src/core/formats/nibble-file-read.ts';
import { parseSafetensors, parseSafetensorsIndex } from '../../src/core/formats/safetensors.ts';
import { HfTokenizer } from '../../src/core/tokenizers/hf-tokenizer.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { runCli } from './cli-run.ts';
import { hfFixtureFiles } from './hf-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'nibble-hostile-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const utf8 = new TextEncoder();
const deep = (n: number) => `{"a":${'['.repeat(n)}${']'.repeat(n)}}`;

/** Runs `f` and returns the NibbleError it throws (fails the test on anything else). */
function typedError(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (isNibbleError(e)) return e;
    throw e;
  }
  throw new Error('expected a NibbleError');
}

function writeFolder(name: string, files: Record<string, Uint8Array>): string {
  const d = join(dir, name);
  execFileSync('mkdir', ['-p', d]);
  for (const [n, b] of Object.entries(files)) writeFileSync(join(d, n), b);
  return d;
}

describe('JSON nested 100,000 deep (row 5)', () => {
  const text = deep(100_000);

  it('is a typed over-limit error in config.json, tokenizer.json, a safetensors header, the index and a .nibble header', () => {
    const bytes = utf8.encode(text);
    expect(typedError(() => parseJsonObject(bytes, 'config.json'))).toMatchObject({ code: 'over-limit' });
    expect(typedError(() => HfTokenizer.fromFiles(bytes)).message).toMatch(/tokenizer\.json nests .* deeper than 64/);
    expect(typedError(() => parseSafetensorsIndex(bytes)).code).toBe('over-limit');
    expect(typedError(() => parseNibbleHeader(bytes)).message).toMatch(/nibble file header nests/);
    const st = new Uint8Array(8 + bytes.length);
    new DataView(st.buffer).setUint32(0, bytes.length, true);
    st.set(bytes, 8);
    expect(typedError(() => parseSafetensors(st)).message).toMatch(/model\.safetensors header nests/);
  });

  it('brackets inside strings do not count, and a legitimately nested file still parses', () => {
    const v = parseJsonObject(utf8.encode(`{"s":"${'['.repeat(1000)}","a":[[[1]]]}`), 'x.json');
    expect((v.s as string).length).toBe(1000);
  });

  it('error messages never recurse into a deep value (show)', () => {
    let v: unknown = 1;
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(show(v)).toBe('[an array of 1]');
    expect(show({ k: v })).toBe('{"k":an array of 1}');
    expect(show('x'.repeat(1000)).length).toBeLessThanOrEqual(60);
  });

  it('the CLI exits 2 on a deep config.json', async () => {
    const files = hfFixtureFiles();
    files['config.json'] = utf8.encode(text);
    const d = writeFolder('deep', files);
    const r = await runCli(['generate', '--model', d, '--steps', '1', '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[over-limit\]: config\.json nests/);
  });
});

describe('shard index entries (row 11)', () => {
  const index = (shard: string) =>
    utf8.encode(JSON.stringify({ metadata: {}, weight_map: { 'model.embed_tokens.weight': shard } }));

  it('a NUL byte or a 300-character name is a typed error naming the entry', () => {
    for (const shard of ['a\u0000b.safetensors', `${'x'.repeat(300)}.safetensors`]) {
      const e = typedError(() => parseSafetensorsIndex(index(shard)));
      expect(e.code).toBe('bad-format');
      expect(e.message).toContain('weight_map["model.embed_tokens.weight"]');
    }
  });

  it('through the CLI: exit 2, no raw Node error', async () => {
    for (const [i, shard] of ['a\u0000b.safetensors', `${'x'.repeat(300)}.safetensors`].entries()) {
      const files = hfFixtureFiles();
      files['model.safetensors.index.json'] = index(shard);
      const model = files['model.safetensors'];
      delete files['model.safetensors'];
      files['model-00001-of-00001.safetensors'] = model;
      const r = await runCli([
        'generate',
        '--model',
        writeFolder(`shard${i}`, files),
        '--steps',
        '1',
        '--backend',
        'cpu',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\[bad-format\].*weight_map\["model\.embed_tokens\.weight"\]/);
      expect(r.stderr).not.toMatch(/ERR_INVALID_ARG_VALUE|ENAMETOOLONG/);
    }
  });
});

describe('only regular files are opened (row 13)', () => {
  it('a FIFO named model.safetensors is refused, not read', async () => {
    const files = hfFixtureFiles();
    delete files['model.safetensors'];
    const d = writeFolder('fifo', files);
    execFileSync('mkfifo', [join(d, 'model.safetensors')]);
    const t0 = performance.now();
    const r = await runCli(['generate', '--model', d, '--steps', '1', '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model\.safetensors: it is a named pipe, not a regular file/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a FIFO as --model or --tokenizer is refused', async () => {
    const p = join(dir, 'model.bin');
    execFileSync('mkfifo', [p]);
    const r = await runCli(['generate', '--model', p, '--steps', '1', '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/named pipe/);
  });
});

describe('option lookup on own properties only (row 14)', () => {
  it('--constructor, --toString and --__proto__ are unknown options', async () => {
    for (const name of ['constructor', 'tostring', 'hasownproperty']) {
      const r = await runCli(['generate', `--${name}`, 'x']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`unknown option --${name}`);
    }
  });

  it('a value named like a prototype key is stored as given', () => {
    const a = parseArgs(['--model', 'm'], { model: { kind: 'string' } });
    expect(a.values.constructor).toBeUndefined();
    expect(a.values.model).toBe('m');
  });
});
