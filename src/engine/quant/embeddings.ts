// The embedding table (vocab, dim) and the classifier (vocab, dim) quantized by the uniform RTN
// path (quantizeTensorOn: the CPU twin or the WGSL kernel, bit-identical): q8 one symmetric
// scale per row, q4 asymmetric groups of 32 (scale + zero point). A tied table is quantized once
// and stays one object serving both roles (the GPU runner then reads it through the embed_qn
// kernel and the q8 / q4 matmuls from one buffer).
import { weightValues } from '../../core/model/linear.ts';
import type { LlamaModel } from '../../core/model/model.ts';
import { resolveTableQuants, type QuantSpec, type TableQuant } from '../../core/quant/quant-spec.ts';
import type { QuantizeOptions } from '../../core/quant/quantize-tensor.ts';
import { numel, type Tensor } from '../../core/tensor.ts';
import type { QuantBackend } from './backend.ts';
import { CPU_QUANT } from './cpu-backend.ts';
import { quantizeTensorOn } from './quantize-linear.ts';

/** The uniform layout of each table choice. */
export const TABLE_LAYOUT: Record<Exclude<TableQuant, 'keep'>, QuantizeOptions> = {
  q8: { format: 'q8', granularity: 'row', sym: true },
  q4: { format: 'q4', granularity: 'group', group: 32, sym: false },
};

/** Every weight's count, a tied table once (what the default rule is sized by). */
export function modelParams(m: LlamaModel): number {
  const w = m.weights;
  let n = numel(w.tokEmb.shape) + numel(w.rmsFinal.shape) + (w.wcls === w.tokEmb ? 0 : numel(w.wcls.shape));
  for (const l of w.layers) for (const t of Object.values(l)) n += numel((t as Tensor).shape);
  return n;
}

async function quantizeTable(b: QuantBackend, t: Tensor, q: TableQuant, what: string): Promise<Tensor> {
  if (q === 'keep') return t;
  return await quantizeTensorOn(b, weightValues(t, what), TABLE_LAYOUT[q]);
}

/**
 * Replaces model.weights.tokEmb and (untied) wcls by their quantized forms, in place, and returns
 * the spec with the formats it used (the user's choice or defaultTableQuant by model size).
 */
export async function quantizeEmbeddings(
  model: LlamaModel,
  spec: QuantSpec,
  backend: QuantBackend = CPU_QUANT,
): Promise<QuantSpec> {
  const w = model.weights;
  const tied = model.config.sharedClassifier || w.wcls === w.tokEmb;
  const q = resolveTableQuants(spec, modelParams(model), tied);
  w.tokEmb = await quantizeTable(backend, w.tokEmb, q.embed, 'tok_emb');
  w.wcls = tied ? w.tokEmb : await quantizeTable(backend, w.wcls, q.classifier, 'wcls');
  return { ...spec, embed: q.embed, classifier: q.classifier };
}
