/**
 * Hugging Face `tokenizer.json` tokenizers: the pipeline of tokenizers `src/tokenizer/mod.rs`
 * (`TokenizerImpl::encode_single_sequence`) with the components of normalizers.ts,
 * pre-tokenizers.ts, the BPE / WordPiece / Unigram models, post-processors.ts and decoders.ts:
 *
 *   text -> split out added tokens (`AddedVocabulary::extract_and_normalize`: those with
 *   normalized=false on the raw text; normalize the rest; then those with normalized=true)
 *   -> pre-tokenize -> model ids per pre-token -> post-process ([CLS] ... [SEP]).
 *
 * Unlike tiktoken, added and special tokens are always recognised in the text (tokenizers'
 * default, `split_special_tokens = false`). Decoding an id the tokenizer does not have is an error
 * here, where tokenizers silently skips it. BPE dropout is refused.
 *
 * The file's `truncation` and `padding` are applied as tokenizers applies them: truncation before
 * post-processing, to max_length minus the special tokens the post-processor will add (LongestFirst
 * shares the budget between a pair as `truncate_encodings` does; OnlyFirst / OnlySecond cut one
 * sequence; Left / Right direction); padding after it, to a Fixed length or the batch's longest,
 * rounded up to pad_to_multiple_of, on the Right or Left, with pad_id / pad_type_id and attention
 * mask 0. Overflowing pieces (stride) are not returned.
 */
import { BpeModel } from './bpe-model.js';
import { decoderFromJson, type Decoder } from './decoders.js';
import { TokenizerError } from './errors.js';
import type { TokenizerModel } from './model.js';
import { normalizerFromJson, type Normalizer } from './normalizers.js';
import { postProcessorFromJson, concatenate, type PostProcessor, type Processed } from './post-processors.js';
import { escapeRegex, GPT2_PATTERN, preTokenizerFromJson, tiktokenPatternToJs, type Piece, type PreTokenizer } from './pre-tokenizers.js';
import type { EncodeOptions, Tokenizer } from './tokenizer.js';
import { UnigramModel } from './unigram.js';
import { WordPieceModel } from './wordpiece.js';
import type { SegmentRule } from './word-counts.js';

type Json = Record<string, unknown>;

export interface AddedToken {
  id: number;
  content: string;
  singleWord?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  /** Matched after normalization (its content normalized too) rather than on the raw text. */
  normalized?: boolean;
  special?: boolean;
}

export interface HfEncodeOptions extends EncodeOptions {
  /** A second sequence (sentence pairs: [CLS] A [SEP] B [SEP]). */
  pair?: string;
  /** Add the post-processor's special tokens; default true, as in tokenizers. */
  addSpecialTokens?: boolean;
  /** Apply the tokenizer's truncation / padding settings (default true when it has them). */
  truncate?: boolean;
  pad?: boolean;
}

/** tokenizer.json `truncation`. */
export interface Truncation {
  maxLength: number;
  strategy: 'LongestFirst' | 'OnlyFirst' | 'OnlySecond';
  direction: 'Right' | 'Left';
  stride: number;
}

/** tokenizer.json `padding`; `length` null is BatchLongest. */
export interface Padding {
  length: number | null;
  direction: 'Right' | 'Left';
  padToMultipleOf: number | null;
  padId: number;
  padTypeId: number;
  padToken: string;
}

/** Ids, type ids and the attention mask (0 on padding). */
export interface EncodingWithMask extends Processed {
  attentionMask: number[];
}

const WORD_CHAR = /[\p{Alphabetic}\p{N}_]/u;
const WHITE_SPACE = /\p{White_Space}/u;

/** Splits text on a set of added tokens, leftmost-longest, with single_word / lstrip / rstrip (`AddedVocabulary::find_matches`). */
class AddedTokenSplitter {
  private readonly regex: RegExp | null;
  private readonly byContent = new Map<string, AddedToken>();

  constructor(tokens: AddedToken[], contentOf: (t: AddedToken) => string) {
    for (const t of tokens) this.byContent.set(contentOf(t), t);
    const alternatives = [...this.byContent.keys()].filter((c) => c !== '').sort((a, b) => b.length - a.length);
    this.regex = alternatives.length > 0 ? new RegExp(alternatives.map(escapeRegex).join('|'), 'gu') : null;
  }

  /** Pieces of text (id null) and matched added tokens (their id). */
  split(text: string): { text: string; id: number | null; start: number }[] {
    if (!this.regex) return [{ text, id: null, start: 0 }];
    const out: { text: string; id: number | null; start: number }[] = [];
    let prev = 0;
    const regex = this.regex;
    regex.lastIndex = 0;
    for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
      const token = this.byContent.get(m[0])!;
      let start = m.index!;
      let stop = start + m[0].length;
      if (token.singleWord) {
        const before = text.slice(0, start).at(-1);
        const after = text.slice(stop, stop + 2);
        if ((before !== undefined && WORD_CHAR.test(before)) || (after !== '' && WORD_CHAR.test(Array.from(after)[0]!))) continue;
      }
      if (token.lstrip) while (start > prev && WHITE_SPACE.test(text[start - 1]!)) start--;
      if (token.rstrip) while (stop < text.length && WHITE_SPACE.test(text[stop]!)) stop++;
      if (start > prev) out.push({ text: text.slice(prev, start), id: null, start: prev });
      out.push({ text: text.slice(start, stop), id: token.id, start });
      prev = stop;
      regex.lastIndex = stop; // rstrip may have consumed text past the match
    }
    if (prev < text.length) out.push({ text: text.slice(prev), id: null, start: prev });
    return out;
  }
}

export interface HfTokenizerParts {
  name?: string;
  model: TokenizerModel;
  normalizer?: Normalizer | null;
  preTokenizer?: PreTokenizer | null;
  postProcessor?: PostProcessor | null;
  decoder?: Decoder | null;
  addedTokens?: AddedToken[];
  truncation?: Truncation | null;
  padding?: Padding | null;
  /** Where a stream of text may be cut without changing the ids (see word-counts.ts); default 'newline'. */
  segmentRule?: SegmentRule;
}

export class HfTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly model: TokenizerModel;
  readonly segmentRule: SegmentRule;
  readonly truncation: Truncation | null;
  readonly padding: Padding | null;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly postProcessor: PostProcessor | null;
  private readonly decoder: Decoder | null;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly rawSplitter: AddedTokenSplitter;
  private readonly normalizedSplitter: AddedTokenSplitter;

  constructor(parts: HfTokenizerParts) {
    this.name = parts.name ?? 'tokenizer.json';
    this.model = parts.model;
    this.segmentRule = parts.segmentRule ?? 'newline';
    this.truncation = parts.truncation ?? null;
    this.padding = parts.padding ?? null;
    this.normalizer = parts.normalizer ?? null;
    this.preTokenizer = parts.preTokenizer ?? null;
    this.postProcessor = parts.postProcessor ?? null;
    this.decoder = parts.decoder ?? null;
    const added = parts.addedTokens ?? [];
    for (const t of added) {
      this.addedById.set(t.id, t);
      this.addedByContent.set(t.content, t);
    }
    this.specialTokens = new Map(added.filter((t) => t.special).map((t) => [t.content, t.id]));
    this.vocabSize = Math.max(this.model.vocabSize, ...added.map((t) => t.id + 1));
    this.rawSplitter = new AddedTokenSplitter(added.filter((t) => !t.normalized), (t) => t.content);
    const normalize = this.normalizer ?? ((s: string) => s);
    this.normalizedSplitter = new AddedTokenSplitter(added.filter((t) => t.normalized), (t) => normalize(t.content));
  }

  /** Model ids of one sequence, before post-processing. */
  private encodeSequence(text: string): number[] {
    const ids: number[] = [];
    for (const raw of this.rawSplitter.split(text)) {
      if (raw.id !== null) {
        ids.push(raw.id);
        continue;
      }
      const normalized = this.normalizer ? this.normalizer(raw.text) : raw.text;
      for (const part of this.normalizedSplitter.split(normalized)) {
        if (part.id !== null) {
          ids.push(part.id);
          continue;
        }
        if (part.text === '') continue; // normalized away: tokenizers pre-tokenizes nothing here
        const piece: Piece = { text: part.text, atStart: raw.start === 0 && part.start === 0 };
        const pieces = this.preTokenizer ? this.preTokenizer([piece]) : [piece];
        for (const p of pieces) for (const id of this.model.tokenize(p.text)) ids.push(id);
      }
    }
    return ids;
  }

  /** Ids and type ids, with the post-processor's special tokens unless `addSpecialTokens: false`; truncated and padded as the file says. */
  encodeWithTypes(text: string, options: HfEncodeOptions = {}): EncodingWithMask {
    if (options.allowedSpecial !== undefined || options.disallowedSpecial !== undefined) {
      throw new TokenizerError('encode', `${this.name}: allowedSpecial/disallowedSpecial are tiktoken options; tokenizer.json tokenizers always recognise their added tokens`);
    }
    let a = this.encodeSequence(text);
    let b = options.pair === undefined ? null : this.encodeSequence(options.pair);
    const addSpecial = options.addSpecialTokens !== false && this.postProcessor !== null;
    const process = addSpecial ? this.postProcessor! : concatenate;
    if (this.truncation && options.truncate !== false) {
      const added = addSpecial ? process([], b === null ? null : []).ids.length : 0;
      // With max_length below the special tokens' count, tokenizers' unsigned subtraction wraps
      // around and nothing is truncated; the npm package does exactly that, so we do too.
      if (this.truncation.maxLength >= added) [a, b] = truncateSequences(a, b, { ...this.truncation, maxLength: this.truncation.maxLength - added });
    }
    const out = process(a, b);
    const encoding = { ids: out.ids, typeIds: out.typeIds, attentionMask: new Array<number>(out.ids.length).fill(1) };
    if (this.padding && options.pad !== false) return padEncoding(encoding, this.padding.length ?? encoding.ids.length, this.padding);
    return encoding;
  }

  encode(text: string, options: HfEncodeOptions = {}): number[] {
    return this.encodeWithTypes(text, options).ids;
  }

  /** Several texts; with BatchLongest padding they are padded to the longest. */
  encodeBatchWithTypes(texts: readonly string[], options: HfEncodeOptions = {}): EncodingWithMask[] {
    const encodings = texts.map((t) => this.encodeWithTypes(t, { ...options, pad: false }));
    if (!this.padding || options.pad === false) return encodings;
    const length = this.padding.length ?? Math.max(0, ...encodings.map((e) => e.ids.length));
    return encodings.map((e) => padEncoding(e, length, this.padding!));
  }

  encodeBatch(texts: readonly string[], options: HfEncodeOptions = {}): number[][] {
    return this.encodeBatchWithTypes(texts, options).map((e) => e.ids);
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.idToToken(id);
  }

  /** The text of the ids, through the decoder; `skipSpecialTokens` drops special added tokens. */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const token = Number.isInteger(id) ? this.idToToken(id) : undefined;
      if (token === undefined) {
        if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenizerError('decode', `id ${id} is outside the vocabulary (size ${this.vocabSize})`);
        throw new TokenizerError('decode', `id ${id} is not a token of ${this.name}`);
      }
      if (options.skipSpecialTokens && this.addedById.get(id)?.special) continue;
      tokens.push(token);
    }
    return this.decoder ? this.decoder(tokens).join('') : tokens.join(' ');
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    return new TextEncoder().encode(this.decode(ids));
  }
}

/** Keeps `n` ids from the start (Right) or the end (Left). */
function cut(ids: number[], n: number, direction: 'Right' | 'Left'): number[] {
  if (ids.length <= n) return ids;
  return direction === 'Right' ? ids.slice(0, n) : ids.slice(ids.length - n);
}

/**
 * tokenizers `truncate_encodings`: fit one sequence or a pair into maxLength (the budget left after
 * the special tokens the post-processor will add).
 */
export function truncateSequences(a: number[], b: number[] | null, t: Truncation): [number[], number[] | null] {
  const max = t.maxLength;
  const total = a.length + (b?.length ?? 0);
  if (total <= max) return [a, b];
  const toRemove = total - max;
  if (t.strategy === 'LongestFirst') {
    if (b === null) return [cut(a, max, t.direction), null];
    // tokenizers' legacy rule (utils/truncation.rs): with n1 <= n2 the lengths, the shorter keeps
    // its length if the longer can take the whole cut, else the shorter gets floor(max / 2) and the
    // longer the rest. (The npm package 0.23 sometimes gives the odd token to the other sequence
    // when both exceed an odd budget; see the truncation test.)
    let n1 = a.length;
    let n2 = b.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > max ? n1 : Math.max(n1, max - n1);
    if (n1 + n2 > max) {
      n1 = Math.floor(max / 2);
      n2 = n1 + (max % 2);
    }
    if (swap) [n1, n2] = [n2, n1];
    return [cut(a, n1, t.direction), cut(b, n2, t.direction)];
  }
  if (t.strategy === 'OnlySecond' && b === null) throw new TokenizerError('encode', 'truncation strategy OnlySecond needs a second sequence');
  const target = t.strategy === 'OnlyFirst' ? a : b!;
  if (target.length <= toRemove) {
    throw new TokenizerError('encode', `truncation ${t.strategy} to max_length ${max}: the ${t.strategy === 'OnlyFirst' ? 'first' : 'second'} sequence (${target.length} tokens) is too short to remove ${toRemove}`);
  }
  const kept = cut(target, target.length - toRemove, t.direction);
  return t.strategy === 'OnlyFirst' ? [kept, b] : [a, kept];
}

/** Pads to `length` (rounded up to padToMultipleOf); longer encodings are left as they are. */
function padEncoding(e: EncodingWithMask, length: number, p: Padding): EncodingWithMask {
  let target = length;
  if (p.padToMultipleOf && target % p.padToMultipleOf !== 0) target += p.padToMultipleOf - (target % p.padToMultipleOf);
  const n = target - e.ids.length;
  if (n <= 0) return e;
  const fill = (v: number): number[] => new Array<number>(n).fill(v);
  return p.direction === 'Right'
    ? { ids: [...e.ids, ...fill(p.padId)], typeIds: [...e.typeIds, ...fill(p.padTypeId)], attentionMask: [...e.attentionMask, ...fill(0)] }
    : { ids: [...fill(p.padId), ...e.ids], typeIds: [...fill(p.padTypeId), ...e.typeIds], attentionMask: [...fill(0), ...e.attentionMask] };
}

function truncationFromJson(json: Json | null | undefined): Truncation | null {
  if (!json) return null;
  const strategy = (json.strategy ?? 'LongestFirst') as Truncation['strategy'];
  const direction = (json.direction ?? 'Right') as Truncation['direction'];
  if (!['LongestFirst', 'OnlyFirst', 'OnlySecond'].includes(strategy)) throw new TokenizerError('tokenizer.json', `truncation strategy '${String(strategy)}' is not one of LongestFirst, OnlyFirst, OnlySecond`);
  if (!['Right', 'Left'].includes(direction)) throw new TokenizerError('tokenizer.json', `truncation direction '${String(direction)}' is not Right or Left`);
  if (!Number.isInteger(json.max_length) || (json.max_length as number) < 0) throw new TokenizerError('tokenizer.json', `truncation max_length must be a non-negative integer, got ${JSON.stringify(json.max_length)}`);
  return { maxLength: json.max_length as number, strategy, direction, stride: (json.stride as number) ?? 0 };
}

function paddingFromJson(json: Json | null | undefined): Padding | null {
  if (!json) return null;
  const s = json.strategy as unknown;
  let length: number | null;
  if (s === 'BatchLongest' || s === undefined) length = null;
  else if (typeof s === 'object' && s !== null && Number.isInteger((s as { Fixed?: unknown }).Fixed)) length = (s as { Fixed: number }).Fixed;
  else throw new TokenizerError('tokenizer.json', `padding strategy ${JSON.stringify(s)} is not "BatchLongest" or {"Fixed": n}`);
  const direction = (json.direction ?? 'Right') as Padding['direction'];
  if (!['Right', 'Left'].includes(direction)) throw new TokenizerError('tokenizer.json', `padding direction '${String(direction)}' is not Right or Left`);
  return {
    length,
    direction,
    padToMultipleOf: (json.pad_to_multiple_of as number | null) ?? null,
    padId: (json.pad_id as number) ?? 0,
    padTypeId: (json.pad_type_id as number) ?? 0,
    padToken: (json.pad_token as string) ?? '[PAD]',
  };
}

function modelFromJson(json: Json): TokenizerModel {
  switch (json.type) {
    case 'BPE':
      if (typeof json.dropout === 'number' && json.dropout > 0) {
        throw new TokenizerError('tokenizer.json', `BPE dropout ${json.dropout} is not supported (it makes encoding random; set it to null for inference)`);
      }
      return new BpeModel({
        vocab: json.vocab as Record<string, number>,
        merges: json.merges as (string | [string, string])[],
        unkToken: json.unk_token as string | null,
        continuingSubwordPrefix: json.continuing_subword_prefix as string | null,
        endOfWordSuffix: json.end_of_word_suffix as string | null,
        fuseUnk: json.fuse_unk === true,
        byteFallback: json.byte_fallback === true,
        ignoreMerges: json.ignore_merges === true,
      });
    case 'WordPiece':
      return new WordPieceModel({
        vocab: json.vocab as Record<string, number>,
        unkToken: json.unk_token as string,
        continuingSubwordPrefix: json.continuing_subword_prefix as string,
        maxInputCharsPerWord: json.max_input_chars_per_word as number,
      });
    case 'Unigram':
      return new UnigramModel({ vocab: json.vocab as [string, number][], unkId: json.unk_id as number | null, byteFallback: json.byte_fallback === true });
    default:
      throw new TokenizerError('tokenizer.json', `model type '${String(json.type)}' is not supported (supported: BPE, WordPiece, Unigram)`);
  }
}

/** Builds a tokenizer from the parsed contents of a tokenizer.json file. */
export function tokenizerFromJson(json: unknown, name = 'tokenizer.json'): HfTokenizer {
  const j = json as Json;
  if (typeof j !== 'object' || j === null || typeof j.model !== 'object' || j.model === null) {
    throw new TokenizerError('tokenizer.json', `${name}: expected an object with a 'model' (is this a Hugging Face tokenizer.json?)`);
  }
  const model = j.model as Json;
  if (model.type === undefined) {
    // Files written by old versions leave the model type implicit; infer it from the fields.
    model.type = 'merges' in model ? 'BPE' : Array.isArray(model.vocab) ? 'Unigram' : 'WordPiece';
  }
  const added = ((j.added_tokens as Json[] | undefined) ?? []).map(
    (t): AddedToken => ({
      id: t.id as number,
      content: t.content as string,
      singleWord: t.single_word === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      normalized: t.normalized === true,
      special: t.special === true,
    }),
  );
  // GPT-2's regex (ByteLevel with use_regex, or a Split with the pattern) leaves the last whitespace
  // character of a run to the next token, which decides where streamed text may be cut.
  const pre = JSON.stringify(j.pre_tokenizer ?? null);
  const gpt2 = (pre.includes('"type":"ByteLevel"') && !pre.includes('"use_regex":false')) || pre.includes(JSON.stringify(GPT2_PATTERN).slice(1, -1));
  return new HfTokenizer({
    name,
    segmentRule: gpt2 ? 'gpt2' : 'newline',
    truncation: truncationFromJson(j.truncation as Json | null),
    padding: paddingFromJson(j.padding as Json | null),
    model: modelFromJson(model),
    normalizer: normalizerFromJson(j.normalizer as Json | null, tiktokenPatternToJs),
    preTokenizer: preTokenizerFromJson(j.pre_tokenizer as Json | null),
    postProcessor: postProcessorFromJson(j.post_processor as Json | null),
    decoder: decoderFromJson(j.decoder as Json | null, tiktokenPatternToJs),
    addedTokens: added,
  });
}
