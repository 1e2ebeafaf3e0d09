// The JSON `nibble bench --json` writes: one report per run, one section per bench.
import type { GptqReport } from './bench-gptq.ts';
import type { MatmulReport } from './bench-matmul.ts';
import type { BackendResult } from './bench-stories.ts';
import type { DecodeRow } from './bench-decode.ts';
import type { ScaleReport } from './bench-scale.ts';

export const SECTIONS = ['stories', 'matmul', 'decode', 'gptq', 'scale'] as const;
export type Section = (typeof SECTIONS)[number];
/** What runs without --only: scale writes GBs of synthetic checkpoints, so it runs only when named. */
export const DEFAULT_SECTIONS: readonly Section[] = ['stories', 'matmul', 'decode', 'gptq'];

export interface BenchReport {
  device: {
    adapter: string | null;
    swiftshader: boolean;
    note: string;
    timestampQuery: boolean;
    kernels: string | null;
    cpuCores: number;
    loadAverage: { start: number[]; end: number[] };
    node: string;
  };
  mode: 'quick' | 'full';
  params: Record<string, unknown>;
  // stories260K (issue 2's report, same fields)
  model: {
    path: string;
    dim: number;
    layers: number;
    heads: number;
    kvHeads: number;
    vocab: number;
    seqLen: number;
    params: number;
  };
  adapter: string | null;
  kernels: string | null;
  swiftshader: boolean;
  results: BackendResult[];
  note: string;
  matmul?: MatmulReport & { ort: { version?: string; build: string; error?: string } };
  decode?: DecodeRow[];
  gptq?: GptqReport;
  scale?: ScaleReport;
  skipped: Partial<Record<Section, string>>;
  seconds: number;
  date: string;
}
