/**
 * LLaMA-family models <-> GGUF (llama.cpp's model files). The mapping is llama.cpp's own
 * converter read backwards (convert_hf_to_gguf.py `LlamaModel` / `Qwen2Model`, gguf-py
 * `tensor_mapping.py` and `constants.py`):
 *
 *   metadata                                    config.json
 *   general.architecture  llama | qwen2         model_type llama | qwen2 (mistral is written as llama)
 *   {arch}.vocab_size (else the token list)     vocab_size
 *   {arch}.context_length                       max_position_embeddings
 *   {arch}.embedding_length                     hidden_size
 *   {arch}.block_count                          num_hidden_layers
 *   {arch}.feed_forward_length                  intermediate_size
 *   {arch}.attention.head_count(_kv)            num_attention_heads, num_key_value_heads
 *   {arch}.attention.key_length                 head_dim (when not hidden_size / heads)
 *   {arch}.attention.layer_norm_rms_epsilon     rms_norm_eps
 *   {arch}.rope.freq_base                       rope_theta
 *   {arch}.rope.dimension_count                 head_dim (partial rotary is refused)
 *   {arch}.rope.scaling.type linear + factor    rope_scaling {rope_type: linear, factor}
 *   no output.weight                            tie_word_embeddings
 *
 *   tensors: token_embd = model.embed_tokens, output_norm = model.norm, output = lm_head,
 *   blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}
 *   = model.layers.N.{input_layernorm, self_attn.q_proj, .k_proj, .v_proj, .o_proj,
 *   post_attention_layernorm, mlp.gate_proj, .up_proj, .down_proj}
 *
 * The Q/K permutation. Hugging Face's LLaMA rotates channel pairs (i, i + d/2) of each head
 * (rotate_half); llama.cpp's LLAMA rope rotates adjacent pairs (2i, 2i + 1). convert_hf_to_gguf
 * therefore reorders the rows of q_proj and k_proj (and their biases) per head:
 *   permute(w, n_head) = w.reshape(n_head, 2, d/2, in).swapaxes(1, 2).reshape(w.shape)
 * so GGUF row h d + 2 i + j holds HF row h d + j d/2 + i; k uses the KV head count. Reading
 * applies the inverse, so a GGUF model gives the HF model's logits. Qwen2 uses the NEOX
 * (rotate_half) rope in llama.cpp and is not permuted.
 */
import {
  fail, float16BitsToFloat32, float32ToFloat16Bits, fromTypedArray, indexSelect, noGrad, quantizeInt4, quantizeInt8,
  quantizedTensor, storageLength, type Tensor,
} from '../tensor/index.js';
import { Linear, type Module } from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
// the browser-safe GGUF core itself (formats/index also re-exports the Node file helpers)
import { gguf, type GgufFile, type GgufMetadataValue, type GgufTensorInfo } from '../formats/gguf.js';
import { LlamaConfig, LlamaForCausalLM } from './llama.js';
import { MistralForCausalLM } from './mistral.js';
import { Qwen2ForCausalLM } from './qwen2.js';
import { loadPretrained, type LoadedModel, type Pretrained } from './registry.js';

/** GGUF architectures attn reads, with the model_type they become. */
export const GGUF_ARCHITECTURES: Readonly<Record<string, string>> = { llama: 'llama', qwen2: 'qwen2' };

/** Whether the architecture's q/k rows are stored in llama.cpp's interleaved-rope order. */
const PERMUTED: Readonly<Record<string, boolean>> = { llama: true, qwen2: false };

const BLOCK_NAMES: readonly [string, string][] = [
  ['attn_norm.weight', 'input_layernorm.weight'],
  ['attn_q.weight', 'self_attn.q_proj.weight'],
  ['attn_q.bias', 'self_attn.q_proj.bias'],
  ['attn_k.weight', 'self_attn.k_proj.weight'],
  ['attn_k.bias', 'self_attn.k_proj.bias'],
  ['attn_v.weight', 'self_attn.v_proj.weight'],
  ['attn_v.bias', 'self_attn.v_proj.bias'],
  ['attn_output.weight', 'self_attn.o_proj.weight'],
  ['attn_output.bias', 'self_attn.o_proj.bias'],
  ['ffn_norm.weight', 'post_attention_layernorm.weight'],
  ['ffn_gate.weight', 'mlp.gate_proj.weight'],
  ['ffn_up.weight', 'mlp.up_proj.weight'],
  ['ffn_down.weight', 'mlp.down_proj.weight'],
];
const TOP_NAMES: readonly [string, string][] = [
  ['token_embd.weight', 'model.embed_tokens.weight'],
  ['output_norm.weight', 'model.norm.weight'],
  ['output.weight', 'lm_head.weight'],
];
const GGUF_TO_HF_BLOCK = new Map(BLOCK_NAMES);
const HF_TO_GGUF_BLOCK = new Map(BLOCK_NAMES.map(([g, h]) => [h, g]));

/** llama.cpp's tensor name -> the Hugging Face checkpoint name (null: not a LLaMA-family tensor). */
export function hfNameFromGguf(name: string): string | null {
  const top = TOP_NAMES.find(([g]) => g === name);
  if (top) return top[1];
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  const rest = m ? GGUF_TO_HF_BLOCK.get(m[2]!) : undefined;
  return m && rest ? `model.layers.${m[1]}.${rest}` : null;
}

/** Hugging Face checkpoint name -> llama.cpp's tensor name (null: no GGUF counterpart). */
export function ggufNameFromHf(name: string): string | null {
  const top = TOP_NAMES.find(([, h]) => h === name);
  if (top) return top[0];
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  const rest = m ? HF_TO_GGUF_BLOCK.get(m[2]!) : undefined;
  return m && rest ? `blk.${m[1]}.${rest}` : null;
}

// ---- metadata -> config ---------------------------------------------------------------------

/** The shortest decimal that rounds to the same float32 (GGUF stores eps and theta as float32). */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let p = 1; p <= 9; p++) {
    const x = Number(v.toPrecision(p));
    if (Math.fround(x) === Math.fround(v)) return x;
  }
  return v;
}

function meta(file: GgufFile, key: string): unknown {
  return file.value(key);
}

function requireInt(file: GgufFile, key: string): number {
  const v = meta(file, key);
  if (v === undefined) fail('configFromGguf', `${file.source}: metadata '${key}' is missing`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail('configFromGguf', `${file.source}: metadata '${key}' must be a positive integer, got ${JSON.stringify(String(v))}`);
  return v;
}

function optionalNumber(file: GgufFile, key: string): number | undefined {
  const v = meta(file, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number') fail('configFromGguf', `${file.source}: metadata '${key}' must be a number, got ${typeof v}`);
  return v;
}

/** general.architecture, checked against the ones attn maps. */
export function ggufArchitecture(file: GgufFile): string {
  const arch = meta(file, 'general.architecture');
  if (typeof arch !== 'string') fail('configFromGguf', `${file.source}: general.architecture is missing`);
  if (!GGUF_ARCHITECTURES[arch]) fail('configFromGguf', `${file.source}: architecture '${arch}' is not supported (${Object.keys(GGUF_ARCHITECTURES).join(', ')})`);
  return arch;
}

/** A config.json dictionary (HF field names) from a GGUF file's metadata and tensor list. */
export function configFromGguf(file: GgufFile): Record<string, unknown> {
  const arch = ggufArchitecture(file);
  const k = (s: string) => `${arch}.${s}`;
  const hidden = requireInt(file, k('embedding_length'));
  const heads = requireInt(file, k('attention.head_count'));
  const kvHeads = meta(file, k('attention.head_count_kv')) === undefined ? heads : requireInt(file, k('attention.head_count_kv'));
  const keyLength = meta(file, k('attention.key_length')) === undefined ? hidden / heads : requireInt(file, k('attention.key_length'));
  const valueLength = meta(file, k('attention.value_length'));
  if (valueLength !== undefined && valueLength !== keyLength) fail('configFromGguf', `${file.source}: attention.value_length ${String(valueLength)} differs from key_length ${keyLength}, which attn's LLaMA does not support`);
  const ropeDims = meta(file, k('rope.dimension_count')) === undefined ? keyLength : requireInt(file, k('rope.dimension_count'));
  if (ropeDims !== keyLength) fail('configFromGguf', `${file.source}: rope.dimension_count ${ropeDims} rotates part of a head of ${keyLength} (partial rotary is not supported)`);
  let vocab = meta(file, k('vocab_size')) === undefined ? undefined : requireInt(file, k('vocab_size'));
  if (vocab === undefined) {
    const tokens = meta(file, 'tokenizer.ggml.tokens');
    if (Array.isArray(tokens)) vocab = tokens.length;
    else if (file.has('token_embd.weight')) vocab = file.info('token_embd.weight').shape[0];
    else fail('configFromGguf', `${file.source}: no vocabulary size (${k('vocab_size')}, tokenizer.ggml.tokens or token_embd.weight)`);
  }
  const eps = optionalNumber(file, k('attention.layer_norm_rms_epsilon'));
  if (eps === undefined) fail('configFromGguf', `${file.source}: metadata '${k('attention.layer_norm_rms_epsilon')}' is missing`);
  const config: Record<string, unknown> = {
    model_type: GGUF_ARCHITECTURES[arch],
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: requireInt(file, k('feed_forward_length')),
    num_hidden_layers: requireInt(file, k('block_count')),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: keyLength === hidden / heads ? null : keyLength,
    max_position_embeddings: requireInt(file, k('context_length')),
    rms_norm_eps: shortestFloat32(eps),
    rope_theta: shortestFloat32(optionalNumber(file, k('rope.freq_base')) ?? 10000),
    tie_word_embeddings: !file.has('output.weight'),
  };
  if (arch === 'llama') config['attention_bias'] = file.has('blk.0.attn_q.bias');
  const scalingType = meta(file, k('rope.scaling.type'));
  if (scalingType !== undefined && scalingType !== 'none') {
    if (scalingType !== 'linear') fail('configFromGguf', `${file.source}: rope.scaling.type '${String(scalingType)}' is not supported (linear)`);
    const factor = optionalNumber(file, k('rope.scaling.factor'));
    if (factor === undefined) fail('configFromGguf', `${file.source}: rope.scaling.type linear without rope.scaling.factor`);
    config['rope_scaling'] = { rope_type: 'linear', factor: shortestFloat32(factor) };
  }
  if (file.has('rope_freqs.weight')) fail('configFromGguf', `${file.source}: rope_freqs.weight (llama3-style per-frequency factors) is not supported`);
  for (const [key, field] of [['tokenizer.ggml.bos_token_id', 'bos_token_id'], ['tokenizer.ggml.eos_token_id', 'eos_token_id'], ['tokenizer.ggml.padding_token_id', 'pad_token_id']] as const) {
    const v = meta(file, key);
    if (typeof v === 'number') config[field] = v;
  }
  const name = meta(file, 'general.name');
  if (typeof name === 'string') config['_name_or_path'] = name;
  return config;
}

// ---- the q/k row permutation ----------------------------------------------------------------

/**
 * For each HF row, the GGUF row holding it (convert_hf_to_gguf's permute, inverted): rows of
 * `heads` heads of size d, HF row h d + j d/2 + i <- GGUF row h d + 2 i + j.
 */
export function ggufRowOrder(rows: number, heads: number): Int32Array {
  const d = rows / heads;
  if (!Number.isInteger(d) || d % 2 !== 0) fail('ggufRowOrder', `${rows} rows do not split into ${heads} heads of even size`);
  const out = new Int32Array(rows);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < d / 2; i++) out[h * d + j * (d / 2) + i] = h * d + 2 * i + j;
    }
  }
  return out;
}

/** The inverse order: for each GGUF row, the HF row it holds. */
function inverseOrder(order: Int32Array): Int32Array {
  const inv = new Int32Array(order.length);
  order.forEach((src, dst) => (inv[src] = dst));
  return inv;
}

/** out row r = t row order[r], for a tensor of any dtype (rows along the first axis, contiguous). */
export function selectRows(t: Tensor, order: Int32Array): Tensor {
  const rows = t.shape[0]!;
  if (order.length !== rows) fail('selectRows', `${order.length} row indices for ${rows} rows`);
  if (t.dtype === 'float32') return indexSelect(t, 0, fromTypedArray(Int32Array.from(order), [rows], { dtype: 'int32' }));
  if (!t.isContiguous) fail('selectRows', `a ${t.dtype} tensor must be contiguous`);
  const per = t.size / rows;
  const data = t.storage.data;
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const out = new Uint16Array(t.size);
    for (let r = 0; r < rows; r++) out.set(data.subarray(t.offset + order[r]! * per, t.offset + (order[r]! + 1) * per) as Uint16Array, r * per);
    return fromTypedArray(out, t.shape, { dtype: t.dtype });
  }
  if (t.dtype === 'int8' || t.dtype === 'int4') {
    const q = t.storage.quant!;
    if (per % q.blockSize !== 0 || t.offset % q.blockSize !== 0) fail('selectRows', `rows of ${per} elements do not hold whole blocks of ${q.blockSize}`);
    const bytesPer = storageLength(t.dtype, per);
    const byteOffset = storageLength(t.dtype, t.offset);
    const scalesPer = per / q.blockSize;
    const scaleOffset = t.offset / q.blockSize;
    const out = t.dtype === 'int8' ? new Int8Array(t.size) : new Uint8Array(storageLength('int4', t.size));
    const scales = new Float32Array(t.size / q.blockSize);
    for (let r = 0; r < rows; r++) {
      const src = order[r]!;
      out.set(data.subarray(byteOffset + src * bytesPer, byteOffset + (src + 1) * bytesPer) as Int8Array & Uint8Array, r * bytesPer);
      scales.set(q.scales.subarray(scaleOffset + src * scalesPer, scaleOffset + (src + 1) * scalesPer), r * scalesPer);
    }
    return quantizedTensor(t.dtype, out, scales, q.blockSize, t.shape);
  }
  return fail('selectRows', `dtype ${t.dtype} is not supported`);
}

/** Heads to permute an HF tensor name's rows by (q: attention heads, k: KV heads), or 0. */
function permuteHeads(hfName: string, config: LlamaConfig): number {
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return config.num_attention_heads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return config.numKeyValueHeads;
  return 0;
}

// ---- reading ---------------------------------------------------------------------------------

/**
 * A GGUF file's tensors under their Hugging Face names, q/k rows restored to HF's order, in their
 * stored formats (F16 float16, BF16 bfloat16, Q8_0 int8, Q4_0 int4).
 */
export class GgufTensorSource implements TensorSource {
  private readonly toGguf = new Map<string, string>();
  private readonly permuted: boolean;

  constructor(readonly file: GgufFile, private readonly config: LlamaConfig, architecture: string) {
    this.permuted = PERMUTED[architecture] ?? false;
    const unknown: string[] = [];
    for (const name of file.keys()) {
      const hf = hfNameFromGguf(name);
      if (hf) this.toGguf.set(hf, name);
      else unknown.push(name);
    }
    if (unknown.length) fail('GgufTensorSource', `${file.source}: tensors without a LLaMA-family name: ${unknown.join(', ')}`);
  }

  keys(): string[] {
    return [...this.toGguf.keys()];
  }

  has(name: string): boolean {
    return this.toGguf.has(name);
  }

  /** The GGUF tensor info behind an HF name. */
  info(name: string): GgufTensorInfo {
    const g = this.toGguf.get(name);
    if (!g) fail('GgufTensorSource', `${this.file.source}: no tensor for '${name}'`);
    return this.file.info(g);
  }

  get(name: string): Tensor {
    const t = this.file.get(this.info(name).name);
    const heads = this.permuted ? permuteHeads(name, this.config) : 0;
    return heads ? selectRows(t, ggufRowOrder(t.shape[0]!, heads)) : t;
  }
}

/** config + weights (HF names, stored formats) of a GGUF file: what loadPretrained takes. */
export function ggufPretrained(file: GgufFile): Pretrained & { weights: GgufTensorSource } {
  const arch = ggufArchitecture(file);
  const config = configFromGguf(file);
  return { config, weights: new GgufTensorSource(file, LlamaConfig.fromDict(config), arch) };
}

export interface LoadGgufOptions {
  /**
   * Keep Linear weights in their stored format (F16, BF16, Q8_0 as int8, Q4_0 as int4), run by
   * the fused linear kernel (default); false dequantizes everything to float32. Embeddings and
   * norms are always float32.
   */
  keepQuantized?: boolean;
  /**
   * 'q8_0': Linear layers with Q8_0 / Q4_0 weights quantize their input to q8_0 blocks and sum
   * integer products, as llama.cpp's CPU backend does (faster decode, llama.cpp's numbers);
   * default 'float32' (the exact product with the dequantized weights).
   */
  activations?: 'float32' | 'q8_0';
}

/**
 * Builds the model a GGUF file holds (llama, qwen2). The weights are loaded as float32 (ggml's
 * dequantization), then, with keepQuantized, every Linear weight stored in another format is
 * replaced by that stored tensor: same values, a quarter (Q8_0) or an eighth (Q4_0) of the bytes.
 */
export function loadGgufModel(file: GgufFile, opts: LoadGgufOptions = {}): Extract<LoadedModel, { kind: 'decoder-only' }> {
  if (opts.activations !== undefined && opts.activations !== 'float32' && opts.activations !== 'q8_0') {
    fail('loadGgufModel', `activations must be 'float32' or 'q8_0', got '${String(opts.activations)}'`);
  }
  const pretrained = ggufPretrained(file);
  const model = loadPretrained(pretrained);
  if (opts.keepQuantized ?? true) {
    noGrad(() => {
      for (const [path, m] of model.namedModules()) {
        if (!(m instanceof Linear)) continue;
        const name = `${path}.weight`;
        if (!pretrained.weights.has(name) || pretrained.weights.info(name).typeName === 'F32') continue;
        m.setWeight(pretrained.weights.get(name), { release: true }); // the float32 copy loadPretrained made
        const blocks = m.weight.dtype === 'int8' || m.weight.dtype === 'int4';
        if (opts.activations === 'q8_0' && blocks && m.inFeatures % 32 === 0) m.activations = 'q8_0';
      }
    });
  }
  return { kind: 'decoder-only', modelType: String(pretrained.config['model_type']), model };
}

// ---- writing ---------------------------------------------------------------------------------

export type GgufFileType = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export const GGUF_FILE_TYPES: readonly GgufFileType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

/** llama_ftype (general.file_type): ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7. */
const FILE_TYPE_CODE: Readonly<Record<GgufFileType, number>> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };

export interface GgufExport {
  /** Model metadata (general.*, {arch}.*); the tokenizer's is added by the caller. */
  metadata: [string, GgufMetadataValue][];
  tensors: [string, Tensor][];
  /** Per tensor: GGUF name -> ggml type written, and why when not the file type's. */
  types: { name: string; type: string; note?: string }[];
}

export interface ToGgufOptions {
  fileType?: GgufFileType;
  /** general.name */
  name?: string;
}

/** Float32 values of a weight in any format (dequantized). */
function asFloat32(t: Tensor): Tensor {
  return t.dtype === 'float32' ? t : t.to('float32');
}

/**
 * The metadata and tensors llama.cpp needs to run `model` (LlamaForCausalLM, Qwen2ForCausalLM,
 * or MistralForCausalLM without a binding sliding window, written as llama as
 * convert_hf_to_gguf.py does). Tensor types follow convert_hf_to_gguf / llama-quantize:
 * one-dimensional tensors (norms, biases) stay F32; f16: matrices F16; q8_0: matrices Q8_0,
 * F16 where a row is not a multiple of 32; q4_0: matrices Q4_0, except the output matrix (the
 * embedding table when tied), which is Q8_0 (llama-quantize keeps it at higher precision, Q6_K,
 * which attn does not write), F16 for rows not a multiple of 32. Weights already stored in the
 * target format (a quantizeModel'd model) are written as they are.
 */
export function toGgufExport(model: Module, opts: ToGgufOptions = {}): GgufExport {
  const fileType = opts.fileType ?? 'f32';
  if (!GGUF_FILE_TYPES.includes(fileType)) fail('toGgufExport', `file type '${String(fileType)}' is not one of ${GGUF_FILE_TYPES.join(', ')}`);
  if (!(model instanceof LlamaForCausalLM)) fail('toGgufExport', `${model.constructor.name} is not a LLaMA-family model (llama, mistral, qwen2)`);
  const config = model.config as LlamaConfig & { sliding_window?: number | null };
  let arch: string;
  if (model instanceof Qwen2ForCausalLM) arch = 'qwen2';
  else {
    arch = 'llama';
    if (model instanceof MistralForCausalLM && config.sliding_window != null && config.sliding_window < config.max_position_embeddings) {
      fail('toGgufExport', `Mistral's sliding_window ${config.sliding_window} < max_position_embeddings ${config.max_position_embeddings}: llama.cpp's llama architecture has no sliding window, so its outputs would differ beyond the window`);
    }
  }
  if (config.rope_scaling !== null && config.rope_scaling !== undefined) {
    const rs = config.ropeScaling;
    if (rs && rs.type !== 'linear') fail('toGgufExport', `rope_scaling type '${rs.type}' is not written (llama.cpp's variant differs from transformers'); only linear is`);
  }
  const k = (s: string) => `${arch}.${s}`;
  const metadata: [string, GgufMetadataValue][] = [
    ['general.architecture', gguf.str(arch)],
    ['general.name', gguf.str(opts.name ?? `attn ${config.model_type}`)],
    ['general.file_type', gguf.u32(FILE_TYPE_CODE[fileType])],
    [k('vocab_size'), gguf.u32(config.vocab_size)],
    [k('context_length'), gguf.u32(config.max_position_embeddings)],
    [k('embedding_length'), gguf.u32(config.hidden_size)],
    [k('block_count'), gguf.u32(config.num_hidden_layers)],
    [k('feed_forward_length'), gguf.u32(config.intermediate_size)],
    [k('attention.head_count'), gguf.u32(config.num_attention_heads)],
    [k('attention.head_count_kv'), gguf.u32(config.numKeyValueHeads)],
    [k('attention.layer_norm_rms_epsilon'), gguf.f32(config.rms_norm_eps)],
    [k('rope.freq_base'), gguf.f32(config.rope_theta)],
    [k('rope.dimension_count'), gguf.u32(config.headDim)],
  ];
  if (config.headDim !== config.hidden_size / config.num_attention_heads) {
    metadata.push([k('attention.key_length'), gguf.u32(config.headDim)], [k('attention.value_length'), gguf.u32(config.headDim)]);
  }
  const rs = config.ropeScaling;
  if (rs?.type === 'linear') metadata.push([k('rope.scaling.type'), gguf.str('linear')], [k('rope.scaling.factor'), gguf.f32(rs.factor)]);
  if (fileType === 'q8_0' || fileType === 'q4_0') metadata.push(['general.quantization_version', gguf.u32(2)]);

  const state = model.stateDict();
  const outputName = state.has('lm_head.weight') ? 'lm_head.weight' : 'model.embed_tokens.weight';
  const tensors: [string, Tensor][] = [];
  const types: GgufExport['types'] = [];
  const order = [...state.keys()].sort((a, b) => rank(a) - rank(b));
  noGrad(() => {
    for (const hf of order) {
      const g = ggufNameFromHf(hf);
      if (!g) fail('toGgufExport', `parameter '${hf}' has no GGUF name`);
      let t = state.get(hf)!;
      const heads = arch === 'llama' ? permuteHeads(hf, config) : 0;
      // GGUF row r holds HF row inverse[r]
      const reorder = (x: Tensor) => (heads ? selectRows(x, inverseOrder(ggufRowOrder(x.shape[0]!, heads))) : x);
      let note: string | undefined;
      if (t.ndim === 1) {
        t = reorder(asFloat32(t));
      } else {
        const want = fileType === 'f32' ? 'F32' : fileType === 'f16' ? 'F16' : fileType === 'q8_0' || hf === outputName ? 'Q8_0' : 'Q4_0';
        if (want !== 'F32' && want !== 'F16' && t.shape[1]! % 32 !== 0) {
          note = `rows of ${t.shape[1]} are not a multiple of 32`;
          t = reorder(asFloat32(t)).to('float16');
        } else if (want === 'Q8_0' && t.dtype === 'int8' && t.storage.quant!.blockSize === 32 && halfScales(t)) {
          t = reorder(t);
        } else if (want === 'Q4_0' && t.dtype === 'int4' && t.storage.quant!.blockSize === 32 && halfScales(t)) {
          t = reorder(t);
        } else {
          const f = reorder(asFloat32(t));
          t = want === 'F32' ? f
            : want === 'F16' ? f.to('float16')
            : want === 'Q8_0' ? quantizeInt8(f, { blockSize: 32, scaleFormat: 'float16' })
            : quantizeInt4(f, { blockSize: 32, scaleFormat: 'float16' });
        }
        if (fileType === 'q4_0' && hf === outputName && !note) note = 'output matrix kept at Q8_0';
      }
      tensors.push([g, t]);
      types.push({ name: g, type: { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int8: 'Q8_0', int4: 'Q4_0' }[t.dtype as string] ?? t.dtype, ...(note ? { note } : {}) });
    }
  });
  return { metadata, tensors, types };
}

/** Whether every block scale of a quantized tensor is exactly a float16 value (GGUF stores f16). */
function halfScales(t: Tensor): boolean {
  const s = t.storage.quant!.scales;
  for (let i = 0; i < s.length; i++) if (float16BitsToFloat32(float32ToFloat16Bits(s[i]!)) !== s[i]) return false;
  return true;
}

/** Write order: embeddings, blocks by index (as convert_hf_to_gguf), final norm, output. */
function rank(hf: string): number {
  if (hf === 'model.embed_tokens.weight') return -1;
  const m = /^model\.layers\.(\d+)\./.exec(hf);
  if (m) return Number(m[1]);
  return hf === 'model.norm.weight' ? 1e9 : 1e9 + 1;
}
