// Peer check: llama.cpp itself (node-llama-cpp, the pinned linux-x64 CPU prebuilt; docs/peers.md)
// loads the GGUF files nibble's writer produces (core/formats/gguf/write.ts, as `nibble export
// --format gguf-*` calls it) and decodes greedily the same tokens nibble does:
//   stories260K f32   llama.cpp's greedy tokens from BOS = nibble's for the whole 512-token
//                     context, its own detokenized text = llama2.c run.c's golden output (200
//                     tokens), and its next-token probabilities = softmax of nibble's logits;
//   stories260K q8_0 / q4_0   llama.cpp loads both; against nibble's CPU runner on the same file
//                     read back: a greedy prefix, the argmax at (nearly) every teacher-forced
//                     position, |Δp| bounded, and disagreements only where nibble's top two are a
//                     near-tie (llama.cpp rounds the activations to Q8_0 inside quantized dot
//                     products and to F16 for F16 weights; nibble keeps them f32);
//   SmolLM2-135M-shaped synthetic (2 layers, 512 tokens) f32   llama.cpp's greedy tokens from a
//                     short id prompt = nibble's on the HF folder, and its log-probabilities =
//                     nibble's (covers the q/k RoPE row permutation, GQA 9/3 heads, tied head).
// llama.cpp runs with an f32 KV cache (its default is f16) so that f32 exports compare tightly.
// Runs only where that prebuilt exists (linux-x64); getLlama never builds or downloads.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryFolder } from '../../src/core/formats/hf/load.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { vocabFromLlama2c } from '../../src/core/formats/gguf/vocab.ts';
import { writeGgufModel, type GgufExportFormat } from '../../src/core/formats/gguf/write.ts';
import { bytesReader, openCheckpoint, openHfFolder } from '../../src/core/formats/model-open.ts';
import { syntheticModelFiles } from '../../src/core/formats/synthetic.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { stories260K, tok512 } from './helpers.ts';

const HAS_PREBUILT = process.platform === 'linux' && process.arch === 'x64';
const BOS = 1;
const golden = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8').replace(/\n$/, '');

/** nibble's greedy continuation: prefill `prompt` at 0, then n − 1 single-token steps (argmax). */
async function nibbleGreedy(model: LlamaModel, prompt: number[], n: number): Promise<number[]> {
  const runner = createCpuRunner(model);
  const out: number[] = [];
  let feed = prompt;
  let pos = 0;
  while (out.length < n) {
    const r = await runner.step(feed, pos, 'argmax');
    if (r.kind !== 'argmax') throw new Error('argmax expected');
    out.push(r.token);
    pos += feed.length;
    feed = [r.token];
  }
  runner.dispose();
  return out;
}

/** nibble's next-token logits after each of `ids` (one step per token). */
async function nibbleLogits(model: LlamaModel, ids: number[]): Promise<Float32Array[]> {
  const runner = createCpuRunner(model);
  const out: Float32Array[] = [];
  for (let t = 0; t < ids.length; t++) {
    const r = await runner.step([ids[t]], t, 'logits');
    if (r.kind !== 'logits') throw new Error('logits expected');
    out.push(r.logits);
  }
  runner.dispose();
  return out;
}

function softmax(x: Float32Array): Float64Array {
  const m = x.reduce((a, b) => Math.max(a, b), -Infinity);
  const e = Float64Array.from(x, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const argmax = (x: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
};

/** Index of the first difference (= length of the common prefix). */
const agreement = (a: number[], b: number[]) => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
};

describe.skipIf(!HAS_PREBUILT)('llama.cpp (node-llama-cpp, CPU prebuilt) runs nibble GGUF exports', () => {
  let llama: Llama;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nibble-peer-llama-'));
    // CPU only, prebuilt binary only: no source build, no download (NoBinaryFoundError instead).
    llama = await getLlama({
      gpu: false,
      build: 'never',
      skipDownload: true,
      usePrebuiltBinaries: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.error,
      maxThreads: 1, // one thread: llama.cpp's spinning thread pool crawls on a shared, busy CPU
    });
  }, 120_000);

  afterAll(async () => {
    await llama?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // f32 KV cache (llama.cpp's default is f16; nibble keeps f32), no flash attention, one thread.
  const contextOptions = (contextSize: number) => ({
    contextSize,
    sequences: 1,
    batchSize: contextSize,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32' as const,
    experimentalKvCacheValueType: 'F32' as const,
  });

  /** Writes `bytes` to the temp dir and loads it into llama.cpp (all layers on the CPU). */
  async function loadIntoLlama(name: string, bytes: Uint8Array) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return llama.loadModel({ modelPath: path, gpuLayers: 0, useMmap: false });
  }

  /**
   * llama.cpp's greedy continuation of `prompt` (n tokens; the prompt must fit contextSize).
   * One controlledEvaluate per token: no EOS stop, no repeat penalty, temperature 0 = argmax.
   * With `probs`, also the next-token probability vector after each prompt token.
   */
  async function llamaGreedy(
    bytes: Uint8Array,
    name: string,
    prompt: number[],
    n: number,
    contextSize: number,
    probs = false,
    textTokens = n, // detokenize the first textTokens tokens (llama.cpp's own detokenizer)
  ) {
    const model = await loadIntoLlama(name, bytes);
    const context = await model.createContext(contextOptions(contextSize));
    const seq = context.getSequence();
    const greedy = { temperature: 0 };
    const first = await seq.controlledEvaluate(
      prompt.map((t): ControlledEvaluateInputItem => [
        t as Token,
        { generateNext: { token: true, probabilities: probs, options: greedy } },
      ]),
    );
    const probabilities = first.map((o) => o?.next?.probabilities);
    const tokens: number[] = [first.at(-1)!.next!.token!];
    while (tokens.length < n) {
      const [r] = await seq.controlledEvaluate([
        [tokens.at(-1)! as Token, { generateNext: { token: true, options: greedy } }],
      ]);
      tokens.push(r!.next!.token!);
    }
    const text = model.detokenize(tokens.slice(0, textTokens) as Token[]);
    await context.dispose();
    await model.dispose();
    return { tokens, text, probabilities };
  }

  /** llama.cpp's next-token probabilities (dense, `vocab` long) after each of `ids`, fed as one batch. */
  async function llamaProbabilities(
    bytes: Uint8Array,
    name: string,
    ids: number[],
    contextSize: number,
    vocab: number,
  ) {
    const model = await loadIntoLlama(name, bytes);
    const context = await model.createContext(contextOptions(contextSize));
    const out = await context
      .getSequence()
      .controlledEvaluate(
        ids.map((t) => [t as Token, { generateNext: { probabilities: true, options: { temperature: 0 } } }]),
      );
    const rows = out.map((o) => {
      const dense = new Float64Array(vocab);
      for (const [t, pr] of o!.next!.probabilities!) dense[t] = pr;
      return dense;
    });
    await context.dispose();
    await model.dispose();
    return rows;
  }

  describe('stories260K exported by nibble', () => {
    const source = parseLlama2c(stories260K());
    const vocab = vocabFromLlama2c(tok512(), source.config.vocabSize);
    const ctx = source.config.seqLen; // 512: BOS + 511 fed tokens → 512 greedy outputs
    // llama.cpp's KV room: node-llama-cpp shifts the context (drops its start) before it fills up,
    // so it gets twice the positions the 512 compared ones need.
    const room = 2 * ctx;
    const exportOf = (f: GgufExportFormat) => writeGgufModel(source, vocab, f, { name: 'stories260K' });
    const nibbleOnFile = async (bytes: Uint8Array, n: number) =>
      nibbleGreedy((await openCheckpoint(bytesReader(bytes))).model, [BOS], n);

    it('gguf-f32: llama.cpp decodes the golden text and nibble’s tokens for the whole context', async () => {
      const bytes = exportOf('gguf-f32');
      const peer = await llamaGreedy(bytes, 'stories260K-f32.gguf', [BOS], ctx, room, false, 200);
      const ours = await nibbleOnFile(bytes, ctx);
      expect(ours.length).toBe(512);
      expect(peer.tokens).toEqual(ours);
      // llama.cpp's own detokenizer, reading the vocabulary nibble wrote, prints run.c's output.
      expect(peer.text).toBe(golden);
    }, 180_000);

    // Measured with node-llama-cpp 3.21.1's CPU prebuilt, one thread, x86-64 (docs/peers.md).
    it.each([
      // format, greedy prefix ≥, teacher-forced argmax share ≥, max |Δp| <, nibble's top-1 − top-2
      // logit where the argmaxes differ < (measured here: f32 512, 512/512, 3.2e-6; q8_0 205,
      // 506/512, 2.5e-2, 0.057; q4_0 147, 509/512, 3.1e-2, 0.033). The free-running prefix is
      // chaotic (one near-tie flips the rest), so its floor is 64; the per-position checks carry it.
      ['gguf-f32', 512, 1, 1e-4, 0],
      ['gguf-q8_0', 64, 0.98, 0.05, 0.25],
      ['gguf-q4_0', 64, 0.98, 0.05, 0.25],
    ] as const)(
      '%s: llama.cpp loads it; its greedy tokens match nibble’s on the same file up to rounding',
      async (f, prefix, argmaxShare, maxDp, maxMargin) => {
        const bytes = exportOf(f);
        const peer = await llamaGreedy(bytes, `stories260K-${f}.gguf`, [BOS], ctx, room);
        const ourModel = (await openCheckpoint(bytesReader(bytes))).model;
        const ours = await nibbleGreedy(ourModel, [BOS], ctx);
        const n = agreement(peer.tokens, ours);
        // Teacher-forced on nibble's sequence: both next-token distributions at every position.
        const ids = [BOS, ...ours.slice(0, ctx - 1)];
        const V = ourModel.config.vocabSize;
        const p = await llamaProbabilities(bytes, `stories260K-${f}-tf.gguf`, ids, room, V);
        const { logits } = await createCpuRunner(ourModel).logitsAll(ids);
        let same = 0;
        let worst = 0;
        let worstMargin = 0; // nibble's top-1 − top-2 logit where the two argmaxes differ
        for (let t = 0; t < ids.length; t++) {
          const row = logits.subarray(t * V, (t + 1) * V);
          const q = softmax(row);
          for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(p[t][i] - q[i]));
          const a = argmax(p[t]);
          const b = argmax(row);
          if (a === b) same++;
          else worstMargin = Math.max(worstMargin, row[b] - row[a]);
        }
        console.log(
          `${f}: greedy prefix ${n}/${ctx}; teacher-forced argmax agree ${same}/${ids.length}, max |Δp| ${worst.toExponential(2)}, worst nibble margin where they differ ${worstMargin.toExponential(2)}`,
        );
        expect(n).toBeGreaterThanOrEqual(prefix);
        expect(same / ids.length).toBeGreaterThanOrEqual(argmaxShare);
        expect(worst).toBeLessThan(maxDp);
        expect(worstMargin).toBeLessThanOrEqual(maxMargin);
      },
      180_000,
    );
  });

  describe('SmolLM2-135M-shaped synthetic checkpoint (2 layers, 512-token vocabulary)', () => {
    it('gguf-f32: llama.cpp’s greedy tokens and next-token probabilities = nibble’s', async () => {
      const files = syntheticModelFiles({ family: 'smollm2-135m', layers: 2, vocabSize: 512, seed: 7 });
      const opened = await openHfFolder(memoryFolder(files), { chooseContext: () => 256 });
      const model = opened.model;
      expect(model.config).toMatchObject({ dim: 576, hiddenDim: 1536, nHeads: 9, nKvHeads: 3, headSize: 64 });
      // GGUF "llama" vocabularies are SentencePiece; the token ids are all llama.cpp sees here, so
      // stories260K's 512-piece tokenizer labels them.
      const bytes = writeGgufModel(model, vocabFromLlama2c(tok512(), 512), 'gguf-f32', { name: 'smollm2-shape' });
      const prompt = [BOS, 300, 17, 402, 88, 259, 131, 7];
      const n = 48;
      const peer = await llamaGreedy(bytes, 'smollm2-shape-f32.gguf', prompt, n, 256, true);
      const ours = await nibbleGreedy(model, prompt, n);
      expect(peer.tokens).toEqual(ours);
      const logits = await nibbleLogits(model, prompt);
      // Near-uniform distributions (random weights): compare log-probabilities, i.e. logits up to
      // their log-sum-exp.
      let worst = 0;
      prompt.forEach((_, t) => {
        const p = softmax(logits[t]);
        const q = peer.probabilities[t]!;
        for (let i = 0; i < p.length; i++)
          worst = Math.max(worst, Math.abs(Math.log(q.get(i as Token) ?? 0) - Math.log(p[i])));
      });
      console.log(`smollm2 f32: max |log p_llama − log p_nibble| = ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4); // measured 1.1e-6
    }, 180_000);
  });
});
