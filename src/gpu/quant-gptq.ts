// GPTQ on the GPU (f32): the twin of src/core/quant/gptq.ts gptqQuantize (f64), same GptqResult.
// Host: diag(H) → dead inputs, act-order permutation, damping value, group index per permuted
// column, and W's column permutation (all O(cols) or O(rows·cols), cheap). GPU, one command
// buffer: U (quant-cholesky.ts), the initial grid fit (per-row, or static groups), then per block
// of B columns: gptq_fit for the groups starting in the block (W as it stands at the block
// start), and per chunk of ≤ 128 columns inside it gptq_block (column loop, error feedback in
// registers) + gptq_update (lazy batch GEMM on the columns to the right). A block wider than 128
// runs as chunks with intermediate updates: the same algebra, and group fits still happen at the
// block start, so results match the reference's block semantics for any B.
// Dispatches: ≈ 3·cols/32 (U) + 1 + ⌈cols/B⌉ (fits) + 2·⌈cols/min(B, 128)⌉.
import { NibbleError } from '../core/errors.ts';
import type { GptqOptions, GptqResult } from '../core/quant/gptq.ts';
import { createStorage, readBuffers, uploadStorage } from './buffers.ts';
import type { GpuContext } from './device.ts';
import { GpuHessian, checkPivot, choleskyInverseUpper, choleskyScratchWords } from './quant-cholesky.ts';
import { fail, groupsFor, holds, positive } from './checks.ts';
import type { Recorder } from './recorder.ts';

export { GpuHessian } from './quant-cholesky.ts';

const CHUNK = 128; // BI in gptq_block.wgsl / gptq_update.wgsl

export interface GptqFitArgs {
  W: GPUBuffer; // (rows, cols)
  grid: GPUBuffer; // (rows, nGroups, 2)
  rows: number;
  cols: number;
  group: number; // G
  g0: number; // first group to fit
  ng: number; // number of groups
  bits: number;
  sym: boolean;
}

export function gptqFit(rec: Recorder, a: GptqFitArgs): void {
  positive('gptqFit', ['rows', a.rows], ['cols', a.cols], ['group', a.group], ['ng', a.ng]);
  const nGroups = Math.ceil(a.cols / a.group);
  if (a.g0 + a.ng > nGroups) fail(`gptqFit: groups ${a.g0}..${a.g0 + a.ng - 1} past ${nGroups}`);
  holds('gptqFit W', a.W, a.rows * a.cols);
  holds('gptqFit grid', a.grid, a.rows * nGroups * 2);
  rec.dispatch('gptq_fit', {
    buffers: [a.W, a.grid],
    params: {
      rows: a.rows,
      cols: a.cols,
      G: a.group,
      n_groups: nGroups,
      g0: a.g0,
      ng: a.ng,
      maxq: 2 ** a.bits - 1,
      sym: +a.sym,
    },
    workgroups: groupsFor(rec, a.rows * a.ng),
  });
}

export interface GptqBlockArgs {
  W: GPUBuffer; // (rows, cols) permuted, updated in place by gptqUpdate
  U: GPUBuffer; // (cols, cols)
  grid: GPUBuffer; // (rows, nGroups, 2)
  gIdx: GPUBuffer; // (cols) u32
  codes: GPUBuffer; // (rows, cols) u32
  err: GPUBuffer; // (rows, 128)
  loss: GPUBuffer; // (rows)
  rows: number;
  cols: number;
  nGroups: number;
  bits: number;
}

/** Column loop over columns s1 .. s1 + cnt − 1 (cnt ≤ 128), then the lazy update right of them. */
export function gptqBlock(rec: Recorder, a: GptqBlockArgs, s1: number, cnt: number): void {
  positive('gptqBlock', ['rows', a.rows], ['cols', a.cols], ['cnt', cnt]);
  if (cnt > CHUNK || s1 + cnt > a.cols)
    fail(`gptqBlock: columns ${s1}..${s1 + cnt - 1} (at most ${CHUNK}) of ${a.cols}`);
  holds('gptqBlock W', a.W, a.rows * a.cols);
  holds('gptqBlock U', a.U, a.cols * a.cols);
  holds('gptqBlock grid', a.grid, a.rows * a.nGroups * 2);
  holds('gptqBlock gIdx', a.gIdx, a.cols);
  holds('gptqBlock codes', a.codes, a.rows * a.cols);
  holds('gptqBlock err', a.err, a.rows * CHUNK);
  holds('gptqBlock loss', a.loss, a.rows);
  rec.dispatch('gptq_block', {
    buffers: [a.W, a.U, a.grid, a.gIdx, a.codes, a.err, a.loss],
    params: { rows: a.rows, cols: a.cols, s1, cnt, n_groups: a.nGroups, maxq: 2 ** a.bits - 1 },
    workgroups: groupsFor(rec, a.rows),
  });
  const right = a.cols - s1 - cnt;
  if (right > 0) {
    rec.dispatch('gptq_update', {
      buffers: [a.err, a.U, a.W],
      params: { rows: a.rows, cols: a.cols, s1, cnt },
      workgroups: [Math.ceil(right / 32), Math.ceil(a.rows / 32)],
    });
  }
}

/** Host-side plan: dead inputs, act-order permutation, damping, group of each permuted column. */
function plan(diag: ArrayLike<number>, cols: number, opts: GptqOptions) {
  const dead = Uint8Array.from({ length: cols }, (_, i) => (diag[i] === 0 ? 1 : 0));
  const d = Float64Array.from({ length: cols }, (_, i) => (dead[i] ? 1 : diag[i]));
  const perm = Int32Array.from({ length: cols }, (_, i) => i);
  if (opts.actOrder) perm.sort((a, b) => d[b] - d[a] || a - b);
  let mean = 0;
  for (let i = 0; i < cols; i++) mean += d[i];
  mean /= cols;
  const G = opts.group > 0 ? opts.group : cols;
  const gIdxPerm = Uint32Array.from({ length: cols }, (_, j) =>
    opts.group > 0 ? Math.floor((opts.staticGroups ? perm[j] : j) / G) : 0,
  );
  return { dead, perm, damp: opts.damp * mean, G, gIdxPerm };
}

export async function gptqOnGpu(
  ctx: GpuContext,
  rec: Recorder,
  Win: Float32Array,
  rows: number,
  cols: number,
  H: GpuHessian | Float64Array | Float32Array,
  opts: GptqOptions,
): Promise<GptqResult> {
  const { bits, sym, blockSize: B } = opts;
  if (!(Number.isInteger(bits) && bits >= 2 && bits <= 8))
    throw new NibbleError('bad-argument', `GPTQ: bits must be 2..8, got ${bits}`);
  positive('gptq', ['rows', rows], ['cols', cols], ['blockSize', B]);
  if (!(opts.group >= 0 && Number.isInteger(opts.group)))
    fail(`GPTQ: group must be 0 or a positive integer, got ${opts.group}`);
  if (Win.length !== rows * cols) fail(`GPTQ: ${Win.length} weights for a ${rows}×${cols} layer`);
  const gpuH = H instanceof GpuHessian ? H : null;
  if (gpuH ? gpuH.cols !== cols : (H as Float64Array | Float32Array).length !== cols * cols)
    fail(`GPTQ: Hessian is not ${cols}×${cols}`);

  const diag = gpuH
    ? await gpuH.diag()
    : Float64Array.from({ length: cols }, (_, i) => (H as Float64Array)[i * cols + i]);
  const { dead, perm, damp, G, gIdxPerm } = plan(diag, cols, opts);
  const nGroups = Math.ceil(cols / G);
  const grouped = opts.group > 0;
  const staticGroups = grouped && opts.staticGroups;

  // W with dead inputs zeroed (what static groups fit on), and its permuted copy (what GPTQ runs on).
  const Wdz = Float32Array.from(Win);
  for (let c = 0; c < cols; c++) if (dead[c]) for (let r = 0; r < rows; r++) Wdz[r * cols + c] = 0;
  const Wperm = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) Wperm[r * cols + j] = Wdz[r * cols + perm[j]];

  const owned: GPUBuffer[] = [];
  const keep = (b: GPUBuffer): GPUBuffer => (owned.push(b), b);
  try {
    const Hbuf = gpuH ? gpuH.buffer : keep(uploadStorage(ctx, Float32Array.from(H as ArrayLike<number>), 'gptq-H'));
    const q = keep(
      uploadStorage(
        ctx,
        Uint32Array.from({ length: cols }, (_, i) => perm[cols - 1 - i]),
        'gptq-q',
      ),
    );
    const U = keep(createStorage(ctx, cols * cols * 4, 'gptq-U'));
    const X = keep(createStorage(ctx, cols * cols * 4, 'gptq-X'));
    const ld = keep(createStorage(ctx, choleskyScratchWords(cols) * 4, 'gptq-ld'));
    const status = keep(createStorage(ctx, 4, 'gptq-status'));
    choleskyInverseUpper(rec, { H: Hbuf, q, A: U, X, ld, status, n: cols, damp });

    const bufs = {
      W: keep(uploadStorage(ctx, Wperm, 'gptq-W')),
      U,
      grid: keep(createStorage(ctx, rows * nGroups * 2 * 4, 'gptq-grid')),
      gIdx: keep(uploadStorage(ctx, gIdxPerm, 'gptq-gidx')),
      codes: keep(createStorage(ctx, rows * cols * 4, 'gptq-codes')),
      err: keep(createStorage(ctx, rows * CHUNK * 4, 'gptq-err')),
      loss: keep(createStorage(ctx, rows * 4, 'gptq-loss')),
      rows,
      cols,
      nGroups,
      bits,
    };
    // Per-row grid: fitted on the ORIGINAL W (before the dead-input fix), as the reference does.
    // Static groups: every group on W with dead inputs zeroed, before the permutation.
    if (!grouped || staticGroups) {
      const Wfit = keep(uploadStorage(ctx, grouped ? Wdz : Win, 'gptq-Wfit'));
      gptqFit(rec, { W: Wfit, grid: bufs.grid, rows, cols, group: G, g0: 0, ng: nGroups, bits, sym });
    }
    for (let i1 = 0; i1 < cols; i1 += B) {
      const i2 = Math.min(i1 + B, cols);
      if (grouped && !staticGroups) {
        const g0 = Math.ceil(i1 / G);
        const g1 = Math.floor((i2 - 1) / G); // groups whose first column lies in [i1, i2)
        if (g1 >= g0)
          gptqFit(rec, { W: bufs.W, grid: bufs.grid, rows, cols, group: G, g0, ng: g1 - g0 + 1, bits, sym });
      }
      for (let s1 = i1; s1 < i2; s1 += CHUNK) gptqBlock(rec, bufs, s1, Math.min(CHUNK, i2 - s1));
    }
    rec.submit();
    const [codesP, gridW, lossW, st] = await readBuffers(ctx, [
      [bufs.codes, rows * cols],
      [bufs.grid, rows * nGroups * 2],
      [bufs.loss, rows],
      [status, 1],
    ]);
    checkPivot(st[0]);
    return assemble(
      codesP,
      new Float32Array(gridW.buffer),
      new Float32Array(lossW.buffer),
      perm,
      gIdxPerm,
      rows,
      cols,
      nGroups,
    );
  } finally {
    owned.forEach((b) => b.destroy());
  }
}

/** Undo the permutation; ŵ = f32(scale · (q − zero)) in the original column order. */
function assemble(
  codesP: Uint32Array,
  grid: Float32Array,
  lossRows: Float32Array,
  perm: Int32Array,
  gIdxPerm: Uint32Array,
  rows: number,
  cols: number,
  nGroups: number,
): GptqResult {
  const codes = new Uint8Array(rows * cols);
  const dequant = new Float32Array(rows * cols);
  const scales = new Float32Array(rows * nGroups);
  const zeros = new Float32Array(rows * nGroups);
  for (let i = 0; i < rows * nGroups; i++) {
    scales[i] = grid[2 * i];
    zeros[i] = grid[2 * i + 1];
  }
  const gIdx = new Int32Array(cols);
  for (let j = 0; j < cols; j++) {
    const c = perm[j];
    gIdx[c] = gIdxPerm[j];
    for (let r = 0; r < rows; r++) {
      const q = codesP[r * cols + j];
      const g = r * nGroups + gIdxPerm[j];
      codes[r * cols + c] = q;
      dequant[r * cols + c] = scales[g] * (q - zeros[g]);
    }
  }
  let loss = 0;
  for (const l of lossRows) loss += l;
  return { codes, scales, zeros, gIdx, dequant, loss };
}
