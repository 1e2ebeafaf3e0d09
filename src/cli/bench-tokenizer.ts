// `nibble bench --only tokenizer`: llama2.c tokenizer (tok512, stories260K's) encode time of
// one single-line text of 100 KB and 1 MB — the merge loop is O(n log n) (a heap over a linked
// list), so 10× the text is about 10× the time, where the old scan was quadratic (1 MB ≈ 15 min).
import { readFileSync } from 'node:fs';
import { Tokenizer } from '../core/tokenizers/llama2c-tokenizer.ts';

const TOKENIZER = new URL('../../public/models/tok512.bin', import.meta.url);

/** A deterministic English-like single line of `bytes` characters (words from a fixed list). */
export function benchText(bytes: number): string {
  const words = ['the', 'little', 'girl', 'saw', 'a', 'big', 'dog', 'and', 'they', 'played', 'in', 'park', 'happy'];
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const w = words[(i * 7 + (i >> 3)) % words.length];
    parts.push(w);
    n += w.length + 1;
  }
  return parts.join(' ').slice(0, bytes);
}

export interface TokenizerBenchRow {
  bytes: number;
  tokens: number;
  ms: number;
  mbPerSecond: number;
}

export function benchTokenizer(sizes: readonly number[] = [100_000, 1_000_000]): TokenizerBenchRow[] {
  const tok = Tokenizer.fromLlama2c(new Uint8Array(readFileSync(TOKENIZER)), 512);
  return sizes.map((bytes) => {
    const text = benchText(bytes);
    const t0 = performance.now();
    const tokens = tok.encode(text, { bos: true, eos: false }).length;
    const ms = performance.now() - t0;
    return { bytes, tokens, ms, mbPerSecond: bytes / 1e6 / (ms / 1000) };
  });
}

/** The section on its own: one line per size (JSON with --json). */
export function runTokenizerBench(args: { flags: Set<string> }, io: { stdout: { write(s: string): unknown } }): number {
  const json = args.flags.has('json');
  const rows = benchTokenizer();
  if (json) io.stdout.write(`${JSON.stringify({ tokenizer: rows }, null, 2)}\n`);
  else
    for (const r of rows)
      io.stdout.write(
        `tokenizer  encode ${(r.bytes / 1e6).toFixed(1)} MB single line: ${r.ms.toFixed(0)} ms, ${r.mbPerSecond.toFixed(2)} MB/s, ${r.tokens} tokens\n`,
      );
  return 0;
}
