// The CPU backend: the core reference forward pass behind the ModelRunner interface.
import { CpuForward } from '../core/model/forward.ts';
import type { LlamaModel } from '../core/model/model.ts';
import { argmax } from '../core/model/ops.ts';
import type { ModelRunner, RunnerCounters, StepResult } from './runner.ts';

export function createCpuRunner(model: LlamaModel): ModelRunner {
  const fwd = new CpuForward(model);
  const counters: RunnerCounters = { submits: 0, dispatches: 0, forwards: 0 };
  return {
    backend: 'cpu',
    config: model.config,
    counters,
    async step(tokens, pos, want): Promise<StepResult> {
      counters.forwards++;
      const logits = fwd.forward(tokens, pos);
      return want === 'argmax' ? { kind: 'argmax', token: argmax(logits) } : { kind: 'logits', logits };
    },
    async logitsAll(tokens, opts) {
      counters.forwards++;
      const residuals: Float32Array[] | undefined = opts?.residuals ? [] : undefined;
      return { logits: fwd.forwardAll(tokens, 0, residuals), residuals };
    },
    dispose() {},
  };
}
