// Display formatting shared by the panels. Pure functions of numbers → short strings.

const KI = 1024;

/** 1536 → "1.5 KiB"; exact powers print without decimals ("256 MiB"). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= KI && u < units.length - 1) {
    v /= KI;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** 260_000 → "260K", 6_740_000_000 → "6.7B". */
export function formatCount(n: number): string {
  const steps: [number, string][] = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [div, suffix] of steps) {
    if (n >= div) {
      const v = n / div;
      return `${v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '')}${suffix}`;
    }
  }
  return String(n);
}

/** Tokens per second with sensible precision. */
export const formatRate = (tps: number): string => (tps >= 100 ? tps.toFixed(0) : tps.toFixed(1));

export const formatMs = (ms: number): string =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 10 ? 0 : 1)} ms`;
