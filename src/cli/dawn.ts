// WebGPU in Node through Dawn (npm `webgpu`), used by the CLI, the bench and the GPU tests.
// Without a GPU it falls back to SwiftShader (Chromium's software Vulkan driver).
//
// Lifetime rule: every object `create()` returns stays referenced here for the life of the
// process. When Dawn's instance is garbage-collected, later calls crash at random (SIGSEGV in
// DeviceBase::APITick, futex aborts), seen on SwiftShader and on NVIDIA alike.
import { existsSync } from 'node:fs';
import { NibbleError } from '../core/errors.ts';
import { requestGpuContext, type GpuContext, type GpuOptions } from '../gpu/device.ts';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const instances: GPU[] = []; // never cleared: see the lifetime rule above
let opened: Promise<GPU> | undefined;

const INSTALL_HINT =
  'Install a GPU driver with Vulkan support, or a software one: on Debian/Ubuntu `apt-get install -y libvulkan1 chromium` ' +
  `(nibble then uses Chromium's SwiftShader at ${SWIFTSHADER_ICD}); or set VK_ICD_FILENAMES to a Vulkan ICD JSON. ` +
  'The CPU backend (--backend cpu) needs none of this.';

/** True when the machine shows no GPU device node, so a hardware Vulkan driver cannot work. */
const noGpuDevice = (): boolean =>
  process.platform === 'linux' && !existsSync('/dev/dri') && !existsSync('/dev/nvidia0');

/** Whether we may point Vulkan at SwiftShader: the user chose no ICD and SwiftShader exists. */
const canUseSwiftShader = (): boolean =>
  process.platform === 'linux' && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD);

async function open(): Promise<GPU> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp'; // Vulkan loaders complain (and some fail) without it
  if (noGpuDevice() && canUseSwiftShader()) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // before create()

  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new NibbleError(
      'no-webgpu',
      `Dawn (npm package "webgpu") could not be loaded: ${(e as Error).message}. Run npm install. ${INSTALL_HINT}`,
    );
  }
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ... as in a browser

  const first = dawn.create([]);
  instances.push(first);
  if (await first.requestAdapter()) return first;

  // A GPU device exists but its driver gave no adapter (or libvulkan is missing): try SwiftShader.
  if (canUseSwiftShader()) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    const second = dawn.create([]);
    instances.push(second);
    if (await second.requestAdapter()) return second;
  }
  throw new NibbleError(
    'no-webgpu',
    `Dawn found no WebGPU adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'}). ${INSTALL_HINT}`,
  );
}

/** The process's WebGPU entry point (navigator.gpu's Node twin); created once. */
export function createNodeGpu(): Promise<GPU> {
  opened ??= open().catch((e: unknown) => {
    opened = undefined; // let a later call retry after the user fixes the setup
    throw e;
  });
  return opened;
}

/** createNodeGpu + requestGpuContext: the device the CLI, the bench and the tests run on. */
export async function createNodeGpuContext(opts: GpuOptions = {}): Promise<GpuContext> {
  return requestGpuContext(await createNodeGpu(), opts);
}
