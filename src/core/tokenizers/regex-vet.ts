// tokenizer.json carries regular expressions (pre_tokenizer Split, normalizer Replace, …) that
// the tokenizer library runs with JavaScript's backtracking engine over every prompt: a pattern
// like (\w+\s?)*$ takes exponential time on "aaaa…a!". JavaScript cannot interrupt a running
// regex, so each pattern is vetted at load: it is run over adversarial probes (runs of letters,
// digits, spaces, newlines, punctuation, mixed units, with a failing tail) whose length grows in
// small steps, so that the first probe that crosses the time budget costs at most a few times the
// budget. A pattern that needs more than the budget on a few thousand characters would hang on a
// real prompt: it is a NibbleError('over-limit') naming where it sits in the file.
import { NibbleError } from '../errors.ts';
import { isObject, type JsonObject } from '../formats/hf/json.ts';

/** Longest probe and the time one probe may take (a linear pattern needs ~0.1 ms at 4096 chars). */
export const REGEX_PROBE = { maxChars: 4096, budgetMs: 40 };

const UNITS = ['a', 'A', '0', ' ', '\n', '\t', '.', 'é', '漢', '😀', 'a ', ' a', 'a0', "'s", 'ab ', '\u00a0', 'a\n'];
const TAILS = ['', '!', '\u0000', ' ', '\n', 'a'];

/** Every { Regex: string } under `v`, with a path for messages ("pre_tokenizer.pretokenizers[1].pattern"). */
export function regexPatterns(v: unknown, path: string, out: { path: string; source: string }[] = []) {
  if (Array.isArray(v)) v.forEach((x, i) => regexPatterns(x, `${path}[${i}]`, out));
  else if (isObject(v)) {
    if (typeof v.Regex === 'string') out.push({ path, source: v.Regex });
    for (const [k, x] of Object.entries(v)) if (k !== 'Regex') regexPatterns(x, path ? `${path}.${k}` : k, out);
  }
  return out;
}

/** Probe lengths: +2 up to 32 (exponential patterns grow ×4 per step at most), then ×1.5 (polynomial ones). */
function lengths(): number[] {
  const out: number[] = [];
  for (let n = 2; n <= 32; n += 2) out.push(n);
  for (let n = 48; n < REGEX_PROBE.maxChars; n = Math.ceil(n * 1.5)) out.push(n);
  out.push(REGEX_PROBE.maxChars);
  return out;
}

/** Throws 'over-limit' when `source` (compiled as the library does, flags "gu") backtracks catastrophically. */
export function vetPattern(source: string, where: string): void {
  let re: RegExp;
  try {
    re = new RegExp(source, 'gu');
  } catch {
    // Oniguruma's inline case-insensitive group (GPT-2's "(?i:'s|'t…)") is not JavaScript before
    // V8 12.5: vet the same structure without the flag (case folding does not change backtracking).
    try {
      re = new RegExp(source.replaceAll('(?i:', '(?:'), 'gu');
    } catch {
      return; // the library reports a pattern it cannot compile itself
    }
  }
  const ns = lengths();
  for (const unit of UNITS)
    for (const tail of TAILS) {
      for (const n of ns) {
        const probe = unit.repeat(Math.ceil(n / unit.length)) + tail;
        const t0 = performance.now();
        probe.split(re);
        probe.replace(re, '');
        const ms = performance.now() - t0;
        if (ms > REGEX_PROBE.budgetMs)
          throw new NibbleError(
            'over-limit',
            `tokenizer.json: the regular expression at ${where} (${JSON.stringify(source.slice(0, 60))}) takes ${ms.toFixed(0)} ms on ${probe.length} characters: it backtracks catastrophically and would hang on a prompt`,
          );
      }
    }
}

/** Vets every pattern in the tokenizer's normalizer, pre-tokenizer, post-processor and decoder. */
export function vetTokenizerRegexes(json: JsonObject): void {
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'])
    for (const p of regexPatterns(json[key], key)) vetPattern(p.source, p.path);
}
