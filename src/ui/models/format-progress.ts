// Short strings for a model load's progress line: ETA, transfer rate, percentage, bytes. Pure.
import { formatBytes } from '../common/format.ts';

/** 0 → "0 s", 95_000 → "1 min 35 s", 7_500_000 → "2 h 5 min"; null/unknown → "—". */
export function formatEta(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** Bytes per second → "12.3 MB/s", below 1 MB/s "850 kB/s" (decimal units, as download tools show them). */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '—';
  const mb = bytesPerSecond / 1e6;
  if (mb < 1) return `${(bytesPerSecond / 1e3).toFixed(0)} kB/s`;
  return `${mb >= 100 ? mb.toFixed(0) : mb.toFixed(1)} MB/s`;
}

/** Whole percent done, 0–100 (0 when the total is unknown). */
export const percentOf = (done: number, total: number): number =>
  total > 0 ? Math.min(100, Math.max(0, Math.floor((done / total) * 100))) : 0;

/** "12.5 MiB of 500 MiB" (or just the bytes read when the total is unknown). */
export const formatBytesOf = (done: number, total: number): string =>
  total > 0 ? `${formatBytes(done)} of ${formatBytes(total)}` : formatBytes(done);
