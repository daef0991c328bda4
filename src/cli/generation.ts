/** What `attn generate` and `attn chat` share: the model (folder or .gguf), its tokenizer, sampling and cache options. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  generativeModel, ggufTokenizerModel, loadModel, loadModelFile, readHfFolder, tokenizerFromGguf, type GenerativeModel, type SamplingOptions,
  type SessionCache,
} from '../index.js';
import { loadTokenizerJson } from '../tokenizers/tokenizer-json-node.js';
import { loadSentencePiece } from '../tokenizers/sentencepiece-node.js';
import { SentencePieceTokenizer, type EncodeOptions, type Tokenizer } from '../tokenizers/index.js';
import { UsageError, intOption, numberOption } from './command.js';

/**
 * The model `--model` defaults to: attn-tiny, the small LLaMA-style model trained by attn on the
 * Brown corpus and State of the Union addresses that ships in the package (models/attn-tiny; its
 * README.md is the model card). Resolved from the package root, so it works from any directory.
 */
export const DEFAULT_MODEL_DIR: string | null = fileURLToPath(new URL('../../../models/attn-tiny', import.meta.url));

export interface LoadedForGeneration {
  dir: string;
  model: GenerativeModel;
  tokenizer: Tokenizer | null;
  /** How to encode a prompt (BOS for SentencePiece; tokenizer.json post-processors add theirs). */
  encode: EncodeOptions;
}

function readJson(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

function eosIds(v: unknown): number[] | null {
  if (typeof v === 'number' && Number.isInteger(v)) return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x))) return v as number[];
  return null;
}

/**
 * A .gguf file -> model (Linear weights run in their stored format: F16, Q8_0, Q4_0 ...) and the
 * tokenizer of its metadata (BOS as tokenizer.ggml.add_bos_token says, as llama.cpp does).
 */
function loadGgufForGeneration(path: string, activations: 'float32' | 'q8_0'): LoadedForGeneration {
  const loaded = loadModelFile(path, { activations });
  const eos = eosIds(loaded.config['eos_token_id']);
  const model = generativeModel(loaded, { config: loaded.config, ...(eos ? { eosTokenIds: eos } : {}) });
  const meta = loaded.gguf!.plainMetadata();
  if (ggufTokenizerModel(meta) === null) return { dir: path, model, tokenizer: null, encode: {} };
  const { tokenizer, addBos } = tokenizerFromGguf(meta, path);
  // a tokenizer.json pipeline adds BOS through its template; SentencePiece needs the option
  const encode = (tokenizer instanceof SentencePieceTokenizer && addBos ? { addBos: true } : {}) as EncodeOptions;
  return { dir: path, model, tokenizer, encode };
}

/**
 * --model DIR or FILE.gguf (or the default folder) -> model, tokenizer (tokenizer.json, else
 * tokenizer.model, else none; a GGUF file's own vocabulary).
 */
export function loadForGeneration(dirOption: string | undefined, activationsOption?: string): LoadedForGeneration {
  const dir = dirOption ?? DEFAULT_MODEL_DIR;
  if (dir === null) throw new UsageError('--model DIR is required (a Hugging Face folder: config.json, model.safetensors, tokenizer.json)');
  const activations = activationsOption ?? 'float32';
  if (activations !== 'float32' && activations !== 'q8_0') throw new UsageError(`--activations: expected float32 or q8_0, got '${activations}'`);
  const isGguf = existsSync(dir) && statSync(dir).isFile() && /\.gguf$/i.test(dir);
  if (activationsOption !== undefined && !isGguf) throw new UsageError('--activations applies to the quantized weights of a .gguf model (--model FILE.gguf)');
  if (isGguf) return loadGgufForGeneration(dir, activations);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(dirOption === undefined ? `no --model given and the default model folder '${dir}' does not exist` : `--model: no such folder '${dir}'`);
  }
  const folder = readHfFolder(dir);
  // generation_config.json's eos_token_id wins over config.json's, as in transformers' generate
  const gen = readJson(join(dir, 'generation_config.json'));
  const eos = eosIds(gen?.['eos_token_id']) ?? eosIds(folder.config['eos_token_id']);
  const model = generativeModel(loadModel(folder), { config: folder.config, ...(eos ? { eosTokenIds: eos } : {}) });
  let tokenizer: Tokenizer | null = null;
  let encode: EncodeOptions = {};
  if (existsSync(join(dir, 'tokenizer.json'))) {
    tokenizer = loadTokenizerJson(join(dir, 'tokenizer.json'));
  } else if (existsSync(join(dir, 'tokenizer.model'))) {
    tokenizer = loadSentencePiece(join(dir, 'tokenizer.model'));
    if (tokenizer instanceof SentencePieceTokenizer && model.kind === 'decoder-only') encode = { addBos: true } as EncodeOptions;
  }
  return { dir, model, tokenizer, encode };
}

/** parseArgs option specs of the sampling flags. */
export const SAMPLING_OPTIONS = {
  'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
  'min-p': { type: 'string' }, 'typical-p': { type: 'string' }, 'repetition-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' }, 'frequency-penalty': { type: 'string' }, seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  'no-cache': { type: 'boolean' }, kv: { type: 'string' }, window: { type: 'string' }, sinks: { type: 'string' }, heavy: { type: 'string' },
  activations: { type: 'string' },
} as const;

export const SAMPLING_USAGE = `  --max-tokens N          tokens to generate at most (default 256)
  --temperature T         0 (the default) is greedy decoding; > 0 samples
  --top-k K               keep the K most probable tokens (0: off)
  --top-p P               nucleus sampling: the smallest set with probability >= P (1: off)
  --min-p P               keep tokens with probability >= P * the largest (0: off)
  --typical-p P           locally typical sampling (1: off)
  --repetition-penalty R  CTRL's penalty on tokens already present (1: off)
  --presence-penalty X    subtract X from tokens already present
  --frequency-penalty X   subtract X times a token's count
  --seed S                seed of the sampler (same seed, same output); default: the clock
  --stop TEXT             end the output before TEXT (repeatable; matched across tokens)
  --no-cache              recompute the whole sequence at every step (the O(N^2) baseline)
  --kv f32|int8           K/V precision of the cache (int8: one scale per token and head)
  --window W              keep only the W most recent positions (a ring buffer; sliding-window
                          attention at inference)
  --sinks S               with --window: also keep the first S positions (StreamingLLM)
  --heavy H               with --window: also keep the H older positions with the most
                          accumulated attention (H2O; W is then its recent window)
  --activations A         .gguf models: float32 (default, exact) or q8_0 (Q8_0/Q4_0 layers
                          quantize their input to q8_0 blocks, as llama.cpp does: faster decode)`;

type Values = { [K in keyof typeof SAMPLING_OPTIONS]?: (typeof SAMPLING_OPTIONS)[K]['type'] extends 'boolean' ? boolean : (typeof SAMPLING_OPTIONS)[K] extends { multiple: true } ? string[] : string };

/** A fraction in (0, 1] (or [0, 1] where 0 means off). */
function fraction(name: string, raw: string | undefined, dflt: number, zeroIsOff = false): number {
  const v = numberOption(name, raw, dflt);
  if (!(v <= 1 && (zeroIsOff ? v >= 0 : v > 0))) throw new UsageError(`--${name}: expected a number in ${zeroIsOff ? '[0' : '(0'}, 1], got '${raw}'`);
  return v;
}

export function samplingFromArgs(v: Values): SamplingOptions & { maxTokens: number; stop: string[] } {
  const temperature = numberOption('temperature', v.temperature, 0);
  if (temperature < 0) throw new UsageError(`--temperature: expected a number >= 0, got '${v.temperature}'`);
  const repetition = numberOption('repetition-penalty', v['repetition-penalty'], 1);
  if (!(repetition > 0)) throw new UsageError(`--repetition-penalty: expected a positive number, got '${v['repetition-penalty']}'`);
  for (const s of v.stop ?? []) if (s === '') throw new UsageError('--stop: the stop text must not be empty');
  return {
    maxTokens: intOption('max-tokens', v['max-tokens'], 256, 1),
    temperature,
    topK: intOption('top-k', v['top-k'], 0, 0),
    topP: fraction('top-p', v['top-p'], 1),
    minP: fraction('min-p', v['min-p'], 0, true),
    typicalP: fraction('typical-p', v['typical-p'], 1),
    repetitionPenalty: repetition,
    presencePenalty: numberOption('presence-penalty', v['presence-penalty'], 0),
    frequencyPenalty: numberOption('frequency-penalty', v['frequency-penalty'], 0),
    ...(v.seed !== undefined ? { seed: intOption('seed', v.seed, 0) } : {}),
    stop: v.stop ?? [],
  };
}

/** --no-cache / --kv / --window / --sinks / --heavy -> the session cache (undefined: the model's default). */
export function cacheFromArgs(v: Values, model: GenerativeModel): SessionCache | undefined {
  const kv = v.kv ?? 'f32';
  if (kv !== 'f32' && kv !== 'int8') throw new UsageError(`--kv: expected f32 or int8, got '${kv}'`);
  const dtype = kv === 'int8' ? 'int8' : 'float32';
  const window = v.window === undefined ? null : intOption('window', v.window, 0, 1);
  const sinks = v.sinks === undefined ? null : intOption('sinks', v.sinks, 0, 1);
  const heavy = v.heavy === undefined ? null : intOption('heavy', v.heavy, 0, 1);
  if (v['no-cache']) {
    for (const [flag, set] of [['--kv', v.kv !== undefined], ['--window', window !== null], ['--sinks', sinks !== null], ['--heavy', heavy !== null]] as const) {
      if (set) throw new UsageError(`${flag} configures the KV cache; it cannot be combined with --no-cache`);
    }
    return 'none';
  }
  if ((sinks !== null || heavy !== null) && window === null) throw new UsageError(`--${sinks !== null ? 'sinks' : 'heavy'} needs --window W (the recent positions kept)`);
  if (sinks !== null && heavy !== null) throw new UsageError('--sinks and --heavy are two eviction policies; choose one');
  if (sinks !== null) return { kind: 'sinks', sinks, window: window!, dtype };
  if (heavy !== null) return { kind: 'heavy-hitter', heavy, recent: window!, dtype };
  if (window !== null) return { kind: 'sliding-window', window, dtype };
  const w = model.geometry.slidingWindow;
  if (kv === 'int8') return w ? { kind: 'sliding-window', window: w, dtype } : { kind: 'dense', dtype };
  return undefined;
}

/** Peak resident set size of this process in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
