// Pure pieces of the "bring your own model" flow (model-slice.ts): what the URL field accepts,
// progress with a measured rate and ETA, and which sources can be kept in browser storage.
import type { LoadProgress, ModelPlan } from '../worker/engine-host/protocol.ts';
import type { PendingSource, ProgressView } from './types.ts';

export type RemoteRef = { ok: true; ref: string; name: string; from: string } | { ok: false; message: string };

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+(@[\w./-]+)?$/;
const HF_HOST = 'huggingface.co';
const MODEL_FILE = /\.(gguf|bin|nibble)$/i;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The URL field's text → the `remote` ref the engine takes: an HF repo id ("owner/name",
 * "owner/name@rev"), an HF repo page (https://huggingface.co/owner/name[/tree/rev], turned into
 * its id) or an https URL of one .gguf / .bin / .nibble file (http on loopback only), as the
 * engine accepts them. `from` says where the bytes will be downloaded from.
 */
export function parseRemoteRef(text: string): RemoteRef {
  const t = text.trim();
  if (!t) return { ok: false, message: 'type a Hugging Face repo id (owner/name) or an https:// URL' };
  if (/^[a-z][a-z0-9+.-]*:/i.test(t)) {
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      return { ok: false, message: `not a valid URL: ${t}` };
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname)))
      return { ok: false, message: `only https:// URLs are fetched (got ${url.protocol}//)` };
    const seg = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (url.hostname === HF_HOST && (seg.length === 2 || (seg.length >= 4 && seg[2] === 'tree'))) {
      const id = `${seg[0]}/${seg[1]}${seg.length >= 4 ? `@${seg.slice(3).join('/')}` : ''}`;
      if (REPO_ID.test(id))
        return { ok: true, ref: id, name: `${seg[0]}/${seg[1]}`, from: `${HF_HOST}/${seg[0]}/${seg[1]}` };
    }
    const file = seg[seg.length - 1];
    if (!file || !MODEL_FILE.test(file))
      return { ok: false, message: 'the URL must name one model file (.gguf, .bin, .nibble) or a Hugging Face repo' };
    return { ok: true, ref: url.href, name: file, from: url.hostname };
  }
  if (!REPO_ID.test(t))
    return {
      ok: false,
      message: `'${t}' is neither a Hugging Face repo id (owner/name or owner/name@revision) nor an https:// URL`,
    };
  const id = t.split('@')[0];
  return { ok: true, ref: t, name: id, from: `${HF_HOST}/${id}` };
}

/** Below this much elapsed time a rate is noise: none is shown. */
const MIN_RATE_MS = 250;

/** Folds one progress reply into the view: bytes, measured rate since the start, ETA (engine's, else from the rate). */
export function nextProgress(
  prev: ProgressView | null,
  p: LoadProgress,
  op: ProgressView['op'],
  now: number,
): ProgressView {
  const startedAt = prev && prev.op === op ? prev.startedAt : now;
  const elapsed = now - startedAt;
  const bytesPerSecond = elapsed >= MIN_RATE_MS && p.bytesDone > 0 ? (p.bytesDone * 1000) / elapsed : null;
  const left = Math.max(0, p.bytesTotal - p.bytesDone);
  const etaMs = p.etaMs ?? (bytesPerSecond && p.bytesTotal > 0 ? (left / bytesPerSecond) * 1000 : null);
  return {
    op,
    phase: p.phase,
    file: p.file,
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    etaMs,
    bytesPerSecond,
    startedAt,
  };
}

/** The progress a load or inspect starts from, before the engine reports anything. */
export const startProgress = (op: ProgressView['op'], bytesTotal: number, now: number): ProgressView => ({
  op,
  phase: 'headers',
  file: '',
  bytesDone: 0,
  bytesTotal,
  etaMs: null,
  bytesPerSecond: null,
  startedAt: now,
});

export type Keepable =
  | { ok: true; weights: string; tokenizer: string | null } // the user's own file(s), stored as they are
  | { ok: true; convert: true; note: string } // an HF folder or a download: stored as the loaded model's .nibble (f32)
  | { ok: false; reason: string };

/**
 * Whether a planned source can be kept in browser storage, which holds one checkpoint and its
 * tokenizer (model.bin + tokenizer.bin): single-file checkpoints from the user's files as they
 * are; Hugging Face folders and downloads as a .nibble of the loaded model (f32 weights, its
 * tokenizer, chat template and biases), written by the worker after the load.
 */
export function keepable(source: PendingSource, plan: ModelPlan): Keepable {
  if (source.kind === 'remote' || plan.format === 'hf') {
    const what = source.kind === 'remote' ? 'the download' : 'the folder';
    return {
      ok: true,
      convert: true,
      note: `${what} is stored as one .nibble file (f32 weights + tokenizer, ~${Math.max(1, Math.round((plan.params * 4) / 2 ** 20))} MiB)`,
    };
  }
  const weights = plan.files.filter((f) => f.role === 'weights');
  const tokenizers = plan.files.filter((f) => f.role === 'tokenizer');
  if (weights.length !== 1 || tokenizers.length > 1)
    return {
      ok: false,
      reason: 'Only one checkpoint file with at most one tokenizer file can be kept in this browser.',
    };
  return { ok: true, weights: weights[0].path, tokenizer: tokenizers[0]?.path ?? null };
}
