// src/cli/dawn.ts from a plain child process: no VK_ICD_FILENAMES, no XDG_RUNTIME_DIR. It must
// find an adapter on its own (SwiftShader on a machine without a GPU), and say what to
// install when the Vulkan driver it is pointed at does not exist.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { requestGpuContext } from '../../src/gpu/device.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

// Runs src/cli/dawn.ts in a fresh Node (TypeScript through tsx, WGSL through bin/'s hooks)
// and returns what it printed: the adapter description or the error code and message.
const CHILD = `
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';
registerTsx();
register('./bin/wgsl-hooks.mjs', 'file://${root}');
const { createNodeGpuContext } = await import('./src/cli/dawn.ts');
try {
  const ctx = await createNodeGpuContext();
  console.log(JSON.stringify({ ok: true, adapter: ctx.adapterInfo, kernels: ctx.kernels.gemv, icd: process.env.VK_ICD_FILENAMES ?? null }));
  ctx.destroy();
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
}
process.exit(0);
`;

function runChild(env: Record<string, string>): Promise<Record<string, unknown>> {
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', CHILD],
      { cwd: root, env: { ...base, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error(`child printed no result (${err?.message ?? ''}):\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe('createNodeGpu (src/cli/dawn.ts)', () => {
  it('finds an adapter from a process with no Vulkan or XDG environment', async () => {
    const r = await runChild({});
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.adapter).toHaveProperty('description');
  });

  it('throws no-webgpu with install instructions when pointed at a missing Vulkan driver', async () => {
    const r = await runChild({ VK_ICD_FILENAMES: '/nonexistent/icd.json', XDG_RUNTIME_DIR: '/tmp' });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('no-webgpu');
    expect(r.message).toMatch(/apt-get install -y libvulkan1 chromium/);
  });
});

describe('requestGpuContext', () => {
  it('throws no-webgpu when there is no navigator.gpu', async () => {
    const err = await requestGpuContext(undefined).catch((e: unknown) => e);
    expect(isNibbleError(err) && err.code).toBe('no-webgpu');
  });
});
