/**
 * Trace: one forward pass with a recorder on the named intermediates (nn/named.ts), listing each
 * with its block and shape, in execution order. `attn trace` prints it. Models are built from a
 * config alone (random weights) or loaded; configs too large to instantiate here are replaced by
 * a tiny one with the same structure (head counts, GQA grouping, rope scaling, windows, tying).
 * Every family is traceable: decoder-only (gpt2, llama, mistral, qwen2), encoder-only (bert, the
 * masked-LM logits) and encoder-decoder (t5, transformer: encoder ids and decoder ids).
 */
import { fail, fromTypedArray, noGrad, type DType, type Tensor } from '../tensor/index.js';
import { withRecorder } from '../nn/index.js';
import {
  BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
  Qwen2Config, Qwen2ForCausalLM, T5Config, T5ForConditionalGeneration, Transformer, TransformerConfig, type CausalLM, type Seq2SeqLM,
} from '../models/index.js';
import { calcModel } from './calc.js';

export interface TraceEntry {
  name: string;
  layer: number | null;
  shape: number[];
  dtype: DType;
}

/** A model a trace can run: ids -> logits (decoder-only, encoder-only), or encoder and decoder ids -> logits. */
export type TraceableModel = CausalLM | Seq2SeqLM;

/**
 * Runs the model's forward pass without gradients and returns every named intermediate it passed:
 * `model.forward(inputIds)`, or `model.forward(inputIds, decoderInputIds)` for an encoder-decoder.
 */
export function traceForward(model: TraceableModel, inputIds: Tensor, opts: { decoderInputIds?: Tensor } = {}): TraceEntry[] {
  const entries: TraceEntry[] = [];
  withRecorder(({ name, layer, tensor }) => entries.push({ name, layer, shape: [...tensor.shape], dtype: tensor.dtype }), () => {
    noGrad(() => (opts.decoderInputIds ? (model as Seq2SeqLM).forward(inputIds, opts.decoderInputIds) : (model as CausalLM).forward(inputIds)));
  });
  return entries;
}

/** Model families whose code names its intermediates, built from a config with random weights. */
const TRACEABLE: Readonly<Record<string, (config: Readonly<Record<string, unknown>>) => TraceableModel>> = {
  gpt2: (c) => new GPT2LMHeadModel(GPT2Config.fromDict(c)),
  llama: (c) => new LlamaForCausalLM(LlamaConfig.fromDict(c)),
  mistral: (c) => new MistralForCausalLM(MistralConfig.fromDict(c)),
  qwen2: (c) => new Qwen2ForCausalLM(Qwen2Config.fromDict(c)),
  bert: (c) => new BertForMaskedLM(BertConfig.fromDict(c)),
  t5: (c) => new T5ForConditionalGeneration(T5Config.fromDict(c)),
  transformer: (c) => new Transformer(TransformerConfig.fromDict(c)),
};

export const TRACEABLE_MODEL_TYPES: readonly string[] = Object.keys(TRACEABLE);

/** Whether a model of this model_type takes decoder ids besides the encoder's (t5, transformer). */
export function isEncoderDecoder(modelType: unknown): boolean {
  return modelType === 't5' || modelType === 'transformer';
}

/** A model of config.model_type with random weights; fails naming the families that can be traced. */
export function modelFromConfig(config: Readonly<Record<string, unknown>>): TraceableModel {
  const type = config['model_type'];
  const make = typeof type === 'string' ? TRACEABLE[type] : undefined;
  if (!make) fail('trace', `model_type ${JSON.stringify(type)} has no named intermediates (${TRACEABLE_MODEL_TYPES.join(', ')} do)`);
  return make(config);
}

/** Parameter count above which `traceConfig` shrinks a config. */
export const TRACE_MAX_PARAMS = 20_000_000;

const HEAD_DIM = 8;

/**
 * The config to trace: `config` itself when it has at most TRACE_MAX_PARAMS parameters, else a
 * tiny one with the same structure: the same head counts (so GQA grouping is kept) at head dim 8,
 * the same FFN/hidden ratio, at most 2 blocks (per stack) and a 256-token vocabulary.
 */
export function traceConfig(config: Readonly<Record<string, unknown>>): { config: Readonly<Record<string, unknown>>; shrunk: boolean } {
  const params = calcModel(config, { seq: 1 }).params.total;
  if (params <= TRACE_MAX_PARAMS) return { config, shrunk: false };
  const num = (k: string) => config[k] as number;
  const layers = (k: string) => Math.min(num(k), 2);
  if (config['model_type'] === 'gpt2') {
    const d = num('n_head') * HEAD_DIM;
    const inner = typeof config['n_inner'] === 'number' ? Math.round((num('n_inner') * d) / num('n_embd')) : null;
    return { config: { ...config, n_embd: d, n_inner: inner, n_layer: Math.min(num('n_layer'), 2), vocab_size: 256 }, shrunk: true };
  }
  if (config['model_type'] === 'bert') {
    const d = num('num_attention_heads') * HEAD_DIM;
    const ff = Math.round((num('intermediate_size') * d) / num('hidden_size'));
    return { config: { ...config, hidden_size: d, intermediate_size: ff, num_hidden_layers: layers('num_hidden_layers'), vocab_size: 256 }, shrunk: true };
  }
  if (config['model_type'] === 't5') {
    const d = num('num_heads') * HEAD_DIM;
    const ff = Math.round((num('d_ff') * d) / num('d_model'));
    const decoder = typeof config['num_decoder_layers'] === 'number' ? layers('num_decoder_layers') : null;
    return { config: { ...config, d_model: d, d_kv: HEAD_DIM, d_ff: ff, num_layers: layers('num_layers'), num_decoder_layers: decoder, vocab_size: 256 }, shrunk: true };
  }
  if (config['model_type'] === 'transformer') {
    const d = num('nhead') * HEAD_DIM;
    const ff = Math.round((num('dim_feedforward') * d) / num('d_model'));
    return {
      config: { ...config, d_model: d, dim_feedforward: ff, num_encoder_layers: layers('num_encoder_layers'), num_decoder_layers: layers('num_decoder_layers'), vocab_size: 256 },
      shrunk: true,
    };
  }
  const d = num('num_attention_heads') * HEAD_DIM;
  const ratio = num('intermediate_size') / num('hidden_size');
  return {
    config: { ...config, hidden_size: d, head_dim: null, intermediate_size: Math.round(ratio * d), num_hidden_layers: Math.min(num('num_hidden_layers'), 2), vocab_size: 256 },
    shrunk: true,
  };
}

/** Token ids [1, seq]: 0, 1, 2, ... modulo the vocabulary (the trace depends only on shapes). */
export function traceInput(seq: number, vocabSize: number): Tensor {
  return fromTypedArray(Int32Array.from({ length: seq }, (_, i) => i % vocabSize), [1, seq]);
}
