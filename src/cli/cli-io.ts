// What a CLI command writes to and reads from: the process's streams and files by default,
// injected by tests. Its own file so that every command can take it without importing main.ts.
import type { GpuContext } from '../gpu/device.ts';

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Reads a file; tests may inject one. Defaults to fs.readFile. */
  readFile?: (path: string) => Promise<Uint8Array>;
  /** Opens the WebGPU device; defaults to Dawn (src/cli/dawn.ts). */
  openGpu?: () => Promise<GpuContext>;
}
