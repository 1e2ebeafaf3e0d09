// The playground's worker jobs on a real WebGPU device (Dawn; SwiftShader without a GPU): the
// GPU quantizer makes the variant, the histogram kernel counts the bucket collisions, and
// drift / truncation points / A/B run on WebGPU runners — each checked against the CPU host.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../src/cli/dawn.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { DEFAULT_SPEC, type QuantSpec, type TextSources } from '../../src/worker/engine-host/lab-protocol.ts';
import type { SamplingSettings } from '../../src/worker/engine-host/protocol.ts';

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const FILES: Record<string, Uint8Array> = {
  '/calib.txt': read('public/data/tinystories-calib.txt'),
  '/eval.txt': read('public/data/tinystories-eval.txt'),
};
const MODEL = read('public/models/stories260K.bin');
const TOK = read('public/models/tok512.bin');
const TEXT: TextSources = { calib: '/calib.txt', eval: '/eval.txt' };
const RTN4: QuantSpec = { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 };
const GREEDY: SamplingSettings = { temperature: 0, topP: 1, maxTokens: 16, seed: 1 };

let gpu: GPU;
beforeAll(async () => {
  gpu = await createNodeGpu();
});

async function client(withGpu: boolean) {
  const c = new EngineClient(
    inThreadTransport({ gpu: withGpu ? gpu : undefined, fetchBytes: async (u) => FILES[u], labEvalOnGpu: true }),
  );
  await c.load({ kind: 'bytes', name: 'stories260K', model: MODEL.slice().buffer, tokenizer: TOK.slice().buffer });
  if (withGpu) {
    // The WebGPU runner is built in the background: wait for the model to move there.
    await new Promise<void>((resolve) => {
      const off = c.onEvent((e) => e.kind === 'model-updated' && (off(), resolve()));
    });
  }
  return c;
}

describe('lab jobs on WebGPU match the CPU host', () => {
  it('quantize, collisions, drift, a truncation point and an A/B pair', async () => {
    const [g, cpu] = [await client(true), await client(false)];
    try {
      expect((await g.getInfo()).backend).toBe('webgpu');
      const [vg, vc] = [await g.quantize(RTN4, TEXT), await cpu.quantize(RTN4, TEXT)];
      expect(vg.linearBytes).toBe(vc.linearBytes);
      expect(vg.report!.layers.map((l) => l.linears.wq.sqnrDb)).toEqual(
        vc.report!.layers.map((l) => l.linears.wq.sqnrDb),
      ); // bit-exact codes

      const q = {
        layer: 1,
        linear: 'w2' as const,
        bits: [8, 4, 2],
        granularities: [{ granularity: 'group' as const, group: 32 }, { granularity: 'tensor' as const }],
        sym: true,
      };
      const [cg, cc] = [await g.collisions(q), await cpu.collisions(q)];
      expect([cg.backend, cc.backend]).toEqual(['webgpu', 'cpu']);
      expect(cg.rows).toEqual(cc.rows);

      const [dg, dc] = [
        await g.drift({ variant: vg.id, text: TEXT, windows: 1 }),
        await cpu.drift({ variant: vc.id, text: TEXT, windows: 1 }),
      ];
      expect(dg.backend).toBe('webgpu');
      expect(dg.ppl).toBeCloseTo(dc.ppl, 3);
      expect(Math.abs(dg.top1! - dc.top1!)).toBeLessThanOrEqual(3 / dc.tokens);
      dg.sqnrDb.forEach((db, l) => expect(Math.abs(db - dc.sqnrDb[l])).toBeLessThan(0.5));

      const tq = {
        k: 2,
        mode: 'truncate' as const,
        text: TEXT,
        windows: 1,
        prompt: 'Once upon a time',
        sampleTokens: 8,
      };
      const [tg, tc] = [await g.truncationPoint(tq), await cpu.truncationPoint(tq)];
      expect(tg.backend).toBe('webgpu');
      expect(tg.ppl).toBeCloseTo(tc.ppl, 3);

      const [pg, pc] = [
        await g.generatePair('Once upon a time', GREEDY, ['base', vg.id]),
        await cpu.generatePair('Once upon a time', GREEDY, ['base', vc.id]),
      ];
      expect(pg.results.map((r) => r.backend)).toEqual(['webgpu', 'webgpu']);
      expect(pg.results[0].gpuMemory!.weightBytes).toBeGreaterThan(pg.results[1].gpuMemory!.weightBytes); // int4 holds less
      expect(pg.results.map((r) => r.text)).toEqual(pc.results.map((r) => r.text));
    } finally {
      g.dispose();
      cpu.dispose();
    }
  }, 300_000);
});
