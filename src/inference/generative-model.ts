/**
 * A model as generation sees it: which kind (decoder-only or encoder-decoder), the geometry of its
 * decoder's self-attention (what a cache allocates: layers x KV heads x head dim; the sliding
 * window), its position limit, special ids, and one `logits` function that continues a cache or
 * runs a whole sequence. This is the one place that knows each family's forward signature, so
 * sessions, generation and the CLI work for every family alike.
 */
import { fail, type Tensor } from '../tensor/index.js';
import type { DecoderKVCache, Module } from '../nn/index.js';
import {
  GPT2LMHeadModel, LlamaForCausalLM, MistralConfig, Qwen2Config, T5ForConditionalGeneration, Transformer, type LoadedModel,
} from '../models/index.js';

/** What a decoder's self-attention cache holds per layer. */
export interface CacheGeometry {
  layers: number;
  kvHeads: number;
  headDim: number;
  valueDim: number;
  /** Attention window of the model itself (Mistral's sliding_window); null for full attention. */
  slidingWindow: number | null;
}

export interface GenerativeModel {
  readonly kind: 'decoder-only' | 'encoder-decoder';
  /** config.json's model_type. */
  readonly modelType: string;
  readonly module: Module;
  readonly vocabSize: number;
  readonly geometry: CacheGeometry;
  /** Hard limit on positions (GPT-2's learned table); null when any position can be encoded. */
  readonly maxPositions: number | null;
  /** The decoder's first input (encoder-decoders); null for decoder-only models. */
  readonly decoderStartTokenId: number | null;
  /** End-of-sequence ids from the config (generation stops at them by default). */
  readonly eosTokenIds: readonly number[];
  /** Encoder output [1, S, d] for encoder ids [1, S] (encoder-decoders only). */
  encode(ids: Tensor): Tensor;
  /**
   * Logits [B, keep, V] of decoder ids [B, T]. With a cache the ids continue it (positions from its
   * offset); without one they are the whole sequence. `memory` is the encoder output (encoder-decoders).
   * `attentionMask` [B, past + T] marks a padded batch's padding (decoder-only models only).
   */
  logits(ids: Tensor, opts: { cache: DecoderKVCache | null; memory: Tensor | null; logitsToKeep: number; attentionMask?: Tensor | null }): Tensor;
}

export interface GenerativeModelOptions {
  /** config.json, for the special ids the typed configs do not keep (eos_token_id, bos_token_id). */
  config?: Readonly<Record<string, unknown>>;
  /** Overrides the decoder start id (the original Transformer's config has none). */
  decoderStartTokenId?: number;
  eosTokenIds?: readonly number[];
}

function ids(v: unknown): number[] {
  if (typeof v === 'number' && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  return [];
}

function intOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

/** Wraps a loaded model (or a model object) for generation. */
export function generativeModel(model: LoadedModel | Module, opts: GenerativeModelOptions = {}): GenerativeModel {
  const m = 'kind' in model && 'model' in model ? model.model : model;
  const config = opts.config ?? {};
  const eos = opts.eosTokenIds ? [...opts.eosTokenIds] : ids(config['eos_token_id']);
  const noEncoder = (): never => fail('GenerativeModel', `${m.constructor.name} is decoder-only: it has no encoder`);
  if (m instanceof GPT2LMHeadModel) {
    const c = m.config;
    return {
      kind: 'decoder-only', modelType: c.model_type, module: m, vocabSize: c.vocab_size,
      geometry: { layers: c.n_layer, kvHeads: c.n_head, headDim: c.n_embd / c.n_head, valueDim: c.n_embd / c.n_head, slidingWindow: null },
      // only learned positions have a table to run out of (attn's GPT-2 variants have none)
      maxPositions: c.position_embedding_type === 'learned' ? c.n_positions : null, decoderStartTokenId: null, eosTokenIds: eos, encode: noEncoder,
      logits: (x, o) => m.forward(x, { cache: o.cache?.self ?? null, logitsToKeep: o.logitsToKeep, attentionMask: o.attentionMask ?? null }),
    };
  }
  if (m instanceof LlamaForCausalLM) {
    const c = m.config;
    const window = c instanceof MistralConfig ? c.sliding_window : c instanceof Qwen2Config && c.use_sliding_window ? c.sliding_window : null;
    return {
      kind: 'decoder-only', modelType: c.model_type, module: m, vocabSize: c.vocab_size,
      geometry: { layers: c.num_hidden_layers, kvHeads: c.numKeyValueHeads, headDim: c.headDim, valueDim: c.headDim, slidingWindow: window },
      maxPositions: null, decoderStartTokenId: null, eosTokenIds: eos, encode: noEncoder,
      logits: (x, o) => m.forward(x, { cache: o.cache?.self ?? null, logitsToKeep: o.logitsToKeep, attentionMask: o.attentionMask ?? null }),
    };
  }
  if (m instanceof T5ForConditionalGeneration) {
    const c = m.config;
    return {
      kind: 'encoder-decoder', modelType: c.model_type, module: m, vocabSize: c.vocab_size,
      geometry: { layers: c.decoderLayers, kvHeads: c.num_heads, headDim: c.d_kv, valueDim: c.d_kv, slidingWindow: null },
      maxPositions: null, decoderStartTokenId: opts.decoderStartTokenId ?? c.decoder_start_token_id,
      eosTokenIds: opts.eosTokenIds ? eos : [c.eos_token_id],
      encode: (x) => m.encode(x),
      logits: (x, o) => {
        if (!o.memory) fail('GenerativeModel', 't5 needs the encoder output');
        if (o.attentionMask) fail('GenerativeModel', 't5: padded decoder batches are not supported (decoder-only models only)');
        const out = m.decode(x, o.memory, o.cache ? { cache: o.cache } : {}); // [B, T, V]
        const t = out.shape[1]!;
        return o.logitsToKeep > 0 && o.logitsToKeep < t ? out.narrow(1, t - o.logitsToKeep, o.logitsToKeep) : out;
      },
    };
  }
  if (m instanceof Transformer) {
    const c = m.config;
    const start = opts.decoderStartTokenId ?? intOrNull(config['decoder_start_token_id']) ?? intOrNull(config['bos_token_id']);
    return {
      kind: 'encoder-decoder', modelType: c.model_type, module: m, vocabSize: c.vocab_size,
      geometry: { layers: c.num_decoder_layers, kvHeads: c.nhead, headDim: c.d_model / c.nhead, valueDim: c.d_model / c.nhead, slidingWindow: null },
      maxPositions: null, decoderStartTokenId: start, eosTokenIds: eos,
      encode: (x) => m.encode(x),
      logits: (x, o) => {
        if (!o.memory) fail('GenerativeModel', 'the Transformer needs the encoder output');
        if (o.attentionMask) fail('GenerativeModel', 'transformer: padded decoder batches are not supported (decoder-only models only)');
        const t = x.shape[1]!;
        const hidden = m.decode(x, o.memory, {}, o.cache ?? undefined); // [B, T, d]
        const keep = o.logitsToKeep > 0 && o.logitsToKeep < t ? hidden.narrow(1, t - o.logitsToKeep, o.logitsToKeep) : hidden;
        return m.logits(keep); // [B, keep, V]
      },
    };
  }
  return fail('GenerativeModel', `${m.constructor.name} cannot generate (gpt2, llama, mistral, qwen2, t5 and the Transformer can; bert is a masked LM)`);
}
