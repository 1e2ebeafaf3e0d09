// `nibble bench` without --json: the report as aligned text tables (same figures as the JSON).
import type { BenchReport } from './bench-report.ts';

const MB = (b: number): string => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);
/** ≥ 1000: grouped integer; else `digits` significant digits. */
const fmt = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined
    ? '—'
    : x >= 1000
      ? Math.round(x).toLocaleString('en')
      : String(Number(x.toPrecision(digits)));

/** Rows of cells as left-aligned columns. */
function table(head: string[], rows: string[][]): string[] {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(width[i]))
      .join('  ')
      .trimEnd();
  return [line(head), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export function formatReport(r: BenchReport): string[] {
  const d = r.device;
  const out = [
    `device: ${d.adapter ?? 'no WebGPU'}${d.kernels ? `; kernels ${d.kernels}` : ''}; timestamps ${d.timestampQuery ? 'yes' : 'no'}`,
    `host: ${d.cpuCores} CPU cores, load average ${d.loadAverage.start.join(' ')} → ${d.loadAverage.end.join(' ')}; mode ${r.mode}; ${r.seconds} s`,
    `note: ${r.note}`,
  ];
  for (const [section, why] of Object.entries(r.skipped)) out.push(`${section}: skipped: ${why}`);

  if (r.results.length) {
    out.push(
      '',
      `stories260K (${r.model.params.toLocaleString('en')} params, dim ${r.model.dim}, ${r.model.layers} layers)`,
    );
    for (const x of r.results) {
      if (x.skipped) {
        out.push(`${x.backend.padEnd(6)} skipped: ${x.skipped}`);
        continue;
      }
      const gpu =
        x.dispatchesPerToken !== undefined
          ? `, ${x.dispatchesPerToken} dispatches + ${x.submitsPerToken} submit per token`
          : '';
      out.push(
        `${x.backend.padEnd(6)} prefill ${x.prefill!.tokensPerSecond} tok/s (${x.prefill!.tokens} tokens, median of ${x.prefill!.reps}), ` +
          `decode ${x.decode!.tokensPerSecond} tok/s (${x.decode!.msPerToken} ms/token over ${x.decode!.tokens})${gpu}`,
      );
    }
  }

  if (r.matmul) {
    const m = r.matmul;
    out.push(
      '',
      `matmul (µs per call: ${m.timing}); onnxruntime: ${m.ort.error ? `not run: ${m.ort.error}` : `${m.ort.version}, ${m.ort.build}`}`,
    );
    out.push(
      ...table(
        [
          'format',
          'N×K',
          'M',
          'weights',
          'ours µs',
          'ours GB/s',
          'stream GB/s',
          'copy GB/s',
          'ours/stream',
          'ORT gpu µs',
          'ORT wasm µs',
          'vs ORT gpu',
        ],
        m.rows.map((x) => [
          x.format,
          `${x.n}×${x.k}`,
          String(x.m),
          MB(x.weightBytes),
          fmt(x.ours.usPerCall),
          fmt(x.ours.GBs),
          fmt(x.stream.GBs),
          fmt(x.copy.GBs),
          fmt(x.oursOverStream),
          x.ort ? (x.ort.webgpu.error ? 'error' : fmt(x.ort.webgpu.kernelUsPerCall)) : '',
          x.ort ? (x.ort.wasm.error ? 'error' : fmt(x.ort.wasm.runUsPerCall)) : '',
          x.speedupVsOrt !== undefined ? `${x.speedupVsOrt}×` : '',
        ]),
      ),
    );
    const errors = m.rows.flatMap((x) => (x.ort ? [x.ort.webgpu.error, x.ort.wasm.error].filter(Boolean) : []));
    if (errors.length) out.push(`ORT errors: ${[...new Set(errors)].join(' | ')}`);
  }

  if (r.decode?.length) {
    out.push('', 'decode (greedy, GPU runner)');
    out.push(
      ...table(
        ['model', 'format', 'tok/s', 'ms/token', 'dispatches/token', 'GPU weights', 'linears', 'tokens'],
        r.decode.map((x) => [
          x.model,
          x.format,
          fmt(x.tokensPerSecond),
          fmt(x.msPerToken),
          String(x.dispatchesPerToken),
          MB(x.memory.weightBytes),
          MB(x.memory.linearBytes),
          String(x.tokens),
        ]),
      ),
    );
  }

  if (r.gptq) {
    const g = r.gptq;
    out.push('', `gptq (${g.implementation}${g.cpuReason ? `; why: ${g.cpuReason}` : ''})`);
    out.push(
      `measured: ${g.measured.layers} layer(s) × ${g.measured.windows} windows × ${g.measured.windowTokens} tokens: ${g.measured.totalSeconds} s`,
    );
    for (const [i, p] of g.measured.perLayer.entries()) {
      const h = Object.entries(p.hessianMs)
        .map(([k, v]) => `${k} ${Math.round(v)}`)
        .join(', ');
      const q = Object.entries(p.gptqMs)
        .map(([k, v]) => `${k} ${Math.round(v)}`)
        .join(', ');
      out.push(`  layer ${i}: Hessians ms (${h}); GPTQ ms (${q})`);
    }
    const e = g.extrapolated;
    out.push(
      `${e.label}: ${e.layers} layers × ${e.windows} windows: ${e.totalSeconds} s (Hessians ${e.hessianSeconds} s + GPTQ ${e.gptqSeconds} s)`,
    );
    const k = g.calibration;
    if (k)
      out.push(
        `calibration (${k.layers} layer(s) × ${k.windows} windows × ${k.windowTokens} tokens, 4 Hessians + advance per layer): GPU ${k.gpuSeconds} s, CPU ${k.cpuSeconds} s, ${k.speedup}× faster on the GPU`,
      );
  }
  return out;
}
