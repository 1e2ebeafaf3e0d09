// The CLI end to end on the WebGPU backend (Dawn + SwiftShader): quantization through the WGSL
// quantizers, evaluation through the GPU runner. RTN is bit-identical to the CPU twin, so its
// perplexity must match the CPU backend's up to the runners' float summation order; GPTQ runs
// in f32 on the GPU vs float64 on the CPU, so its perplexity is compared with a looser bound.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../src/cli/dawn.ts';
import { main, type CliIo } from '../../src/cli/main.ts';
import { requestGpuContext } from '../../src/gpu/device.ts';

const root = new URL('../../', import.meta.url);
const p = (rel: string) => new URL(rel, root).pathname;
const dir = mkdtempSync(join(tmpdir(), 'nibble-cligpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const story = (file: string, n: number) => {
  const out = join(dir, `${n}-${file}`);
  writeFileSync(
    out,
    readFileSync(p(`public/data/${file}`), 'utf8')
      .split('\n')
      .slice(0, n)
      .join('\n'),
  );
  return out;
};
const EVAL = story('tinystories-eval.txt', 1);
const CALIB = story('tinystories-calib.txt', 1);

async function evalJson(backend: 'cpu' | 'webgpu', ...flags: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    openGpu: async () => requestGpuContext(await createNodeGpu()), // a fresh device; the CLI destroys it
  };
  const code = await main(
    [
      'eval',
      '--model',
      p('public/models/stories260K.bin'),
      '--tokenizer',
      p('public/models/tok512.bin'),
      '--text',
      EVAL,
      '--seq',
      '128',
      '--backend',
      backend,
      ...flags,
      '--json',
    ],
    io,
  );
  expect(stderr).not.toMatch(/error/);
  expect(code).toBe(0);
  return JSON.parse(stdout);
}

describe('nibble eval --backend webgpu', () => {
  it('rtn int4 g32: same perplexity and bytes as the CPU backend', async () => {
    const gpu = await evalJson('webgpu', '--method', 'rtn', '--bits', '4', '--group', '32');
    const cpu = await evalJson('cpu', '--method', 'rtn', '--bits', '4', '--group', '32');
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.weight_bytes).toBe(cpu.weight_bytes);
    expect(Math.abs(gpu.ppl - cpu.ppl) / cpu.ppl).toBeLessThan(1e-4);
    expect(Math.abs(gpu.kl_mean - cpu.kl_mean)).toBeLessThan(1e-4);
  }, 300_000);

  it('gptq int3 per row on the GPU lands within 1 % of the float64 CPU reference', async () => {
    const gpu = await evalJson('webgpu', '--method', 'gptq', '--bits', '3', '--group', '0', '--calib', CALIB);
    const cpu = await evalJson('cpu', '--method', 'gptq', '--bits', '3', '--group', '0', '--calib', CALIB);
    expect(Math.abs(gpu.ppl - cpu.ppl) / cpu.ppl).toBeLessThan(0.01);
    for (let l = 0; l < 5; l++)
      expect(Math.abs(gpu.layers[l].gptq_loss - cpu.layers[l].gptq_loss) / cpu.layers[l].gptq_loss).toBeLessThan(0.01);
  }, 600_000);
});
