/**
 * Fresh models for training: config.json fields -> a randomly initialised model of that family,
 * with Hugging Face's initialisation (init.ts) where the family has an `initializer_range`.
 * The task head follows the objective: a language-model head, BERT's masked-LM head, or BERT's
 * sequence-classification head.
 */
import { fail, Generator } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import { BertConfig, BertForMaskedLM, BertForSequenceClassification } from './bert.js';
import { GPT2Config, GPT2LMHeadModel } from './gpt2.js';
import { initWeights } from './init.js';
import { LlamaConfig, LlamaForCausalLM } from './llama.js';
import { MistralConfig, MistralForCausalLM } from './mistral.js';
import { Qwen2Config, Qwen2ForCausalLM } from './qwen2.js';
import { T5Config, T5ForConditionalGeneration } from './t5.js';
import { Transformer, TransformerConfig } from './transformer.js';

export type ModelHead = 'lm' | 'masked-lm' | 'sequence-classification';

export interface CreateModelOptions {
  /** Seeds the initialisation (default 0). */
  seed?: number;
  /** Default: 'lm' for decoder-only and encoder-decoder families, 'masked-lm' for bert. */
  head?: ModelHead;
}

/** Builds an untrained model of config.model_type. */
export function createModel(config: Readonly<Record<string, unknown>>, opts: CreateModelOptions = {}): Module {
  const g = new Generator(opts.seed ?? 0);
  const type = config['model_type'];
  const head = opts.head ?? (type === 'bert' ? 'masked-lm' : 'lm');
  const wrongHead = (): never => fail('createModel', `model_type '${String(type)}' has no '${head}' head`);
  let model: Module;
  let std: number | null = null;
  let residual: { names: string[]; scale: number } | null = null;
  switch (type) {
    case 'gpt2': {
      if (head !== 'lm') wrongHead();
      const c = GPT2Config.fromDict(config);
      model = new GPT2LMHeadModel(c, { generator: g });
      std = c.initializer_range;
      residual = { names: ['c_proj.weight'], scale: 1 / Math.sqrt(2 * c.n_layer) };
      break;
    }
    case 'llama':
    case 'mistral':
    case 'qwen2': {
      if (head !== 'lm') wrongHead();
      const c = type === 'llama' ? LlamaConfig.fromDict(config) : type === 'mistral' ? MistralConfig.fromDict(config) : Qwen2Config.fromDict(config);
      model = type === 'llama' ? new LlamaForCausalLM(c, { generator: g }) : type === 'mistral' ? new MistralForCausalLM(c as MistralConfig, { generator: g }) : new Qwen2ForCausalLM(c as Qwen2Config, { generator: g });
      std = c.initializer_range;
      break;
    }
    case 'bert': {
      const c = BertConfig.fromDict(config);
      if (head === 'masked-lm') model = new BertForMaskedLM(c, { generator: g });
      else if (head === 'sequence-classification') model = new BertForSequenceClassification(c, { generator: g });
      else return wrongHead();
      std = c.initializer_range;
      break;
    }
    case 't5':
      if (head !== 'lm') wrongHead();
      model = new T5ForConditionalGeneration(T5Config.fromDict(config), { generator: g });
      break;
    case 'transformer':
      if (head !== 'lm') wrongHead();
      model = new Transformer(TransformerConfig.fromDict(config), { generator: g });
      break;
    default:
      return fail('createModel', `model_type ${JSON.stringify(type)} is not supported (gpt2, llama, mistral, qwen2, bert, t5, transformer)`);
  }
  if (std !== null) initWeights(model, { std, generator: g, ...(residual ? { residualNames: residual.names, residualScale: residual.scale } : {}) });
  return model;
}
