import { describe, expect, it } from 'vitest';
import { NibbleError } from '../../src/core/errors.ts';
import { BOS, TextStream, Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { tok512 } from './helpers.ts';

const tok = Tokenizer.fromLlama2c(tok512(), 512);

describe('llama2.c tokenizer (tok512)', () => {
  it('encodes "Once upon a time" with BOS as llama2.c does', () => {
    expect(tok.encode('Once upon a time', { bos: true, eos: false })).toEqual([1, 403, 407, 261, 378]);
  });

  it('adds EOS and no dummy prefix for empty text', () => {
    expect(tok.encode('', { bos: true, eos: true })).toEqual([1, 2]);
    expect(tok.encode('', { bos: false, eos: false })).toEqual([]);
  });

  it('round-trips text through encode/decode, byte fallback included', () => {
    for (const text of [
      'Once upon a time, there was a little girl named Lily.',
      'Tom said: "Hi!"\nThe end.',
      'naïve café — 日本 🙂',
      'x',
      '  two  spaces',
    ]) {
      const ids = tok.encode(text, { bos: true, eos: false });
      // Decoding after BOS drops the dummy-prefix space, giving back the text.
      expect(tok.decode(ids)).toBe(text);
    }
  });

  it('uses byte fallback (id = byte + 3) for code points not in the vocabulary', () => {
    const ids = tok.encode('日', { bos: false, eos: false });
    const bytes = [...new TextEncoder().encode('日')].map((b) => b + 3);
    expect(ids.slice(-3)).toEqual(bytes);
  });

  it('streams a multi-byte character only once all its bytes arrived', () => {
    const s = new TextStream(tok);
    const [b0, b1, b2] = [...new TextEncoder().encode('日')].map((b) => b + 3);
    expect(s.push(BOS, b0)).toBe('');
    expect(s.push(b0, b1)).toBe('');
    expect(s.push(b1, b2)).toBe('日');
  });

  it('rejects a tokenizer that does not match the model vocabulary, naming both sizes', () => {
    expect(() => Tokenizer.fromLlama2c(tok512(), 32000)).toThrow(/holds 512 tokens .* vocabulary has 32000/);
    expect(() => Tokenizer.fromLlama2c(tok512(), 256)).toThrow(expect.objectContaining({ code: 'tokenizer-mismatch' }));
  });

  it('rejects a truncated or garbage tokenizer with a typed error', () => {
    const bytes = tok512();
    expect(() => Tokenizer.fromLlama2c(bytes.subarray(0, 2), 512)).toThrow(NibbleError);
    const bad = bytes.slice();
    new DataView(bad.buffer).setInt32(8, 1 << 30, true); // first token's length
    expect(() => Tokenizer.fromLlama2c(bad, 512)).toThrow(/length 1073741824/);
  });
});
