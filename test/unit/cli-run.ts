// The CLI called in-process for tests: main(argv, io) with stdout/stderr captured as strings.
import { main, type CliIo } from '../../src/cli/main.ts';

export async function runCli(
  argv: string[],
  extra: Partial<CliIo> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    ...extra,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Space-separated CLI words as argv entries (none of them may contain a space). */
export const args = (words: string): string[] => words.split(' ');
