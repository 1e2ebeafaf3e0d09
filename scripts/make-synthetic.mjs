#!/usr/bin/env node
// Writes a synthetic Hugging Face folder with a real model's shapes and seeded random bf16
// weights (src/core/formats/synthetic.ts): config.json, generation_config.json, tokenizer.json,
// tokenizer_config.json and model.safetensors, streamed one tensor at a time (a full-depth
// Llama-3.2-1B shape is 2.5 GB on disk and never in memory at once).
//   node scripts/make-synthetic.mjs --family qwen2.5-0.5b --layers 2 --out /tmp/qwen-2l
//   node scripts/make-synthetic.mjs --family smollm2-135m --vocab 1024 --instruct --out /tmp/smol
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

const USAGE = `node scripts/make-synthetic.mjs --family F --out DIR [--layers N] [--vocab N] [--instruct] [--seed N]
  --family F   smollm2-135m | qwen2.5-0.5b | qwen3-0.6b | llama-3.2-1b
  --layers N   num_hidden_layers (default: the published depth)
  --vocab N    vocabulary size (default: the published one; the specials move to its top)
  --instruct   the -Instruct repo's ids (eos, generation_config)
  --seed N     weight and merge seed (default 0)
  --out DIR    the folder to write (created; existing files of the same names are replaced)
`;

/** Writes the folder of `opts` (SyntheticOptions) into `dir`; the bytes of each file. */
export async function writeSyntheticFolder(opts, dir) {
  const { writeSyntheticFolder: write } = await tsImport('../src/cli/bench-scale.ts', import.meta.url);
  return write(opts, dir);
}

async function cli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      family: { type: 'string' },
      layers: { type: 'string' },
      vocab: { type: 'string' },
      seed: { type: 'string' },
      instruct: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return (process.stdout.write(USAGE), 0);
  const { SYNTHETIC_FAMILIES } = await tsImport('../src/core/formats/synthetic.ts', import.meta.url);
  const fail = (why) => (process.stderr.write(`make-synthetic: ${why}\n${USAGE}`), 2);
  if (!SYNTHETIC_FAMILIES.includes(values.family))
    return fail(`--family must be one of ${SYNTHETIC_FAMILIES.join(', ')}, got "${values.family ?? ''}"`);
  if (!values.out) return fail('--out DIR is required');
  const int = (name, min) => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
    return n;
  };
  let opts;
  try {
    opts = {
      family: values.family,
      instruct: !!values.instruct,
      layers: int('layers', 1),
      vocabSize: int('vocab', 300),
      seed: int('seed', 0) ?? 0,
    };
  } catch (e) {
    return fail(e.message);
  }
  const t0 = performance.now();
  const sizes = await writeSyntheticFolder(opts, values.out);
  const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
  process.stdout.write(
    `wrote ${values.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
      `${Object.entries(sizes)
        .map(([n, b]) => `${n} ${mb(b)}`)
        .join(', ')}\n`,
  );
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await cli(process.argv.slice(2));
