// Programs a Hugging Face folder carries (issue 10, rows 3, 4, 8): chat templates that loop
// 10^9 times, nest loops 3000 × 3000 or weigh megabytes render under limits and fail with a
// typed over-limit error naming the template, while the model still loads for plain prompts;
// tokenizer.json regexes that backtrack catastrophically are refused at load in bounded time;
// a decoder the library cannot run fails the load's encode/decode round trip, not the first token.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { renderChatTemplate, TEMPLATE_LIMITS } from '../../src/core/formats/hf/chat-template.ts';
import { HfTokenizer } from '../../src/core/tokenizers/hf-tokenizer.ts';
import { vetPattern } from '../../src/core/tokenizers/regex-vet.ts';
import { runCli } from './cli-run.ts';
import { hfFixtureFiles, jsonBytes, parseJson } from './hf-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'nibble-hostile-hf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
};
const msgs = [{ role: 'user', content: 'hi' }];
const render = (tpl: string) => () =>
  renderChatTemplate(tpl, msgs, { add_generation_prompt: true }, 'chat_template.jinja');

function folder(name: string, edit: (files: Record<string, Uint8Array>) => void): string {
  const files = hfFixtureFiles();
  edit(files);
  const d = join(dir, name);
  mkdirSync(d);
  for (const [n, b] of Object.entries(files)) writeFileSync(join(d, n), b);
  return d;
}

describe('chat templates render under limits (row 3)', () => {
  it('range(10**9), 3000 × 3000 nested loops and a multi-MB body are typed over-limit errors, fast', () => {
    const cases: [string, RegExp][] = [
      ['{% for i in range(10**9) %}x{% endfor %}', /range\(\) of 1000000000 numbers/],
      [
        '{% for i in range(3000) %}{% for j in range(3000) %}{{ i }}{% endfor %}{% endfor %}',
        /more than \d+ steps|longer than \d+ ms/,
      ],
      [`{# ${'x'.repeat(3 << 20)} #}hi`, /is 314\d+ characters long/],
      ['{% set s = "ab" %}{% for i in range(30) %}{% set s = s + s %}{% endfor %}{{ s }}', /builds a value|memory/],
    ];
    for (const [tpl, why] of cases) {
      const t0 = performance.now();
      const e = caught(render(tpl));
      expect(isNibbleError(e) && e.code, tpl.slice(0, 40)).toBe('over-limit');
      expect((e as Error).message).toMatch(/^chat template \(chat_template\.jinja\)/);
      expect((e as Error).message).toMatch(why);
      expect(performance.now() - t0).toBeLessThan(TEMPLATE_LIMITS.wallMs + 2000);
    }
  });

  it('ordinary templates, range() included, render as before', () => {
    const tpl =
      '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(10, 4, -3) %}{{ i }}{% endfor %}';
    expect(render(tpl)()).toBe('<|user|>hi012107');
  });

  it('the CLI: plain generation still works, --chat is a typed error naming the template', async () => {
    const d = folder('loop', (f) => {
      f['chat_template.jinja'] = new TextEncoder().encode('{% for i in range(10**9) %}x{% endfor %}');
    });
    const plain = await runCli([
      'generate',
      '--model',
      d,
      '--prompt',
      'Once',
      '--steps',
      '3',
      '--backend',
      'cpu',
      '--temperature',
      '0',
    ]);
    expect(plain.code).toBe(0);
    const chat = await runCli([
      'generate',
      '--model',
      d,
      '--prompt',
      'Once',
      '--chat',
      '--steps',
      '3',
      '--backend',
      'cpu',
    ]);
    expect(chat.code).toBe(2);
    expect(chat.stderr).toMatch(/\[over-limit\]: chat template \(chat_template\.jinja\) asks for range\(\)/);
  });
});

describe('tokenizer.json regexes are vetted at load (row 4)', () => {
  const withSplit = (regex: string) => {
    const j = parseJson(hfFixtureFiles()['tokenizer.json']);
    j.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
        j.pre_tokenizer,
      ],
    };
    return jsonBytes(j);
  };

  it('(\\w+\\s?)*$ is refused in bounded time, naming where it sits', () => {
    const t0 = performance.now();
    const e = caught(() => HfTokenizer.fromFiles(withSplit('(\\w+\\s?)*$')));
    expect(isNibbleError(e) && e.code).toBe('over-limit');
    expect((e as Error).message).toMatch(/pre_tokenizer\.pretokenizers\[0\]\.pattern .*backtracks catastrophically/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('other exponential and polynomial shapes are refused too', () => {
    for (const re of ['(a|a)*b', '(a+)+$', '^(\\s*,?)*x', '(.*a){12}']) {
      expect(
        caught(() => vetPattern(re, 'x')),
        re,
      ).toMatchObject({ code: 'over-limit' });
    }
  });

  it("GPT-2 / Qwen2's pattern and a normal folder pass (and the vetting is quick)", () => {
    const gpt2 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    const t0 = performance.now();
    vetPattern(gpt2, 'pre_tokenizer.pattern');
    expect(performance.now() - t0).toBeLessThan(3000);
    const tok = HfTokenizer.fromFiles(withSplit("'s|\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"));
    // The split isolates words, so Metaspace marks each piece: spacing differs, the words do not.
    const back = tok.decode(tok.encode('Once upon a time', { bos: true, eos: false }));
    expect(back.replace(/\s+/g, ' ').trim()).toBe('Once upon a time');
  });
});

describe('the tokenizer is checked by a round trip at load (row 8)', () => {
  it('a decoder Sequence with a null step is a typed error at load', () => {
    const j = parseJson(hfFixtureFiles()['tokenizer.json']);
    j.decoder = { type: 'Sequence', decoders: [null] };
    const e = caught(() => HfTokenizer.fromFiles(jsonBytes(j)));
    expect(isNibbleError(e) && e.code).toBe('bad-format');
    expect((e as Error).message).toMatch(/tokenizer\.json: .*(round trip|cannot be used)/);
  });

  it('through the CLI: exit 2 at load, no TypeError at the first token', async () => {
    const d = folder('nulldecoder', (f) => {
      const j = parseJson(f['tokenizer.json']);
      j.decoder = { type: 'Sequence', decoders: [null] };
      f['tokenizer.json'] = jsonBytes(j);
    });
    const r = await runCli(['generate', '--model', d, '--prompt', 'Once', '--steps', '3', '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[bad-format\]: tokenizer\.json/);
    expect(r.stderr).not.toMatch(/TypeError|internal error/);
  });
});
