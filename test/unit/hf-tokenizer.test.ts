// HF tokenizer.json through @huggingface/tokenizers behind our TextTokenizer interface:
// stories260K's converted SentencePiece tokenizer must encode exactly as the llama2.c tokenizer;
// a byte-level BPE (Qwen2 / SmolLM2 style, built here) covers no-BOS models, streaming of
// characters split over byte tokens, and chat templates rendered with @huggingface/jinja.
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { HfTokenizer } from '../../src/core/tokenizers/hf-tokenizer.ts';
import { textWindows } from '../../src/core/model/metrics.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';
import { hfFixtureFiles, jsonBytes, parseJson } from './hf-fixture.ts';
import { readProjectFile, stories260K, tok512 } from './helpers.ts';

const files = hfFixtureFiles();
const hf = HfTokenizer.fromFiles(files['tokenizer.json'], files['tokenizer_config.json']);
const l2c = Tokenizer.fromLlama2c(tok512(), 512);
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('stories260K tokenizer.json (converted by transformers)', () => {
  it('encodes the evaluation text to the same 6,222 ids as the llama2.c tokenizer', () => {
    const text = new TextDecoder().decode(readProjectFile('public/data/tinystories-eval.txt'));
    const ids = (t: HfTokenizer | Tokenizer) => textWindows(t, text, 2).flat(); // per line, BOS prepended
    const a = ids(hf);
    expect(a.length).toBe(6222);
    expect(a).toEqual(ids(l2c));
  });

  it('has BOS 1 / EOS 2 from tokenizer_config.json and adds BOS as the post-processor does', () => {
    expect([hf.vocabSize, hf.bosId, hf.eosId, hf.addsBos]).toEqual([512, 1, 2, true]);
    expect(hf.stopIds).toEqual([2]);
    expect(hf.encode('', { bos: true, eos: true })).toEqual([1, 2]);
    expect(hf.encode('Once upon a time', { bos: true, eos: false })).toEqual([1, 403, 407, 261, 378]);
    expect(hf.encode('Once upon a time', { bos: false, eos: false })).toEqual([403, 407, 261, 378]);
  });

  it('round-trips text (byte fallback included) and agrees with the llama2.c decoder', () => {
    for (const text of [
      'Once upon a time, there was a little girl named Lily.',
      'Tom said: "Hi!"\nThe end.',
      'naïve café — 日本 🙂',
      'x',
      'two  spaces\tand a tab',
    ]) {
      const ids = hf.encode(text, { bos: true, eos: false });
      expect(ids).toEqual(l2c.encode(text, { bos: true, eos: false }));
      expect(hf.decode(ids)).toBe(text);
      expect(hf.decode(ids)).toBe(l2c.decode(ids));
    }
  });

  it('differs from run.c only for text that starts with a space (as transformers does)', () => {
    // HF's Metaspace prepends "▁" only when the text does not already start with one; run.c always
    // adds its dummy-prefix space. Decoding strips one leading space either way.
    expect(hf.encode(' x', { bos: true, eos: false })).toEqual([1, 410, 444]); // ▁x
    expect(l2c.encode(' x', { bos: true, eos: false })).toEqual([1, 410, 410, 444]); // ▁▁x
    expect(hf.encode('a  b', { bos: true, eos: false })).toEqual(l2c.encode('a  b', { bos: true, eos: false }));
  });

  it('streams a character split over byte-fallback tokens only once complete, keeping prompt spaces', () => {
    const s = hf.stream();
    const [b0, b1, b2] = [...utf8('日')].map((b) => b + 3);
    expect([s.push(1, b0), s.push(b0, b1), s.push(b1, b2)]).toEqual(['', '', '日']);
    const t = hf.stream(); // after a prompt token, a leading space is kept; after BOS it is dropped
    expect(t.push(403, 407) + t.push(407, 261) + t.flush()).toBe(' upon a');
    const u = hf.stream();
    expect(u.push(1, 403) + u.push(403, 407)).toBe('Once upon');
    const v = hf.stream(); // an incomplete character at the end comes out on flush, as U+FFFD
    expect(v.push(1, b0)).toBe('');
    expect(v.flush()).toBe('\uFFFD');
  });
});

// ---- a byte-level BPE tokenizer (GPT-2 byte ↔ unicode map), Qwen2/SmolLM2 style ----------------

function byteLevelTokenizer(): { json: Record<string, unknown>; config: Record<string, unknown> } {
  const chars: string[] = []; // bytes_to_unicode: printable bytes map to themselves, the rest to 256+n
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    chars.push(String.fromCodePoint(printable ? b : 256 + n++));
  }
  const vocab: Record<string, number> = {};
  chars.forEach((c, i) => (vocab[c] = i));
  const merges = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d'];
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  const special = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const added = special.map((content, i) => ({
    id: 256 + merges.length + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  return {
    json: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: bl,
      post_processor: bl,
      decoder: bl,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges,
      },
    },
    config: {
      bos_token: null,
      eos_token: '<|endoftext|>',
      pad_token: '<|endoftext|>',
      clean_up_tokenization_spaces: false,
    },
  };
}

const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

describe('byte-level BPE tokenizer without BOS, with a chat template', () => {
  const { json, config } = byteLevelTokenizer();
  const tok = HfTokenizer.fromFiles(jsonBytes(json), jsonBytes({ ...config, chat_template: CHATML }), {
    eosIds: [267, 265],
  });

  it('merges, has no BOS, and stops on every EOS id it was given', () => {
    expect([tok.vocabSize, tok.bosId, tok.eosId, tok.addsBos]).toEqual([268, null, 265, false]);
    expect(tok.stopIds).toEqual([265, 267]);
    const ids = tok.encode('hello world', { bos: true, eos: true });
    expect(ids).toEqual([259, 264, 265]); // "hello", "Ġworld", <|endoftext|>: no BOS to add
    expect(tok.decode(ids)).toBe('hello world');
  });

  it('streams a 4-byte emoji one byte token at a time', () => {
    const ids = tok.encode('hi 🙂!', { bos: false, eos: false });
    expect(ids.length).toBe(8); // h i Ġ + 4 bytes of 🙂 + !
    const s = tok.stream();
    const out = ids.slice(1).map((id, i) => s.push(ids[i], id));
    expect(out).toEqual(['i', ' ', '', '', '', '🙂', '!']);
    expect(s.flush()).toBe('');
  });

  it('renders ChatML and encodes its special tokens as single ids', () => {
    const prompt = tok.applyChatTemplate(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello' },
      ],
      { add_generation_prompt: true },
    );
    expect(prompt).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n',
    );
    const ids = tok.encode(prompt, { bos: true, eos: false });
    expect(ids.filter((id) => id === 266)).toHaveLength(3); // <|im_start|>
    expect(ids.filter((id) => id === 267)).toHaveLength(2); // <|im_end|>
    expect(tok.decode(ids)).toBe('system\nBe brief.\nuser\nhello\nassistant\n'); // specials skipped
  });

  it('takes a template from chat_template.jinja or a named list, and reports bad ones as typed errors', () => {
    const fromFile = HfTokenizer.fromFiles(jsonBytes(json), jsonBytes(config), {
      chatTemplate: '{{ bos_token }}{{ eos_token }}{{ messages[0].content }}',
    });
    expect(fromFile.applyChatTemplate([{ role: 'user', content: 'x' }], { add_generation_prompt: false })).toBe(
      '<|endoftext|>x',
    );
    const named = HfTokenizer.fromFiles(
      jsonBytes(json),
      jsonBytes({
        ...config,
        chat_template: [
          { name: 'tool_use', template: 'T' },
          { name: 'default', template: 'D' },
        ],
      }),
    );
    expect(named.chatTemplate).toBe('D');
    const none = HfTokenizer.fromFiles(jsonBytes(json), jsonBytes(config));
    expect(() => none.applyChatTemplate([], { add_generation_prompt: true })).toThrow(
      expect.objectContaining({ code: 'unsupported' }),
    );
    const broken = HfTokenizer.fromFiles(jsonBytes(json), jsonBytes({ ...config, chat_template: '{% for %}' }));
    expect(() => broken.applyChatTemplate([], { add_generation_prompt: true })).toThrow(
      expect.objectContaining({ code: 'bad-format', message: expect.stringMatching(/chat template does not parse/) }),
    );
    const raising = HfTokenizer.fromFiles(
      jsonBytes(json),
      jsonBytes({ ...config, chat_template: "{{ raise_exception('no system role') }}" }),
    );
    expect(() => raising.applyChatTemplate([], { add_generation_prompt: true })).toThrow(
      /chat template failed: .*no system role/,
    );
  });

  it('refuses an empty prompt in generate() when the model has no BOS to start from', async () => {
    const runner = createCpuRunner(parseLlama2c(stories260K()));
    await expect(generate(runner, tok, '', { maxTokens: 3, temperature: 0, topP: 1, seed: 1 })).rejects.toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/no BOS/),
    });
    const res = await generate(runner, tok, 'hello', { maxTokens: 3, temperature: 0, topP: 1, seed: 1 });
    expect(res.promptTokens).toBe(1);
  });
});

describe('corrupt tokenizer files end in typed errors', () => {
  const base = parseJson(files['tokenizer.json']);
  const bad = (edit: (j: Record<string, unknown>) => void, msg: RegExp) => {
    const j = structuredClone(base);
    edit(j);
    expect(() => HfTokenizer.fromFiles(jsonBytes(j))).toThrow(
      expect.objectContaining({ name: 'NibbleError', code: 'bad-format', message: expect.stringMatching(msg) }),
    );
  };

  it('names the problem', () => {
    expect(() => HfTokenizer.fromFiles(utf8('{"model": '))).toThrow(/tokenizer.json is not valid JSON/);
    expect(() => HfTokenizer.fromFiles(files['tokenizer.json'], utf8('[1]'))).toThrow(
      /tokenizer_config.json must hold a JSON object, found an array/,
    );
    bad((j) => delete j.model, /model must be an object/);
    bad((j) => ((j.model as { vocab: Record<string, unknown> }).vocab['▁the'] = 1e12), /"▁the"\] has id 1000000000000/);
    bad((j) => ((j.model as { vocab: Record<string, unknown> }).vocab['▁the'] = -1), /has id -1/);
    bad((j) => ((j.added_tokens as { id: unknown }[])[0].id = 'x'), /added token "<unk>" has id "x"/);
    bad((j) => ((j.model as { merges: unknown }).merges = 7), /merges must be a list/);
    bad((j) => ((j.pre_tokenizer as { type: string }).type = 'Nonsense'), /cannot be used \(.*Nonsense/);
  });
});
