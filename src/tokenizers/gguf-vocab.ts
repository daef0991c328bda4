/**
 * Tokenizers stored in GGUF metadata (ggml's docs/gguf.md "Tokenizer"; llama.cpp's
 * llama-vocab.cpp reads them, convert_hf_to_gguf.py writes them):
 *
 *   tokenizer.ggml.model        'gpt2' (byte-level BPE) | 'llama' (SentencePiece)
 *   tokenizer.ggml.pre          the BPE pre-tokenizer by name ('llama-bpe', 'gpt-2', 'qwen2', ...)
 *   tokenizer.ggml.tokens       token strings by id (BPE: in GPT-2's byte-to-unicode alphabet)
 *   tokenizer.ggml.token_type   1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE
 *   tokenizer.ggml.scores       SentencePiece piece scores
 *   tokenizer.ggml.merges       BPE merges, "left right", by priority
 *   tokenizer.ggml.{bos,eos,unknown,padding}_token_id, add_bos_token, add_eos_token, add_space_prefix
 *
 * Both kinds become attn tokenizers: 'gpt2' a tokenizer.json pipeline (`HfTokenizer`: added
 * tokens for CONTROL / USER_DEFINED entries, the pre-tokenizer's regex, ByteLevel, BPE with the
 * merges, a BOS template when add_bos_token), 'llama' a `SentencePieceTokenizer` over a model
 * proto made from the pieces, run as llama.cpp's SPM tokenizer does: BPE merges by score with
 * byte fallback, no normalization beyond spaces -> U+2581 and the dummy prefix (add_space_prefix,
 * default true), whitespace not collapsed. Writing goes the other way for a byte-level BPE
 * tokenizer.json. This module works on plain metadata values (GgufFile.plainMetadata()), so the
 * tokenizers layer stays independent of the file format code.
 */
import { TokenizerError } from './errors.js';
import { CL100K_PATTERN } from './bpe-trainer.js';
import { PieceType, SentencePieceTokenizer, type SentencePieceModelProto } from './sentencepiece.js';
import { tokenizerFromJson, type HfTokenizer } from './tokenizer-json.js';

type Json = Record<string, unknown>;

/** GGUF token types (gguf-py TokenType = SentencePiece's piece types). */
export const GGUF_TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** Qwen2's pre-tokenizer: cl100k's with single digits (llama.cpp LLAMA_VOCAB_PRE_TYPE_QWEN2). */
export const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * llama.cpp pre-tokenizer names attn reads, with the split pattern (null: ByteLevel's own GPT-2
 * regex) and whether whole pre-tokens found in the vocabulary skip the merges (llama.cpp's
 * `ignore_merges`, set for the LLaMA-3 family as in its tokenizer.json).
 */
const PRE_TOKENIZERS: Readonly<Record<string, { pattern: string | null; ignoreMerges: boolean }>> = {
  'llama-bpe': { pattern: CL100K_PATTERN, ignoreMerges: true },
  'llama3': { pattern: CL100K_PATTERN, ignoreMerges: true },
  'llama-v3': { pattern: CL100K_PATTERN, ignoreMerges: true },
  'gpt-2': { pattern: null, ignoreMerges: false },
  'qwen2': { pattern: QWEN2_PATTERN, ignoreMerges: false },
};

function fail(msg: string): never {
  throw new TokenizerError('gguf', msg);
}

function stringArray(meta: Readonly<Json>, key: string, required: boolean): string[] | null {
  const v = meta[key];
  if (v === undefined && !required) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(`${key} must be an array of strings`);
  return v as string[];
}

function numberArray(meta: Readonly<Json>, key: string, length: number): number[] | null {
  const v = meta[key];
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) fail(`${key} must be an array of numbers`);
  if (v.length !== length) fail(`${key} has ${v.length} entries for ${length} tokens`);
  return v as number[];
}

function optionalId(meta: Readonly<Json>, key: string, vocab: number): number | null {
  const v = meta[key];
  if (v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${key} must be a token id, got ${JSON.stringify(v)}`);
  // llama.cpp treats ids outside the vocabulary as absent (some files use -1 / 0xffffffff)
  return v < vocab ? v : null;
}

function optionalBool(meta: Readonly<Json>, key: string): boolean | null {
  const v = meta[key];
  if (v === undefined) return null;
  if (typeof v !== 'boolean') fail(`${key} must be a boolean`);
  return v;
}

/** The GGUF tokenizer kind, or null when the metadata holds no vocabulary. */
export function ggufTokenizerModel(meta: Readonly<Json>): string | null {
  const m = meta['tokenizer.ggml.model'];
  if (m === undefined || m === 'none' || m === 'no_vocab') return null;
  if (typeof m !== 'string') fail('tokenizer.ggml.model must be a string');
  return m;
}

/**
 * The tokenizer.json of a 'gpt2' GGUF vocabulary (what attn runs; also what `attn convert` writes
 * beside a model converted from GGUF).
 */
export function tokenizerJsonFromGguf(meta: Readonly<Json>): Json {
  const model = ggufTokenizerModel(meta);
  if (model !== 'gpt2') fail(`tokenizer.ggml.model is ${JSON.stringify(model)}; a tokenizer.json is made only from 'gpt2' (byte-level BPE)`);
  const tokens = stringArray(meta, 'tokenizer.ggml.tokens', true)!;
  const types = numberArray(meta, 'tokenizer.ggml.token_type', tokens.length) ?? tokens.map(() => GGUF_TOKEN_TYPE.normal);
  const merges = stringArray(meta, 'tokenizer.ggml.merges', true)!;
  const pre = meta['tokenizer.ggml.pre'];
  if (pre === undefined) fail("tokenizer.ggml.pre is missing: llama.cpp would use its 'default' pre-tokenizer, which attn does not implement");
  const spec = PRE_TOKENIZERS[pre as string];
  if (!spec) fail(`tokenizer.ggml.pre '${String(pre)}' is not supported (${Object.keys(PRE_TOKENIZERS).join(', ')})`);
  // no prototype: tokens such as "toString" or "constructor" are ordinary keys
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const added: Json[] = [];
  tokens.forEach((t, id) => {
    const type = types[id]!;
    if (type === GGUF_TOKEN_TYPE.control || type === GGUF_TOKEN_TYPE.userDefined) {
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === GGUF_TOKEN_TYPE.control });
    } else if (type !== GGUF_TOKEN_TYPE.unused && !(t in vocab)) {
      vocab[t] = id;
    }
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: spec.pattern === null };
  const preTokenizer = spec.pattern === null ? byteLevel
    : { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: spec.pattern }, behavior: 'Isolated', invert: false }, byteLevel] };
  const specials: Json = {};
  const single: Json[] = [];
  const bos = optionalId(meta, 'tokenizer.ggml.bos_token_id', tokens.length);
  const eos = optionalId(meta, 'tokenizer.ggml.eos_token_id', tokens.length);
  // llama.cpp's default for BPE vocabularies is to add BOS unless the file says otherwise
  const addBos = optionalBool(meta, 'tokenizer.ggml.add_bos_token') ?? true;
  const addEos = optionalBool(meta, 'tokenizer.ggml.add_eos_token') ?? false;
  if (addBos && bos !== null) {
    specials[tokens[bos]!] = { id: tokens[bos], ids: [bos], tokens: [tokens[bos]] };
    single.push({ SpecialToken: { id: tokens[bos], type_id: 0 } });
  }
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (addEos && eos !== null) {
    specials[tokens[eos]!] = { id: tokens[eos], ids: [eos], tokens: [tokens[eos]] };
    single.push({ SpecialToken: { id: tokens[eos], type_id: 0 } });
  }
  const templated = single.length > 1;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: templated ? { type: 'TemplateProcessing', single, pair: [...single, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: specials } : null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: spec.ignoreMerges, vocab,
      merges: merges.map((m) => {
        const parts = m.split(' ');
        if (parts.length !== 2) fail(`merge ${JSON.stringify(m)} is not "left right"`);
        return parts;
      }),
    },
  };
}

/** The SentencePiece model proto of a 'llama' GGUF vocabulary, as llama.cpp's SPM tokenizer runs it. */
export function sentencePieceProtoFromGguf(meta: Readonly<Json>): SentencePieceModelProto {
  const model = ggufTokenizerModel(meta);
  if (model !== 'llama') fail(`tokenizer.ggml.model is ${JSON.stringify(model)}, not 'llama' (SentencePiece)`);
  const tokens = stringArray(meta, 'tokenizer.ggml.tokens', true)!;
  const scores = numberArray(meta, 'tokenizer.ggml.scores', tokens.length) ?? tokens.map(() => 0);
  const types = numberArray(meta, 'tokenizer.ggml.token_type', tokens.length) ?? tokens.map(() => GGUF_TOKEN_TYPE.normal);
  for (const [i, t] of types.entries()) if (!(t >= 1 && t <= 6)) fail(`tokenizer.ggml.token_type[${i}] is ${t} (1..6)`);
  const unk = optionalId(meta, 'tokenizer.ggml.unknown_token_id', tokens.length) ?? types.indexOf(PieceType.Unknown);
  const pieces = tokens.map((piece, i) => ({ piece, score: scores[i]!, type: (i === unk ? PieceType.Unknown : types[i]!) as PieceType }));
  const bytes = pieces.filter((p) => p.type === PieceType.Byte).length;
  return {
    pieces,
    trainerSpec: {
      modelType: 2, vocabSize: tokens.length, byteFallback: bytes === 256, splitDigits: false, treatWhitespaceAsSuffix: false,
      unkId: unk, bosId: optionalId(meta, 'tokenizer.ggml.bos_token_id', tokens.length) ?? -1,
      eosId: optionalId(meta, 'tokenizer.ggml.eos_token_id', tokens.length) ?? -1,
      padId: optionalId(meta, 'tokenizer.ggml.padding_token_id', tokens.length) ?? -1, unkSurface: ' \u2047 ',
    },
    normalizerSpec: {
      name: 'identity', precompiledCharsmap: new Uint8Array(0),
      addDummyPrefix: optionalBool(meta, 'tokenizer.ggml.add_space_prefix') ?? true,
      removeExtraWhitespaces: false, escapeWhitespaces: true,
    },
  };
}

export interface GgufTokenizer {
  tokenizer: HfTokenizer | SentencePieceTokenizer;
  /** Whether llama.cpp prepends BOS / appends EOS to a prompt (HfTokenizer's template already does). */
  addBos: boolean;
  addEos: boolean;
}

/** The tokenizer a GGUF file's metadata describes (plain values, see GgufFile.plainMetadata). */
export function tokenizerFromGguf(meta: Readonly<Json>, name = 'gguf'): GgufTokenizer {
  const model = ggufTokenizerModel(meta);
  if (model === null) fail('the file has no vocabulary (tokenizer.ggml.model is absent or none)');
  if (model === 'gpt2') {
    const json = tokenizerJsonFromGguf(meta);
    return {
      tokenizer: tokenizerFromJson(json, name),
      addBos: json['post_processor'] !== null && (optionalBool(meta, 'tokenizer.ggml.add_bos_token') ?? true),
      addEos: optionalBool(meta, 'tokenizer.ggml.add_eos_token') ?? false,
    };
  }
  if (model === 'llama') {
    return {
      tokenizer: new SentencePieceTokenizer(sentencePieceProtoFromGguf(meta), { name }),
      addBos: optionalBool(meta, 'tokenizer.ggml.add_bos_token') ?? true,
      addEos: optionalBool(meta, 'tokenizer.ggml.add_eos_token') ?? false,
    };
  }
  return fail(`tokenizer.ggml.model '${model}' is not supported (gpt2, llama)`);
}

// ---- writing --------------------------------------------------------------------------------

/** Metadata values in the shape formats/gguf.ts writes (structurally its GgufMetadataValue). */
export type GgufTokenizerValue =
  | { type: 'string'; value: string }
  | { type: 'uint32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'array'; itemType: 'string'; value: string[] }
  | { type: 'array'; itemType: 'int32'; value: number[] };

export interface GgufTokenizerOptions {
  /** The model's vocabulary size: ids the tokenizer lacks become "[PAD<id>]" UNUSED tokens (convert_hf_to_gguf). */
  vocabSize: number;
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  padTokenId?: number | null;
}

/** llama.cpp's pre-tokenizer name for a byte-level BPE tokenizer.json's pre_tokenizer. */
function preTokenizerName(pre: Json | null | undefined): string {
  const supported = "a Split with GPT-4's (cl100k) or Qwen2's pattern followed by ByteLevel without regex, or ByteLevel with GPT-2's regex";
  if (!pre) fail(`the tokenizer has no pre_tokenizer; expected ${supported}`);
  if (pre['type'] === 'ByteLevel' && pre['use_regex'] !== false && pre['add_prefix_space'] !== true) return 'gpt-2';
  if (pre['type'] === 'Sequence') {
    const steps = pre['pretokenizers'] as Json[];
    const [split, bl] = steps ?? [];
    const pattern = (split?.['pattern'] as Json | undefined)?.['Regex'];
    if (steps?.length === 2 && split?.['type'] === 'Split' && split['behavior'] === 'Isolated' && split['invert'] !== true
      && bl?.['type'] === 'ByteLevel' && bl['use_regex'] === false && bl['add_prefix_space'] !== true) {
      if (pattern === CL100K_PATTERN) return 'llama-bpe';
      if (pattern === QWEN2_PATTERN) return 'qwen2';
    }
  }
  return fail(`pre_tokenizer ${JSON.stringify(pre).slice(0, 200)} has no llama.cpp equivalent here; supported: ${supported}`);
}

/**
 * GGUF tokenizer metadata ('gpt2' model) for a byte-level BPE tokenizer.json, as
 * convert_hf_to_gguf.py writes it: tokens by id (ids missing from the tokenizer padded as
 * "[PAD<id>]", UNUSED), token types (added special tokens CONTROL, other added tokens
 * USER_DEFINED, the rest NORMAL), merges "left right", the pre-tokenizer name, special ids, and
 * add_bos_token / add_eos_token from the template post-processor (false without one).
 */
export function ggufTokenizerMetadata(tokenizerJson: unknown, opts: GgufTokenizerOptions): [string, GgufTokenizerValue][] {
  const j = tokenizerJson as Json;
  const model = j?.['model'] as Json | undefined;
  if (!model || model['type'] !== 'BPE') fail(`only byte-level BPE tokenizer.json files are written to GGUF (model type ${JSON.stringify(model?.['type'])})`);
  if (j['normalizer'] !== null && j['normalizer'] !== undefined) fail('a tokenizer.json normalizer has no llama.cpp equivalent for BPE vocabularies');
  if ((j['decoder'] as Json | null)?.['type'] !== 'ByteLevel') fail('the tokenizer.json decoder must be ByteLevel (byte-level BPE)');
  if (model['byte_fallback'] === true || model['continuing_subword_prefix'] || model['end_of_word_suffix']) {
    fail('BPE byte_fallback, continuing_subword_prefix and end_of_word_suffix have no llama.cpp equivalent');
  }
  const pre = preTokenizerName(j['pre_tokenizer'] as Json | null);
  const tokens: (string | undefined)[] = new Array(opts.vocabSize);
  const types = new Array<number>(opts.vocabSize).fill(GGUF_TOKEN_TYPE.normal);
  const place = (token: string, id: number, what: string): void => {
    if (!Number.isInteger(id) || id < 0 || id >= opts.vocabSize) fail(`${what} ${JSON.stringify(token)} has id ${id}, outside the model's vocabulary of ${opts.vocabSize}`);
    tokens[id] = token;
  };
  for (const [token, id] of Object.entries(model['vocab'] as Record<string, number>)) place(token, id, 'token');
  for (const t of (j['added_tokens'] as Json[] | undefined) ?? []) {
    place(t['content'] as string, t['id'] as number, 'added token');
    types[t['id'] as number] = t['special'] === true ? GGUF_TOKEN_TYPE.control : GGUF_TOKEN_TYPE.userDefined;
  }
  for (let id = 0; id < opts.vocabSize; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = GGUF_TOKEN_TYPE.unused;
    }
  }
  const merges = (model['merges'] as (string | [string, string])[]).map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`));
  // add_bos_token / add_eos_token: what the template post-processor wraps a single sequence in
  let addBos = false;
  let addEos = false;
  const post = j['post_processor'] as Json | null | undefined;
  // ByteLevel's post-processor only trims offsets: no tokens added
  if (post && post['type'] !== 'ByteLevel') {
    if (post['type'] !== 'TemplateProcessing') fail(`post_processor ${String(post['type'])} has no GGUF equivalent (TemplateProcessing, ByteLevel)`);
    const single = post['single'] as Json[];
    addBos = 'SpecialToken' in (single[0] ?? {});
    addEos = single.length > 1 && 'SpecialToken' in (single[single.length - 1] ?? {});
  }
  const out: [string, GgufTokenizerValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens as string[] }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges }],
  ];
  for (const [key, id] of [['bos', opts.bosTokenId], ['eos', opts.eosTokenId], ['padding', opts.padTokenId]] as const) {
    if (id === null || id === undefined) continue;
    if (!Number.isInteger(id) || id < 0 || id >= opts.vocabSize) fail(`${key} token id ${id} is outside the vocabulary of ${opts.vocabSize}`);
    out.push([`tokenizer.ggml.${key}_token_id`, { type: 'uint32', value: id }]);
  }
  out.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos }], ['tokenizer.ggml.add_eos_token', { type: 'bool', value: addEos }]);
  return out;
}
