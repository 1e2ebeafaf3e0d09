// nibble eval / quantize text options: --eval-text / --calib-text (aliases of --text / --calib),
// --windows, --window-len (alias --seq) with the model-size default printed before running, and
// the typed errors for bad text files (exit 2, the message on stderr).
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { textWindows } from '../../src/core/model/metrics.ts';
import { MAX_TEXT_BYTES } from '../../src/core/text-source.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { args, runCli as run } from './cli-run.ts';

const p = (rel: string) => new URL(`../../${rel}`, import.meta.url).pathname;
const MODEL = p('public/models/stories260K.bin');
const TOK = p('public/models/tok512.bin');
const dir = mkdtempSync(join(tmpdir(), 'nibble-clitext-'));
const EVAL = join(dir, 'eval.txt');
writeFileSync(EVAL, readFileSync(p('public/data/tinystories-eval.txt'), 'utf8').split('\n').slice(0, 3).join('\n'));
const SHORT = join(dir, 'short.txt');
writeFileSync(SHORT, 'Tom ran home.');
const BLANK = join(dir, 'blank.txt');
writeFileSync(BLANK, '\n  \n');
const BINARY = join(dir, 'image.png');
writeFileSync(BINARY, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
const LATIN1 = join(dir, 'latin1.txt');
writeFileSync(LATIN1, new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]));
const HUGE = join(dir, 'huge.txt');
writeFileSync(HUGE, '');
truncateSync(HUGE, MAX_TEXT_BYTES + 1); // sparse: refused by size before it is read
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['--model', MODEL, '--tokenizer', TOK, '--backend', 'cpu'];

describe('nibble eval text options', () => {
  it('--eval-text with --windows / --window-len scores those windows; the plan is printed first', async () => {
    const r = await run([
      'eval',
      ...base,
      '--eval-text',
      EVAL,
      ...args('--windows 3 --window-len 64 --method fp32 --json'),
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`nibble: evaluation: 3 windows × 64 tokens = 192 tokens of --eval-text ${EVAL}`);
    const model = parseLlama2c(new Uint8Array(readFileSync(MODEL)));
    const tok = Tokenizer.fromLlama2c(new Uint8Array(readFileSync(TOK)), 512);
    const ws = textWindows(tok, readFileSync(EVAL, 'utf8'), 64).slice(0, 3);
    expect(ws).toHaveLength(3);
    const ref = await evaluate(createCpuRunner(model), ws, null);
    expect(JSON.parse(r.stdout)).toMatchObject({ windows: 3, tokens: 3 * 63, ppl: ref.ppl });
  });

  it('defaults to the model-size rule (stories260K: up to 64 windows of 256)', async () => {
    const r = await run(['eval', ...base, '--text', EVAL, ...args('--method fp32')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('nibble: evaluation: 64 windows × 256 tokens');
  });

  it.each([
    [['--eval-text', BLANK], 'bad-argument', `--eval-text ${BLANK} is empty`],
    [['--eval-text', SHORT], 'bad-argument', `--eval-text ${SHORT} is shorter than one window of 256 tokens`],
    [['--eval-text', BINARY], 'bad-format', `--eval-text ${BINARY} is not a text file`],
    [['--eval-text', LATIN1], 'bad-format', `--eval-text ${LATIN1} is not UTF-8 text`],
    [['--eval-text', HUGE], 'over-limit', `--eval-text ${HUGE} is 16.0 MB; texts up to 16 MB are accepted`],
    [['--eval-text', EVAL, '--text', EVAL], 'bad-argument', '--eval-text and --text mean the same'],
    [['--eval-text', EVAL, '--windows', '0'], 'bad-argument', '--windows must be a whole number in 1..4096'],
    [['--eval-text', EVAL, '--window-len', '1'], 'bad-argument', '--window-len must be a whole number in 2..65536'],
    [
      ['--eval-text', EVAL, '--window-len', '600'],
      'bad-argument',
      "--window-len 600 exceeds the model's context of 512",
    ],
    [
      ['--eval-text', EVAL, '--seq', '64', '--window-len', '64'],
      'bad-argument',
      '--window-len and --seq mean the same',
    ],
    [['--eval-text', EVAL, '--calib-text', SHORT], 'bad-argument', `--calib-text ${SHORT} is shorter than one window`],
  ])('exits 2: %j', async (flags, _code, message) => {
    const r = await run(['eval', ...base, ...(flags as string[]), '--method', 'fp32']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe('nibble quantize text options', () => {
  it('--calib-text with windows calibrates; a binary calibration file is refused', async () => {
    const out = join(dir, 'sq.nibble');
    const ok = await run([
      'quantize',
      ...base,
      '--calib-text',
      EVAL,
      ...args('--windows 2 --window-len 32 --method smoothquant --json --out'),
      out,
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain(`nibble: calibration: 2 windows × 32 tokens = 64 tokens of --calib-text ${EVAL}`);
    const bad = await run(['quantize', ...base, '--calib-text', BINARY, ...args('--method gptq --out'), out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`--calib-text ${BINARY} is not a text file`);
  });
});
