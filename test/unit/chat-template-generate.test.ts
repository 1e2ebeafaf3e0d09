// Chat templates end to end on the CPU: the HF fixture (stories260K converted by transformers)
// given a Llama-2-style template that writes bos_token itself. The ids the runner is fed must be
// exactly tokenizer.encode(rendered, { bos: false }) (transformers: add_special_tokens=False, so
// one BOS, the template's), generation must stop on the template's end token, and the worker
// path (generateOn, the host) must render `messages` the same way or refuse them typed.
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from '../../src/core/tokenizers/hf-tokenizer.ts';
import { loadHfModel } from '../../src/core/formats/hf/load.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate, hasChatTemplate, promptTokenIds, renderChat } from '../../src/engine/generate.ts';
import type { ModelRunner, StepResult } from '../../src/engine/runner.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { generateOn } from '../../src/worker/engine-host/generation.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import type { SamplingSettings } from '../../src/worker/engine-host/protocol.ts';
import { DEFAULT_SPEC } from '../../src/core/quant/quant-spec.ts';
import { folderOf, hfFixtureFiles, jsonBytes, parseJson } from './hf-fixture.ts';
import { stories260K, tok512 } from './helpers.ts';

/** Llama-2 chat format: the template writes <s> (bos_token) and closes assistant turns with </s>. */
const LLAMA2_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}<<SYS>>\n{{ m['content'] }}\n<</SYS>>\n\n" +
  "{% elif m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]{% else %} {{ m['content'] }} {{ eos_token }}{% endif %}{% endfor %}";
/** A template that writes no BOS: nothing may be added in front of its text. */
const NO_BOS_TEMPLATE =
  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

const GREEDY = { temperature: 0, topP: 1, seed: 1 };

async function fixtureWith(template: string): Promise<{ model: LlamaModel; tok: HfTokenizer }> {
  const files = hfFixtureFiles();
  const cfg = parseJson(files['tokenizer_config.json']);
  cfg.chat_template = template;
  const hf = await loadHfModel(folderOf({ ...files, 'tokenizer_config.json': jsonBytes(cfg) }));
  return { model: hf.model, tok: hf.tokenizer };
}

/**
 * The real CPU runner, recording every batch it is fed; from step `endAt` on, the model's choice
 * is replaced by `endId` (the template's end token), as a chat model ends its turn.
 */
function recording(inner: ModelRunner, script?: { endAt: number; endId: number }) {
  const fed: number[][] = [];
  const runner: ModelRunner = {
    backend: inner.backend,
    config: inner.config,
    counters: inner.counters,
    async step(tokens, pos, want): Promise<StepResult> {
      fed.push([...tokens]);
      const r = await inner.step(tokens, pos, want);
      return script && fed.length > script.endAt ? { kind: 'argmax', token: script.endId } : r;
    },
    logitsAll: (t, o) => inner.logitsAll(t, o),
    dispose: () => inner.dispose(),
  };
  return { runner, fed };
}

describe('generation from a chat template (HF fixture)', () => {
  it('feeds exactly encode(rendered, {bos: false}): the template’s BOS, never a second one', async () => {
    const { model, tok } = await fixtureWith(LLAMA2_TEMPLATE);
    expect(hasChatTemplate(tok)).toBe(true);
    const messages = [
      { role: 'system', content: 'Tell short stories.' },
      { role: 'user', content: 'Once upon a time' },
    ];
    const prompt = renderChat(tok, messages);
    expect(prompt.rendered).toBe('<s><<SYS>>\nTell short stories.\n<</SYS>>\n\n[INST] Once upon a time [/INST]');
    const want = tok.encode(prompt.rendered, { bos: false, eos: false });
    expect(want[0]).toBe(tok.bosId);
    expect(want.filter((id) => id === tok.bosId)).toHaveLength(1);
    expect(promptTokenIds(tok, prompt)).toEqual(want);
    expect(promptTokenIds(tok, 'Once upon a time')).toEqual([1, 403, 407, 261, 378]); // plain prompts keep BOS

    const { runner, fed } = recording(createCpuRunner(model));
    const res = await generate(runner, tok, prompt, { ...GREEDY, maxTokens: 6 });
    expect(fed[0]).toEqual(want); // the prefill
    expect(fed.slice(1).every((b) => b.length === 1)).toBe(true);
    expect(res.promptTokens).toBe(want.length);
    expect(res.tokens).toHaveLength(6);
    expect(fed.slice(1).map((b) => b[0])).toEqual(res.tokens.slice(0, 5));
  });

  it('adds nothing in front of a template that writes no BOS', async () => {
    const { model, tok } = await fixtureWith(NO_BOS_TEMPLATE);
    const prompt = renderChat(tok, [{ role: 'user', content: 'Hi' }]);
    expect(prompt.rendered).toBe('user: Hi\nassistant:');
    const { runner, fed } = recording(createCpuRunner(model));
    await generate(runner, tok, prompt, { ...GREEDY, maxTokens: 2 });
    expect(fed[0]).toEqual(tok.encode(prompt.rendered, { bos: false, eos: false }));
    expect(fed[0][0]).not.toBe(tok.bosId);
  });

  it('stops on the template’s end token (</s>, a stop id) and leaves it out of the text', async () => {
    const { model, tok } = await fixtureWith(LLAMA2_TEMPLATE);
    expect(tok.stopIds).toContain(2);
    const prompt = renderChat(tok, [{ role: 'user', content: 'Once upon a time' }]);
    const free = await generate(createCpuRunner(model), tok, prompt, { ...GREEDY, maxTokens: 4 });
    const { runner } = recording(createCpuRunner(model), { endAt: 4, endId: 2 });
    const res = await generate(runner, tok, prompt, { ...GREEDY, maxTokens: 50 });
    expect(res.stoppedBy).toBe('eos');
    expect(res.tokens).toEqual(free.tokens); // the model's own 4 tokens, then </s> ended the turn
    expect(res.text).toBe(free.text);
    expect(res.text).not.toContain('</s>');
  });

  it('refuses a chat typed: no template → unsupported, malformed messages → bad-argument', async () => {
    const l2c = Tokenizer.fromLlama2c(tok512(), 512);
    expect(hasChatTemplate(l2c)).toBe(false);
    expect(() => renderChat(l2c, [{ role: 'user', content: 'hi' }])).toThrow(
      expect.objectContaining({ code: 'unsupported' }),
    );
    const plain = HfTokenizer.fromFiles(hfFixtureFiles()['tokenizer.json'], hfFixtureFiles()['tokenizer_config.json']);
    expect(() => renderChat(plain, [{ role: 'user', content: 'hi' }])).toThrow(
      expect.objectContaining({ code: 'unsupported' }),
    );
    const { tok } = await fixtureWith(LLAMA2_TEMPLATE);
    expect(() => renderChat(tok, [])).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    expect(() => renderChat(tok, [{ role: 'user', content: 3 } as never])).toThrow(
      expect.objectContaining({ code: 'bad-argument' }),
    );
  });
});

describe('the worker’s generate path with messages', () => {
  const settings: SamplingSettings = { ...GREEDY, maxTokens: 8 };

  it('generateOn renders messages through the template (the prompt is ignored), as the engine does', async () => {
    const { model, tok } = await fixtureWith(LLAMA2_TEMPLATE);
    const messages = [
      { role: 'user', content: 'Once upon a time' },
      { role: 'assistant', content: 'there was a cat.' },
      { role: 'user', content: 'More' },
    ];
    const pieces: string[] = [];
    const got = await generateOn(
      createCpuRunner(model),
      tok,
      'base',
      'ignored',
      settings,
      new AbortController().signal,
      (t) => pieces.push(t.text),
      messages,
    );
    const want = await generate(createCpuRunner(model), tok, renderChat(tok, messages), { ...settings });
    expect(got).toMatchObject({
      tokens: want.tokens,
      text: want.text,
      promptTokens: want.promptTokens,
      variant: 'base',
      backend: 'cpu',
    });
    expect(pieces.join('')).toBe(want.text);
    expect(want.promptTokens).toBe(tok.encode(renderChat(tok, messages).rendered, { bos: false, eos: false }).length);
  });

  it('the host loads an HF folder with a template (ModelInfo.chatTemplate) and generates the rendered chat', async () => {
    const files = hfFixtureFiles();
    const cfg = parseJson(files['tokenizer_config.json']);
    cfg.chat_template = LLAMA2_TEMPLATE;
    files['tokenizer_config.json'] = jsonBytes(cfg);
    const c = new EngineClient(inThreadTransport({}));
    try {
      const { model: info } = await c.load({
        kind: 'files',
        name: 'stories260K-hf',
        files: Object.entries(files).map(([path, b]) => ({ path, blob: new Blob([b.slice()]) })),
      });
      expect(info.chatTemplate).toBe(true);
      const messages = [{ role: 'user', content: 'Once upon a time' }];
      const got = await c.generate('ignored', settings, { messages });
      const { model, tok } = await fixtureWith(LLAMA2_TEMPLATE);
      const want = await generate(createCpuRunner(model), tok, renderChat(tok, messages), settings);
      expect(got).toMatchObject({ tokens: want.tokens, text: want.text, promptTokens: want.promptTokens });
      // A/B: a variant and the base both render the chat; the base side equals the single run.
      const v = await c.quantize(
        { ...DEFAULT_SPEC, method: 'rtn', bits: 8, group: 0 },
        { calib: '/calib.txt', eval: '/eval.txt' },
      );
      const { results } = await c.generatePair('ignored', settings, ['base', v.id], { messages });
      expect(results[0]).toMatchObject({ tokens: want.tokens, promptTokens: want.promptTokens });
      expect(results[1].promptTokens).toBe(want.promptTokens);
    } finally {
      c.dispose();
    }
  });

  it('the host answers a chat for a llama2.c model with a typed unsupported error, then still generates', async () => {
    const c = new EngineClient(inThreadTransport({}));
    try {
      await c.load({
        kind: 'bytes',
        name: 'stories260K',
        model: stories260K().slice().buffer,
        tokenizer: tok512().slice().buffer,
      });
      await expect(c.generate('', settings, { messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
        code: 'unsupported',
        message: expect.stringMatching(/chat template/),
      });
      const plain = await c.generate('Once upon a time', settings);
      expect(plain.tokens).toHaveLength(8);
    } finally {
      c.dispose();
    }
  });
});
