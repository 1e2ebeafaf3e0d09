// `nibble generate --chat [--system TEXT]` in-process on the CPU: the HF fixture folder copied with
// a chat_template.jinja (Llama-2 style, writes bos_token itself); the output must equal the engine
// generating from the same rendered chat, and chat flags on a model without a template exit 2.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/core/formats/hf/load.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate, renderChat } from '../../src/engine/generate.ts';
import { folderOf, hfFixtureFiles } from './hf-fixture.ts';
import { args, runCli } from './cli-run.ts';

const root = new URL('../../', import.meta.url);
const MODEL_PATH = new URL('public/models/stories260K.bin', root).pathname;
const TOK_PATH = new URL('public/models/tok512.bin', root).pathname;
const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}<<SYS>>\n{{ m['content'] }}\n<</SYS>>\n\n" +
  "{% elif m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]{% else %} {{ m['content'] }} {{ eos_token }}{% endif %}{% endfor %}";

const dir = mkdtempSync(join(tmpdir(), 'nibble-cli-chat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const files = { ...hfFixtureFiles(), 'chat_template.jinja': new TextEncoder().encode(TEMPLATE) };
const HF_DIR = join(dir, 'stories260K-chat');
mkdirSync(HF_DIR);
for (const [name, bytes] of Object.entries(files)) writeFileSync(join(HF_DIR, name), bytes);

const run = runCli;

const greedy = ['--backend', 'cpu', '--temperature', '0', '--steps', '12'];

describe('nibble generate --chat', () => {
  it('renders the prompt as one user message (after --system) and prints what the engine generates from it', async () => {
    const { model, tokenizer } = await loadHfModel(folderOf(files));
    for (const system of [undefined, 'You tell stories.']) {
      const r = await run([
        'generate',
        '--model',
        HF_DIR,
        '--chat',
        '--prompt',
        'Once upon a time',
        ...(system ? ['--system', system] : []),
        ...greedy,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const messages = [
        ...(system ? [{ role: 'system', content: system }] : []),
        { role: 'user', content: 'Once upon a time' },
      ];
      const prompt = renderChat(tokenizer, messages);
      const want = await generate(createCpuRunner(model), tokenizer, prompt, {
        maxTokens: 12,
        temperature: 0,
        topP: 0.9,
        seed: 1,
      });
      expect(r.stdout).toBe(`${want.text}\n`);
      expect(r.stderr).toMatch(
        new RegExp(`prefill ${tokenizer.encode(prompt.rendered, { bos: false, eos: false }).length} tokens`),
      );
      expect(r.stderr).toMatch(/chat template; seed/);
    }
    const plain = await run(['generate', '--model', HF_DIR, '--prompt', 'Once upon a time', ...greedy]); // without --chat: a completion
    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(/prefill 5 tokens/);
  });

  it('exits 2 for --chat on a model without a template, and for --system without --chat', async () => {
    const a = await run([
      'generate',
      '--model',
      MODEL_PATH,
      '--tokenizer',
      TOK_PATH,
      ...args('--chat --prompt hi'),
      ...greedy,
    ]);
    expect(a.code).toBe(2);
    expect(a.stdout).toBe('');
    expect(a.stderr).toMatch(/error \[unsupported\]: .*no chat template/);
    const b = await run(['generate', '--model', HF_DIR, '--system', 'x', ...greedy]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/error \[bad-argument\]: --system needs --chat/);
  });
});
