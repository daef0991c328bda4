/** model_type (from config.json) -> model family, so a Hugging Face folder loads without naming its class. */
import { fail, type Tensor } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { BertForMaskedLM } from './bert.js';
import { GPT2LMHeadModel } from './gpt2.js';
import { LlamaForCausalLM } from './llama.js';
import { MistralForCausalLM } from './mistral.js';
import { Qwen2ForCausalLM } from './qwen2.js';
import { T5ForConditionalGeneration } from './t5.js';
import { Transformer } from './transformer.js';

/**
 * A language model: ids [B, T] int32 -> logits [B, T, V]. Causal for the decoder families; for
 * bert, a masked LM (BertForMaskedLM, whose forward also takes token types and a padding mask).
 */
export interface CausalLM extends Module {
  forward(inputIds: Tensor): Tensor;
}

export interface Pretrained {
  config: Readonly<Record<string, unknown>>;
  weights: TensorSource;
}

export const MODEL_FAMILIES: Readonly<Record<string, (p: Pretrained) => CausalLM>> = {
  bert: (p) => BertForMaskedLM.fromPretrained(p),
  gpt2: (p) => GPT2LMHeadModel.fromPretrained(p),
  llama: (p) => LlamaForCausalLM.fromPretrained(p),
  mistral: (p) => MistralForCausalLM.fromPretrained(p),
  qwen2: (p) => Qwen2ForCausalLM.fromPretrained(p),
};

/** Builds the model named by config.model_type and loads its weights. */
export function loadPretrained(p: Pretrained): CausalLM {
  const type = p.config['model_type'];
  const make = typeof type === 'string' ? MODEL_FAMILIES[type] : undefined;
  if (!make) fail('loadPretrained', `model_type ${JSON.stringify(type)} is not supported (${Object.keys(MODEL_FAMILIES).join(', ')})`);
  return make(p);
}

/** How a family maps ids to logits: one causal stack, one bidirectional stack (masked LM), or encoder + decoder. */
export type ModelKind = 'decoder-only' | 'encoder-only' | 'encoder-decoder';

/** An encoder-decoder LM: encoder ids [B, S] and decoder ids [B, T] int32 -> logits [B, T, V]. */
export interface Seq2SeqLM extends Module {
  forward(inputIds: Tensor, decoderInputIds: Tensor): Tensor;
}

/** model_type -> kind, for every family {@link loadModel} builds. */
export const MODEL_KINDS: Readonly<Record<string, ModelKind>> = {
  bert: 'encoder-only',
  gpt2: 'decoder-only',
  llama: 'decoder-only',
  mistral: 'decoder-only',
  qwen2: 'decoder-only',
  t5: 'encoder-decoder',
  // the original encoder-decoder (torch.nn.Transformer's names), as scripts/reference/transformer.py writes it
  transformer: 'encoder-decoder',
};

/** A loaded model tagged with its kind, so callers get the forward signature that kind has. */
export type LoadedModel =
  | { kind: 'decoder-only'; modelType: string; model: CausalLM }
  | { kind: 'encoder-only'; modelType: string; model: BertForMaskedLM }
  | { kind: 'encoder-decoder'; modelType: string; model: Seq2SeqLM };

/**
 * Builds the model named by config.model_type, decoder-only, encoder-only or encoder-decoder, and
 * loads its weights. {@link loadPretrained} stays the entry point for the ids -> logits families.
 */
export function loadModel(p: Pretrained): LoadedModel {
  const type = p.config['model_type'];
  const kind = typeof type === 'string' ? MODEL_KINDS[type] : undefined;
  if (typeof type !== 'string' || kind === undefined) fail('loadModel', `model_type ${JSON.stringify(type)} is not supported (${Object.keys(MODEL_KINDS).join(', ')})`);
  switch (type) {
    case 'bert': return { kind: 'encoder-only', modelType: type, model: BertForMaskedLM.fromPretrained(p) };
    case 't5': return { kind: 'encoder-decoder', modelType: type, model: T5ForConditionalGeneration.fromPretrained(p) };
    case 'transformer': return { kind: 'encoder-decoder', modelType: type, model: Transformer.fromPretrained(p) };
    default: return { kind: 'decoder-only', modelType: type, model: loadPretrained(p) };
  }
}

/** A loaded model as a Hugging Face folder holds it: what writeHfFolder takes. */
export interface HfExport {
  /** config.json: the typed config's fields with `architectures` naming the class. */
  config: Record<string, unknown>;
  /**
   * Checkpoint tensors by their HF names: the model's parameters, whose names are the checkpoint
   * names. A tied head is not a parameter and so is not written, as transformers' save_pretrained
   * drops shared tensors (GPT-2 without `lm_head.weight`, BERT without `cls.predictions.decoder.*`).
   */
  tensors: Map<string, Tensor>;
}

/**
 * The config and tensors that reproduce `model` as a Hugging Face folder (the inverse of
 * loadModel). For the original Transformer, which transformers does not have, the folder holds
 * torch.nn.Transformer's state-dict names (plus `embedding.weight`) and a config.json with its
 * argument names, which attn reads back. A config that transformers' class for its model_type
 * cannot run (an attn variant such as GPT-2 with ALiBi) is refused.
 */
export function toHfExport(model: Module): HfExport {
  const config = (model as { config?: { toDict?: () => Record<string, unknown>; transformersIncompatibility?: () => string | null } }).config;
  if (typeof config?.toDict !== 'function') fail('toHfExport', `${model.constructor.name} has no config with toDict()`);
  const dict = config.toDict();
  if (typeof dict['model_type'] !== 'string' || !MODEL_KINDS[dict['model_type']]) {
    fail('toHfExport', `${model.constructor.name}: model_type ${JSON.stringify(dict['model_type'])} is not one loadModel reads back`);
  }
  const incompatible = config.transformersIncompatibility?.() ?? null;
  if (incompatible) {
    fail('toHfExport', `${model.constructor.name}: ${incompatible}, so it cannot be exported as a Hugging Face folder (writeHfFolder with config.toDict() and stateDict() keeps it for attn)`);
  }
  return { config: { architectures: [model.constructor.name], ...dict }, tensors: model.stateDict() };
}
