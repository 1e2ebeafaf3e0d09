// An independent forward pass of HF Llama / Qwen2 / Qwen3 checkpoints, written from the published
// formulas (transformers modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py /
// modeling_rope_utils.py, as collected in ../shared/docs/models.md). It reads config.json and
// model.safetensors itself and shares no code with src/core/model or src/core/formats: it is the
// reference the CPU runner is tested against. Everything is f64; no KV cache (full causal
// attention over the whole sequence at once).

type Json = Record<string, unknown>;

export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

/** model.safetensors (F32 / BF16 entries) → tensors by name. */
export function readSafetensors(bytes: Uint8Array): Map<string, RefTensor> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Json;
  const base = 8 + n;
  const out = new Map<string, RefTensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: off } = e as { dtype: string; shape: number[]; data_offsets: number[] };
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float64Array(count);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < count; i++) {
      if (dtype === 'BF16') u[0] = view.getUint16(base + off[0] + 2 * i, true) << 16;
      else if (dtype === 'F32') u[0] = view.getUint32(base + off[0] + 4 * i, true);
      else throw new Error(`reference reader: dtype ${dtype}`);
      data[i] = f[0];
    }
    out.set(name, { shape, data });
  }
  return out;
}

/**
 * inv_freq for head width d: 1 / theta^(2i/d); rope_scaling 'linear': / factor; 'llama3':
 * wavelen = 2π / inv_freq, kept when wavelen < L / high_freq_factor, / factor when
 * wavelen > L / low_freq_factor, else (1 − s)·inv_freq/factor + s·inv_freq with
 * s = (L / wavelen − low) / (high − low).
 */
export function referenceInvFreq(d: number, theta: number, scaling: Json | null | undefined): number[] {
  const inv: number[] = [];
  for (let i = 0; i < d; i += 2) inv.push(1 / theta ** (i / d));
  const type = scaling ? (scaling.rope_type ?? scaling.type) : 'default';
  if (!scaling || type === 'default') return inv;
  const factor = scaling.factor as number;
  if (type === 'linear') return inv.map((f) => f / factor);
  if (type !== 'llama3') throw new Error(`reference: rope type ${String(type)}`);
  const L = scaling.original_max_position_embeddings as number;
  const lo = scaling.low_freq_factor as number;
  const hi = scaling.high_freq_factor as number;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < L / hi) return f;
    if (wavelen > L / lo) return f / factor;
    const s = (L / wavelen - lo) / (hi - lo);
    return (1 - s) * (f / factor) + s * f;
  });
}

/** y (n) = W (n, k) x (k) [+ b]. */
function mv(w: RefTensor, x: Float64Array, b?: RefTensor): Float64Array {
  const [n, k] = w.shape;
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let acc = b ? b.data[r] : 0;
    const o = r * k;
    for (let c = 0; c < k; c++) acc += w.data[o + c] * x[c];
    y[r] = acc;
  }
  return y;
}

/** x / sqrt(mean(x²) + eps) · w over each run of w.length values. */
function rmsNorm(x: Float64Array, w: RefTensor, eps: number): Float64Array {
  const d = w.data.length;
  const y = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += d) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[o + i] ** 2;
    const r = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[o + i] = x[o + i] * r * w.data[i];
  }
  return y;
}

/** rotate_half RoPE on each head of x (heads · d): x·cos + rotate_half(x)·sin, angle pos · inv[i mod d/2]. */
function rope(x: Float64Array, d: number, pos: number, inv: number[]): void {
  const h = d / 2;
  for (let o = 0; o < x.length; o += d) {
    for (let i = 0; i < h; i++) {
      const c = Math.cos(pos * inv[i]);
      const s = Math.sin(pos * inv[i]);
      const a = x[o + i];
      const b = x[o + i + h];
      x[o + i] = a * c - b * s;
      x[o + i + h] = b * c + a * s;
    }
  }
}

/** Logits (vocab) at every position of `tokens`, from config.json and the checkpoint's tensors. */
export function referenceForward(config: Json, w: Map<string, RefTensor>, tokens: number[]): Float64Array[] {
  const num = (k: string) => config[k] as number;
  const dim = num('hidden_size');
  const nH = num('num_attention_heads');
  const nKv = num('num_key_value_heads');
  const d = (config.head_dim as number | undefined) ?? dim / nH;
  const eps = num('rms_norm_eps');
  const params = config.rope_parameters as Json | undefined;
  const theta = (params?.rope_theta as number | undefined) ?? num('rope_theta');
  const inv = referenceInvFreq(d, theta, (params ?? config.rope_scaling) as Json | null);
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`reference: no tensor ${n}`);
    return t;
  };
  const emb = get('model.embed_tokens.weight');
  const head = config.tie_word_embeddings === false ? get('lm_head.weight') : emb;
  const T = tokens.length;
  let h: Float64Array[] = tokens.map((t) => emb.data.slice(t * dim, (t + 1) * dim));
  for (let l = 0; l < num('num_hidden_layers'); l++) {
    const p = `model.layers.${l}.`;
    const bias = (n: string) => w.get(`${p}self_attn.${n}_proj.bias`);
    const qs: Float64Array[] = [];
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const x = rmsNorm(h[t], get(`${p}input_layernorm.weight`), eps);
      let q = mv(get(`${p}self_attn.q_proj.weight`), x, bias('q'));
      let k = mv(get(`${p}self_attn.k_proj.weight`), x, bias('k'));
      const v = mv(get(`${p}self_attn.v_proj.weight`), x, bias('v'));
      const qn = w.get(`${p}self_attn.q_norm.weight`);
      const kn = w.get(`${p}self_attn.k_norm.weight`);
      if (qn && kn) {
        q = rmsNorm(q, qn, eps); // Qwen3: per head (runs of d), before RoPE
        k = rmsNorm(k, kn, eps);
      }
      rope(q, d, t, inv);
      rope(k, d, t, inv);
      qs.push(q);
      ks.push(k);
      vs.push(v);
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const att = new Float64Array(nH * d);
      for (let hh = 0; hh < nH; hh++) {
        const kvh = Math.floor(hh / (nH / nKv)); // repeat_kv
        const scores = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += qs[t][hh * d + i] * ks[s][kvh * d + i];
          scores.push(dot / Math.sqrt(d));
        }
        const m = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++) for (let i = 0; i < d; i++) att[hh * d + i] += (e[s] / z) * vs[s][kvh * d + i];
      }
      const r = mv(get(`${p}self_attn.o_proj.weight`), att).map((v, i) => v + h[t][i]);
      const x = rmsNorm(r, get(`${p}post_attention_layernorm.weight`), eps);
      const g = mv(get(`${p}mlp.gate_proj.weight`), x);
      const u = mv(get(`${p}mlp.up_proj.weight`), x);
      const a = g.map((gi, i) => (gi / (1 + Math.exp(-gi))) * u[i]);
      next.push(mv(get(`${p}mlp.down_proj.weight`), a).map((v, i) => v + r[i]));
    }
    h = next;
  }
  return h.map((x) => mv(head, rmsNorm(x, get('model.norm.weight'), eps)));
}
