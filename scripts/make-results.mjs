// Regenerates docs/results.md: runs `nibble eval` for each row (the command is printed in the
// table) on the embedded model and data, and writes the measured numbers.
//   node scripts/make-results.mjs [--backend cpu|webgpu]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const backend = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : 'cpu';
const common =
  '--model public/models/stories260K.bin --tokenizer public/models/tok512.bin --text public/data/tinystories-eval.txt --calib public/data/tinystories-calib.txt --seq 256';
const rows = [
  '--method fp32',
  '--method rtn --bits 8 --group 0',
  '--method rtn --bits 4 --group 0',
  '--method rtn --bits 4 --group 32',
  '--method gptq --bits 4 --group 0',
  '--method gptq --bits 4 --group 32',
  '--method rtn --bits 3 --group 0',
  '--method gptq --bits 3 --group 0',
  '--method gptq --bits 3 --group 0 --act-order',
  '--method gptq --bits 3 --group 32 --act-order --static-groups',
  '--method rtn --bits 2 --group 0',
  '--method gptq --bits 2 --group 32',
  '--method nf4',
  '--method fp4',
  '--method llmint8',
  '--method smoothquant --alpha 0.5',
  '--method fp16',
  '--method bf16',
  '--method fp8-e4m3',
  '--method fp8-e5m2',
  '--method trunc --mantissa-bits 3',
  '--method trunc --mantissa-bits 0',
];

const lines = [
  '# Results: stories260K on the embedded TinyStories data',
  '',
  `Measured with \`node scripts/make-results.mjs --backend ${backend}\` (${new Date().toISOString().slice(0, 10)}). Each row is`,
  '`npx nibble eval ' + common + ' --backend ' + backend + ' <options> --json`; perplexity by the',
  'protocol of evaluation.md (windows of 256, remainder dropped), drift against fp32 on the same',
  'windows. bits/w = stored bits per linear weight (scales, zeros and padding included; float',
  'formats and truncation are simulated in fp32 storage, so their nominal bits are given).',
  '',
  '| options | ppl | KL mean | KL p99 | top-1 agree | bits/w (stored) | nominal bits | quantize s |',
  '|---|---|---|---|---|---|---|---|',
];
for (const opts of rows) {
  const args = ['bin/nibble.mjs', 'eval', ...common.split(' '), '--backend', backend, ...opts.split(' '), '--json'];
  process.stderr.write(`${opts}\n`);
  const j = JSON.parse(
    execFileSync('node', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 }),
  );
  const f = (x, d = 4) => (x === null || x === undefined ? '—' : Number(x).toFixed(d));
  lines.push(
    `| \`${opts}\` | ${f(j.ppl)} | ${f(j.kl_mean, 5)} | ${f(j.kl_p99, 4)} | ${f(j.top1_agreement)} | ${f(j.bits_per_weight, 2)} | ${j.nominal_bits} | ${f(j.quantize_seconds, 1)} |`,
  );
}
writeFileSync('docs/results.md', `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
