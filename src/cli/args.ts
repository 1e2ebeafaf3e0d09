// Command-line parsing for nibble: `--name value`, `--name=value` and boolean flags, checked
// against a table of known options so every mistake is a NibbleError('bad-argument').
import { NibbleError } from '../core/errors.ts';

export interface OptionSpec {
  kind: 'string' | 'flag';
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string>; // string options as given
  flags: Set<string>; // flag options present
}

/** Parses `argv` against `spec` (keys are option names without dashes; `h` allows `-h`). */
export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const out: ParsedArgs = { positionals: [], values: Object.create(null) as Record<string, string>, flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg) ?? /^-([a-z])$/.exec(arg);
    if (!m) {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg))
        throw new NibbleError('bad-argument', `unknown option ${arg}`);
      out.positionals.push(arg);
      continue;
    }
    const [, name, inline] = m;
    const opt = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!opt) throw new NibbleError('bad-argument', `unknown option ${arg.replace(/=.*$/s, '')}`);
    if (opt.kind === 'flag') {
      if (inline !== undefined) throw new NibbleError('bad-argument', `--${name} takes no value`);
      out.flags.add(name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new NibbleError('bad-argument', `--${name} needs a value`);
    if (Object.hasOwn(out.values, name)) throw new NibbleError('bad-argument', `--${name} was given twice`);
    out.values[name] = value;
  }
  return out;
}

/** A number option: finite, in [min, max], whole when `integer`; `fallback` when absent. */
export function numberOption(
  args: ParsedArgs,
  name: string,
  fallback: number,
  { min, max, integer = false }: { min: number; max: number; integer?: boolean },
): number {
  const raw = Object.hasOwn(args.values, name) ? args.values[name] : undefined;
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const what = integer ? 'a whole number' : 'a number';
  if (raw.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new NibbleError('bad-argument', `--${name} must be ${what} in ${min}..${max}, got "${raw}"`);
  }
  return v;
}
