// A model runs with a shorter context than its own (the default cap of 2048, --ctx, the page's
// context field), but what is written — `nibble quantize` .nibble files, `nibble export` folders
// and files, the app's downloads — carries the model's own context.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { runCli } from './cli-run.ts';
import { hfFixtureFiles, withConfig } from './hf-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'nibble-ctx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const OWN = 4096; // > the default cap of 2048
const files = withConfig(hfFixtureFiles(), (c) => (c.max_position_embeddings = OWN));
const HF_DIR = join(dir, 'hf');
mkdirSync(HF_DIR);
for (const [n, b] of Object.entries(files)) writeFileSync(join(HF_DIR, n), b);
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;

describe('files carry the model’s own context', () => {
  it('nibble quantize and nibble export write max_position_embeddings / seqLen = the own context', async () => {
    const q = await runCli([
      'quantize',
      '--model',
      HF_DIR,
      '--method',
      'rtn',
      '--bits',
      '8',
      '--out',
      join(dir, 'q8.nibble'),
    ]);
    expect(q.code, q.stderr).toBe(0);
    expect(readNibbleFile(new Uint8Array(readFileSync(join(dir, 'q8.nibble')))).model.config.seqLen).toBe(OWN);
    const e = await runCli(['export', '--model', HF_DIR, '--format', 'hf-safetensors', '--out', join(dir, 'out')]);
    expect(e.code, e.stderr).toBe(0);
    const outDir = join(dir, 'out');
    const cfg = json(join(outDir, 'config.json'));
    expect(cfg.max_position_embeddings).toBe(OWN);
  });

  it('the app loads with a 64-position context and downloads files with the own context', async () => {
    const c = new EngineClient(inThreadTransport({}));
    try {
      const { model } = await c.load(
        {
          kind: 'files',
          name: 'hf',
          files: Object.entries(files).map(([path, b]) => ({ path, blob: new Blob([b.slice()]) })),
        },
        'auto',
        { contextLength: 64 },
      );
      expect(model.config.seqLen).toBe(64);
      const nib = await c.exportModel('base', 'nibble');
      expect(readNibbleFile(new Uint8Array(nib.files[0].bytes)).model.config.seqLen).toBe(OWN);
      const hf = await c.exportModel('base', 'hf-safetensors');
      const cfg = JSON.parse(new TextDecoder().decode(hf.files.find((f) => f.name === 'config.json')!.bytes)) as Record<
        string,
        unknown
      >;
      expect(cfg.max_position_embeddings).toBe(OWN);
    } finally {
      c.dispose();
    }
  });
});
