/**
 * SentencePiece `.model` files (Kudo & Richardson 2018, "SentencePiece: A simple and language
 * independent subword tokenizer"): the ModelProto protobuf read by hand, and a tokenizer that
 * encodes as the C++ library does (sentencepiece 0.1.97, `sentencepiece_processor.cc`):
 *
 *   text -> normalizer (`normalizer.cc`: the model's precompiled character map, a longest-prefix
 *   match in a Darts double-array trie; whitespace trimmed and collapsed; `▁` for spaces and one
 *   prepended, or appended with treat_whitespace_as_suffix) -> model over the whole normalized
 *   string (Unigram: Viterbi over piece scores, `EncodeOptimized` in `unigram_model.cc`; BPE: merge
 *   the adjacent pair whose merged piece scores highest, `bpe_model.cc`; WORD: whole words split
 *   before each `▁`; CHAR: one piece per character) -> unknown runs fused into one `<unk>`, or with
 *   byte fallback spelled as `<0xXX>` pieces.
 *
 * Scores are float32 in the file and the Unigram best-path scores are stored as float32 in the C++
 * code (piece candidates are double sums, unknown ones float sums); the Viterbi here rounds the
 * same way with Math.fround, since near-ties ("0"+"00" vs "00"+"0") are decided by that rounding.
 */
import { TokenizerError } from './errors.js';
import { toWellFormed } from './tiktoken.js';
import type { EncodeOptions, Tokenizer } from './tokenizer.js';

/** `ModelProto.SentencePiece.Type`. */
export enum PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

/** The `TrainerSpec` fields that change encoding or name the special pieces (the rest are skipped). */
export interface TrainerSpec {
  /** 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR. */
  modelType: number;
  vocabSize: number;
  byteFallback: boolean;
  splitDigits: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkSurface: string;
}

export interface NormalizerSpec {
  name: string;
  /** Empty for identity: `<trie size u32 LE><Darts double array><NUL-terminated replacements>`. */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SentencePieceModelProto {
  pieces: SentencePiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
}

export const MODEL_TYPES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };

/** Protobuf wire format: varints and length-delimited fields, read from a byte array. */
class ProtoReader {
  pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
    private readonly what = 'ModelProto',
  ) {
    this.pos = start;
  }

  private fail(detail: string): never {
    throw new TokenizerError('sentencepiece', `${this.what} at byte ${this.pos}: ${detail} (a truncated file, or not a SentencePiece .model?)`);
  }

  /** A varint as a number (exact up to 2^53; int32 fields read their low 32 bits with `int32`). */
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) this.fail('varint runs past the end');
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
    this.fail('varint longer than 10 bytes');
  }

  int32(): number {
    return Number(BigInt.asIntN(32, this.varint()));
  }

  float32(): number {
    if (this.pos + 4 > this.end) this.fail('fixed32 runs past the end');
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  bytesField(): Uint8Array {
    const length = Number(this.varint());
    if (this.pos + length > this.end) this.fail(`length-delimited field of ${length} bytes runs past the end`);
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  string(): string {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(this.bytesField());
    } catch (e) {
      if (e instanceof TokenizerError) throw e;
      this.fail('string field is not valid UTF-8');
    }
  }

  /** Each field's number and wire type, in order; `read` must consume the field or call `skip`. */
  *fields(): Generator<{ field: number; wire: number }> {
    while (this.pos < this.end) {
      const key = Number(this.varint());
      const field = key >>> 3;
      const wire = key & 7;
      if (field === 0) this.fail('field number 0');
      yield { field, wire };
    }
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytesField();
    else if (wire === 5) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.end) this.fail('field runs past the end');
  }

  /** A reader over the next length-delimited field (a sub-message). */
  sub(what: string): ProtoReader {
    const b = this.bytesField();
    return new ProtoReader(this.bytes, b.byteOffset - this.bytes.byteOffset, b.byteOffset - this.bytes.byteOffset + b.length, what);
  }

  expect(wire: number, expected: number, field: number): void {
    if (wire !== expected) this.fail(`field ${field} has wire type ${wire}, expected ${expected}`);
  }
}

function readPiece(r: ProtoReader): SentencePiece {
  const p: SentencePiece = { piece: '', score: 0, type: PieceType.Normal };
  for (const { field, wire } of r.fields()) {
    if (field === 1) (r.expect(wire, 2, field), (p.piece = r.string()));
    else if (field === 2) (r.expect(wire, 5, field), (p.score = r.float32()));
    else if (field === 3) (r.expect(wire, 0, field), (p.type = r.int32()));
    else r.skip(wire);
  }
  return p;
}

function readTrainerSpec(r: ProtoReader): TrainerSpec {
  // proto2 defaults from sentencepiece_model.proto.
  const t: TrainerSpec = { modelType: 1, vocabSize: 8000, byteFallback: false, splitDigits: false, treatWhitespaceAsSuffix: false, unkId: 0, bosId: 1, eosId: 2, padId: -1, unkSurface: ' \u2047 ' };
  const ints: Record<number, keyof TrainerSpec> = { 3: 'modelType', 4: 'vocabSize', 40: 'unkId', 41: 'bosId', 42: 'eosId', 43: 'padId' };
  const bools: Record<number, keyof TrainerSpec> = { 35: 'byteFallback', 25: 'splitDigits', 24: 'treatWhitespaceAsSuffix' };
  for (const { field, wire } of r.fields()) {
    if (ints[field] && wire === 0) (t as unknown as Record<string, number>)[ints[field]] = r.int32();
    else if (bools[field] && wire === 0) (t as unknown as Record<string, boolean>)[bools[field]] = r.varint() !== 0n;
    else if (field === 44 && wire === 2) t.unkSurface = r.string();
    else r.skip(wire);
  }
  return t;
}

function readNormalizerSpec(r: ProtoReader): NormalizerSpec {
  const n: NormalizerSpec = { name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  for (const { field, wire } of r.fields()) {
    if (field === 1 && wire === 2) n.name = r.string();
    else if (field === 2 && wire === 2) n.precompiledCharsmap = r.bytesField().slice();
    else if (field === 3 && wire === 0) n.addDummyPrefix = r.varint() !== 0n;
    else if (field === 4 && wire === 0) n.removeExtraWhitespaces = r.varint() !== 0n;
    else if (field === 5 && wire === 0) n.escapeWhitespaces = r.varint() !== 0n;
    else r.skip(wire);
  }
  return n;
}

/** Parses a serialized `ModelProto` (the contents of a SentencePiece `.model` file). */
export function parseSentencePieceModel(bytes: Uint8Array): SentencePieceModelProto {
  const r = new ProtoReader(bytes);
  const pieces: SentencePiece[] = [];
  let trainerSpec: TrainerSpec | undefined;
  let normalizerSpec: NormalizerSpec | undefined;
  for (const { field, wire } of r.fields()) {
    if (field === 1) (r.expect(wire, 2, field), pieces.push(readPiece(r.sub(`pieces[${pieces.length}]`))));
    else if (field === 2) (r.expect(wire, 2, field), (trainerSpec = readTrainerSpec(r.sub('trainer_spec'))));
    else if (field === 3) (r.expect(wire, 2, field), (normalizerSpec = readNormalizerSpec(r.sub('normalizer_spec'))));
    else r.skip(wire);
  }
  if (pieces.length === 0) throw new TokenizerError('sentencepiece', 'the ModelProto has no pieces (is this a SentencePiece .model file?)');
  pieces.forEach((p, i) => {
    if (!(p.type >= PieceType.Normal && p.type <= PieceType.Byte)) throw new TokenizerError('sentencepiece', `piece ${i} ${JSON.stringify(p.piece)} has unknown type ${p.type}`);
  });
  // A prefix of a .model cut between two fields is valid protobuf; every file spm_train writes
  // has both specs after the pieces, so their absence means truncation.
  if (!trainerSpec) throw new TokenizerError('sentencepiece', `the ModelProto has no trainer_spec after its ${pieces.length} pieces (a truncated file?)`);
  if (!normalizerSpec) throw new TokenizerError('sentencepiece', 'the ModelProto has no normalizer_spec (a truncated file?)');
  return { pieces, trainerSpec, normalizerSpec };
}

const SPACE_SYMBOL = '\u2581';
const utf8 = new TextEncoder();

/**
 * The precompiled character map: a Darts-clone double-array trie over UTF-8 bytes whose values
 * are offsets of NUL-terminated replacement strings (`normalizer.cc` `DecodePrecompiledCharsMap`,
 * `Normalizer::NormalizePrefix`). This replays whatever map the model carries, so nmt_nfkc,
 * nfkc_cf or a custom TSV rule set behave exactly as in the model that was trained.
 */
export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;

  constructor(blob: Uint8Array) {
    if (blob.length < 4) throw new TokenizerError('sentencepiece', `precompiled_charsmap of ${blob.length} bytes is too short`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.length);
    const trieSize = view.getUint32(0, true);
    if (trieSize % 4 !== 0 || 4 + trieSize > blob.length) throw new TokenizerError('sentencepiece', `precompiled_charsmap trie size ${trieSize} does not fit its ${blob.length} bytes`);
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = blob.subarray(4 + trieSize);
  }

  /** The longest rule matching a prefix of bytes[start..]: [bytes consumed, replacement], or null. */
  longestMatch(bytes: Uint8Array, start: number): [number, Uint8Array] | null {
    // Darts-clone `commonPrefixSearch`: unit fields are has_leaf (bit 8), label (bits 0-7 and 31),
    // offset ((unit >> 10) << ((unit & 512) >> 6)), value (bits 0-30 of the leaf unit).
    const u = this.units;
    const offset = (unit: number): number => (unit >>> 10) << ((unit & 512) >>> 6);
    let node = offset(u[0]!);
    let best: [number, number] | null = null;
    for (let i = start; i < bytes.length; i++) {
      const key = bytes[i]!;
      node ^= key;
      const unit = u[node];
      if (unit === undefined || (unit & 0x800000ff) >>> 0 !== key) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) best = [i + 1 - start, u[node]! & 0x7fffffff];
    }
    if (best === null) return null;
    const [length, value] = best;
    let end = value;
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return [length, this.normalized.subarray(value, end)];
  }
}

/** Bytes of the UTF-8 character starting with byte b. */
function utf8Length(b: number): number {
  return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

function byteIndex(a: Uint8Array, b: Uint8Array, at: number): boolean {
  if (at + b.length > a.length) return false;
  for (let i = 0; i < b.length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A run of byte pieces as text, as sentencepiece decodes it: each well-formed UTF-8 character as
 * itself and every byte that does not start one as U+FFFD (TextDecoder would give one U+FFFD per
 * maximal ill-formed subsequence instead, e.g. one for a truncated F0 9D where sentencepiece gives two).
 */
function decodeByteRun(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const n = utf8Length(bytes[i]!);
    let c: string | null = null;
    if (i + n <= bytes.length) {
      try {
        c = strictUtf8.decode(bytes.subarray(i, i + n));
      } catch {
        c = null;
      }
    }
    if (c === null) {
      out += '\ufffd';
      i += 1;
    } else {
      out += c;
      i += n;
    }
  }
  return out;
}

export function bytePieceName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/**
 * The rules SentencePiece's builder adds to NFKC for "nmt_nfkc" (`builder.cc` `BuildNmtNFKCMap`):
 * these code points become a space, and ASCII / C1 control characters are removed.
 */
const NMT_SPACES = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x1680, 0x200b, 0x200c, 0x200e, 0x200f, 0x2028, 0x2029, 0x2581, 0xfeff, 0xfffd]);
const NMT_REMOVED = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0b, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x7f, 0x8f, 0x9f]);
/** Kept as they are by the nmt_nfkc map although NFKC changes them. */
const NMT_KEPT = new Set([0xff5e]);

/**
 * A stand-in for a missing precompiled_charsmap, by the normalizer's name, computed with JS's
 * `String.prototype.normalize`: "identity" changes nothing; "nfkc" is NFKC of the whole text;
 * "nmt_nfkc" first applies NMT_SPACES / NMT_REMOVED / NMT_KEPT per character. Compared with
 * sentencepiece 0.1.97's nmt_nfkc map, per code point it differs only for characters newer than
 * the map's Unicode version (which the map leaves alone; tests/tokenizers/sentencepiece.test.ts
 * checks this on every code point); on text it also differs where NFKC's canonical reordering or
 * composition spans sequences the map has no rule for. Case-folding rules (nfkc_cf) are refused.
 */
export function jsNormalizer(name: string): ((text: string) => string) | null {
  switch (name) {
    case '':
    case 'identity':
      return null;
    case 'nfkc':
      return (text) => text.normalize('NFKC');
    case 'nmt_nfkc':
      return (text) => {
        let out = '';
        let run = '';
        for (const c of text) {
          const cp = c.codePointAt(0)!;
          if (NMT_SPACES.has(cp)) run += ' ';
          else if (NMT_REMOVED.has(cp)) continue;
          else if (NMT_KEPT.has(cp)) (out += run.normalize('NFKC') + c), (run = '');
          else run += c;
        }
        return out + run.normalize('NFKC');
      };
    default:
      throw new TokenizerError('sentencepiece', `normalizer '${name}' has no precompiled_charsmap and no JS equivalent here (supported: identity, nfkc, nmt_nfkc)`);
  }
}

export interface SentencePieceOptions {
  /** The tokenizer's name (default 'sentencepiece'; the loader uses the file name). */
  name?: string;
  /**
   * When the model has no precompiled_charsmap, normalize by its normalizer name with
   * `jsNormalizer` instead of not at all. Default false: sentencepiece itself does not normalize
   * without a map, whatever the name says.
   */
  jsNormalizerWithoutCharsmap?: boolean;
}

export interface SentencePieceEncodeOptions extends EncodeOptions {
  /** Prepend the bos id / append the eos id (spm_encode's `--extra_options=bos:eos`). Default false. */
  addBos?: boolean;
  addEos?: boolean;
}

/** A SentencePiece model (Unigram or BPE) as an attn Tokenizer. */
export class SentencePieceTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  /** Control pieces (`<s>`, `</s>`, ...) and `<unk>`: never produced from text, only by id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly proto: SentencePieceModelProto;
  readonly unkId: number;
  /** NORMAL, USER_DEFINED and UNUSED pieces: what text can match (`ModelBase::pieces_`). */
  private readonly pieceIds = new Map<string, number>();
  /** Every piece by text (`PieceToId`: reserved ones first). */
  private readonly allIds = new Map<string, number>();
  private readonly scores: Float32Array;
  private readonly types: Uint8Array;
  private readonly maxPieceChars: number;
  private readonly minScore: number;
  private readonly maxScore: number;
  private readonly charsmap: PrecompiledCharsmap | null;
  private readonly fallbackNormalizer: ((text: string) => string) | null;
  /** UTF-8 bytes of the user-defined pieces, longest first: matched whole before the charsmap. */
  private readonly userDefined: Uint8Array[];
  private readonly byteIds: number[] = [];

  constructor(proto: SentencePieceModelProto, options: SentencePieceOptions = {}) {
    const name = options.name ?? 'sentencepiece';
    this.name = name;
    this.proto = proto;
    const { pieces, trainerSpec: t, normalizerSpec: n } = proto;
    if (!(t.modelType >= 1 && t.modelType <= 4)) {
      throw new TokenizerError('sentencepiece', `${name}: model_type ${MODEL_TYPES[t.modelType] ?? t.modelType} is not supported (supported: UNIGRAM, BPE, WORD, CHAR)`);
    }
    this.vocabSize = pieces.length;
    this.scores = Float32Array.from(pieces, (p) => p.score);
    this.types = Uint8Array.from(pieces, (p) => p.type);
    let maxChars = 1;
    let unkId = -1;
    let minScore = Infinity;
    let maxScore = -Infinity;
    const special = new Map<string, number>();
    pieces.forEach((p, id) => {
      const matchable = p.type === PieceType.Normal || p.type === PieceType.UserDefined || p.type === PieceType.Unused;
      if (matchable) {
        if (this.pieceIds.has(p.piece)) throw new TokenizerError('sentencepiece', `${name}: piece ${JSON.stringify(p.piece)} appears twice`);
        this.pieceIds.set(p.piece, id);
        maxChars = Math.max(maxChars, Array.from(p.piece).length);
      }
      if (!this.allIds.has(p.piece) || !matchable) this.allIds.set(p.piece, id);
      if (p.type === PieceType.Unknown) unkId = id;
      if (p.type === PieceType.Normal) {
        minScore = Math.min(minScore, p.score);
        maxScore = Math.max(maxScore, p.score);
      }
      if (p.type === PieceType.Control || p.type === PieceType.Unknown) special.set(p.piece, id);
      if (p.type === PieceType.Byte) {
        const m = /^<0x([0-9A-F]{2})>$/.exec(p.piece);
        if (!m) throw new TokenizerError('sentencepiece', `${name}: byte piece ${id} ${JSON.stringify(p.piece)} is not <0xXX>`);
        this.byteIds[parseInt(m[1]!, 16)] = id;
      }
    });
    if (unkId < 0) throw new TokenizerError('sentencepiece', `${name}: the model has no UNKNOWN piece`);
    if (t.byteFallback && this.byteIds.filter((x) => x !== undefined).length !== 256) {
      throw new TokenizerError('sentencepiece', `${name}: byte_fallback is set but the model does not have all 256 <0xXX> pieces`);
    }
    this.unkId = unkId;
    this.specialTokens = special;
    this.maxPieceChars = maxChars;
    this.minScore = minScore;
    this.maxScore = maxScore;
    this.charsmap = n.precompiledCharsmap.length > 0 ? new PrecompiledCharsmap(n.precompiledCharsmap) : null;
    this.fallbackNormalizer = !this.charsmap && options.jsNormalizerWithoutCharsmap ? jsNormalizer(n.name) : null;
    this.userDefined = pieces
      .filter((p) => p.type === PieceType.UserDefined)
      .map((p) => utf8.encode(p.piece))
      .sort((a, b) => b.length - a.length);
  }

  get modelType(): 'UNIGRAM' | 'BPE' | 'WORD' | 'CHAR' {
    return MODEL_TYPES[this.proto.trainerSpec.modelType] as 'UNIGRAM' | 'BPE' | 'WORD' | 'CHAR';
  }

  /** The longest user-defined piece at bytes[at..], in bytes; 0 if none. */
  private userDefinedAt(bytes: Uint8Array, at: number): number {
    for (const u of this.userDefined) if (byteIndex(bytes, u, at)) return u.length;
    return 0;
  }

  /**
   * `Normalizer::Normalize`: each prefix is a user-defined piece (kept), a charsmap rule (its
   * replacement) or one character; leading, trailing and repeated spaces are dropped when
   * remove_extra_whitespaces; spaces become `▁`; one `▁` is prepended (add_dummy_prefix).
   */
  normalize(text: string): string {
    const { addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces } = this.proto.normalizerSpec;
    const wellFormed = toWellFormed(text);
    // The JS stand-in runs on the whole text first (user-defined pieces are then matched after it).
    const input = utf8.encode(this.fallbackNormalizer ? this.fallbackNormalizer(wellFormed) : wellFormed);
    const prefix = (at: number): [number, Uint8Array] => {
      const user = this.userDefinedAt(input, at);
      if (user > 0) return [user, input.subarray(at, at + user)];
      const rule = this.charsmap?.longestMatch(input, at);
      if (rule) return rule;
      const n = Math.min(utf8Length(input[at]!), input.length - at);
      return [n, input.subarray(at, at + n)];
    };
    let at = 0;
    if (removeExtraWhitespaces) {
      while (at < input.length) {
        const [n, out] = prefix(at);
        if (!(out.length === 1 && out[0] === 0x20)) break;
        at += n;
      }
    }
    if (at >= input.length) return '';
    const space = escapeWhitespaces ? SPACE_SYMBOL : ' ';
    // treat_whitespace_as_suffix moves the dummy `▁` from the front to the end.
    const suffix = this.proto.trainerSpec.treatWhitespaceAsSuffix;
    let result = addDummyPrefix && !suffix ? space : '';
    let previousSpace = removeExtraWhitespaces;
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    while (at < input.length) {
      const [n, out] = prefix(at);
      let sp = out;
      if (previousSpace) {
        let k = 0;
        while (k < sp.length && sp[k] === 0x20) k++;
        sp = sp.subarray(k);
      }
      if (sp.length > 0) {
        const s = decoder.decode(sp);
        result += escapeWhitespaces ? s.replaceAll(' ', SPACE_SYMBOL) : s;
        previousSpace = sp[sp.length - 1] === 0x20;
      }
      at += n;
      if (!removeExtraWhitespaces) previousSpace = false;
    }
    if (removeExtraWhitespaces) while (result.endsWith(space)) result = result.slice(0, -space.length);
    if (addDummyPrefix && suffix) result += space;
    return result;
  }

  /** The model's [piece text, id] segmentation of normalized text; unknown characters carry unkId. */
  segment(normalized: string): [string, number][] {
    switch (this.proto.trainerSpec.modelType) {
      case 2:
        return this.bpe(normalized);
      case 3:
        return this.words(normalized);
      case 4:
        return this.characters(normalized);
      default:
        return this.viterbi(normalized);
    }
  }

  /**
   * `word::Model::Encode`: `SplitIntoWords` (a word starts at the text's start and at each `▁`),
   * each word looked up whole. sentencepiece 0.1.97 splits this way even with
   * treat_whitespace_as_suffix (its word model does not pass the flag on), so then the final `▁`
   * that normalization appends is a word of its own.
   */
  private words(normalized: string): [string, number][] {
    const out: [string, number][] = [];
    let word = '';
    for (const c of normalized) {
      if (c === SPACE_SYMBOL && word !== '') {
        out.push([word, this.pieceToId(word)]);
        word = '';
      }
      word += c;
    }
    if (word !== '') out.push([word, this.pieceToId(word)]);
    return out;
  }

  /** `character::Model::Encode`: user-defined pieces whole, otherwise one piece per character. */
  private characters(normalized: string): [string, number][] {
    const out: [string, number][] = [];
    const bytes = utf8.encode(normalized);
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    for (let at = 0; at < bytes.length; ) {
      const user = this.userDefinedAt(bytes, at);
      const n = user > 0 ? user : Math.min(utf8Length(bytes[at]!), bytes.length - at);
      const piece = decoder.decode(bytes.subarray(at, at + n));
      out.push([piece, this.pieceToId(piece)]);
      at += n;
    }
    return out;
  }

  /** `unigram::Model::EncodeOptimized`: best path by float32 score sums; unknowns cost min score - 10. */
  private viterbi(normalized: string): [string, number][] {
    const chars = Array.from(normalized);
    const n = chars.length;
    const bytesOf = chars.map((c) => utf8.encode(c).length);
    const score = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const nodeId = new Int32Array(n + 1).fill(-1);
    const unkScore = Math.fround(this.minScore - 10);
    for (let start = 0; start < n; start++) {
      const base = score[start]!;
      let hasSingle = false;
      let piece = '';
      let bytes = 0;
      for (let end = start + 1; end <= Math.min(n, start + this.maxPieceChars); end++) {
        piece += chars[end - 1];
        bytes += bytesOf[end - 1]!;
        const id = this.pieceIds.get(piece);
        if (id === undefined) continue;
        const type = this.types[id]!;
        if (type === PieceType.Unused) continue;
        // A user-defined piece gets a bonus so it is always chosen. In the C++ code this `?:` has
        // type double, so the candidate is a double sum compared with the stored float32 best.
        const candidate = (type === PieceType.UserDefined ? Math.fround(bytes * this.maxScore) - 0.1 : this.scores[id]!) + base;
        if (from[end] === -1 || candidate > score[end]!) {
          score[end] = Math.fround(candidate);
          from[end] = start;
          nodeId[end] = id;
        }
        if (end === start + 1) hasSingle = true;
      }
      if (!hasSingle) {
        const candidate = Math.fround(unkScore + base);
        if (from[start + 1] === -1 || candidate > score[start + 1]!) {
          score[start + 1] = candidate;
          from[start + 1] = start;
          nodeId[start + 1] = this.unkId;
        }
      }
    }
    const out: [string, number][] = [];
    for (let end = n; end > 0; end = from[end]!) out.push([chars.slice(from[end]!, end).join(''), nodeId[end]!]);
    return out.reverse();
  }

  /**
   * `bpe::Model::Encode`: start from characters (user-defined pieces whole and frozen), repeatedly
   * merge the adjacent pair whose concatenation is a piece with the highest score (leftmost on
   * ties), then split UNUSED pieces back into the pairs that made them.
   */
  private bpe(normalized: string): [string, number][] {
    const symbols: { text: string; prev: number; next: number; frozen: boolean }[] = [];
    const bytes = utf8.encode(normalized);
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    for (let at = 0; at < bytes.length; ) {
      const user = this.userDefinedAt(bytes, at);
      const n = user > 0 ? user : utf8Length(bytes[at]!);
      symbols.push({ text: decoder.decode(bytes.subarray(at, at + n)), prev: symbols.length - 1, next: -1, frozen: user > 0 });
      at += n;
    }
    symbols.forEach((s, i) => (s.next = i + 1 < symbols.length ? i + 1 : -1));
    // A binary max-heap of candidate pairs by (score desc, left asc); stale entries are skipped.
    type Pair = { left: number; right: number; score: number; text: string };
    const heap: Pair[] = [];
    const before = (a: Pair, b: Pair): boolean => a.score > b.score || (a.score === b.score && a.left < b.left);
    const push = (p: Pair): void => {
      heap.push(p);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!before(heap[i]!, heap[parent]!)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    };
    const pop = (): Pair => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
          if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m]!, heap[i]!];
          i = m;
        }
      }
      return top;
    };
    const revMerge = new Map<string, [string, string]>();
    const maybeAdd = (left: number, right: number): void => {
      if (left === -1 || right === -1 || symbols[left]!.frozen || symbols[right]!.frozen) return;
      const text = symbols[left]!.text + symbols[right]!.text;
      const id = this.pieceIds.get(text);
      if (id === undefined) return;
      push({ left, right, score: this.scores[id]!, text });
      if (this.types[id] === PieceType.Unused) revMerge.set(text, [symbols[left]!.text, symbols[right]!.text]);
    };
    for (let i = 1; i < symbols.length; i++) maybeAdd(i - 1, i);
    while (heap.length > 0) {
      const top = pop();
      const l = symbols[top.left]!;
      const r = symbols[top.right]!;
      if (l.text === '' || r.text === '' || l.text + r.text !== top.text) continue;
      l.text = top.text;
      l.next = r.next;
      if (r.next >= 0) symbols[r.next]!.prev = top.left;
      r.text = '';
      maybeAdd(l.prev, top.left);
      maybeAdd(top.left, l.next);
    }
    const out: [string, number][] = [];
    const resegment = (w: string): void => {
      const id = this.pieceIdOrUnk(w);
      const parts = this.types[id] === PieceType.Unused ? revMerge.get(w) : undefined;
      if (!parts) out.push([w, id]);
      else (resegment(parts[0]), resegment(parts[1]));
    };
    for (let i = symbols.length > 0 ? 0 : -1; i !== -1; i = symbols[i]!.next) resegment(symbols[i]!.text);
    return out;
  }

  private pieceIdOrUnk(piece: string): number {
    return this.allIds.get(piece) ?? this.unkId;
  }

  /**
   * Ids of the text, as spm_encode --output_format=id writes them. `allowedSpecial` and
   * `disallowedSpecial` are tiktoken options and are refused: SentencePiece never reads control
   * pieces from text.
   */
  encode(text: string, options: SentencePieceEncodeOptions = {}): number[] {
    if (options.allowedSpecial !== undefined || options.disallowedSpecial !== undefined) {
      throw new TokenizerError('encode', `${this.name}: allowedSpecial/disallowedSpecial are tiktoken options; SentencePiece never reads control pieces from text`);
    }
    const ids: number[] = [];
    const { bosId, eosId, byteFallback } = this.proto.trainerSpec;
    if (options.addBos) ids.push(this.checkedSpecial(bosId, 'bos'));
    let previousUnk = false;
    for (const [piece, id] of this.segment(this.normalize(text))) {
      const unk = id === this.unkId;
      if (unk && byteFallback) {
        for (const b of utf8.encode(piece)) ids.push(this.byteIds[b]!);
        previousUnk = false;
        continue;
      }
      // A run of unknowns is one <unk>, so the decoder can show it as one unknown span.
      if (!(unk && previousUnk)) ids.push(id);
      previousUnk = unk;
    }
    if (options.addEos) ids.push(this.checkedSpecial(eosId, 'eos'));
    return ids;
  }

  private checkedSpecial(id: number, what: string): number {
    if (id < 0 || id >= this.vocabSize) throw new TokenizerError('encode', `${this.name}: the model has no ${what} piece (${what}_id ${id})`);
    return id;
  }

  encodeBatch(texts: readonly string[], options: SentencePieceEncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  /** The pieces of the ids (`IdToPiece`). */
  idToPiece(id: number): string {
    this.checkId(id);
    return this.proto.pieces[id]!.piece;
  }

  pieceToId(piece: string): number {
    return this.pieceIdOrUnk(piece);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenizerError('decode', `id ${id} is outside the vocabulary (size ${this.vocabSize})`);
  }

  /**
   * `SentencePieceProcessor::Decode`: control pieces vanish, `<unk>` shows as the unk surface
   * (` ⁇ `), runs of byte pieces are decoded as UTF-8 (each bad byte becomes U+FFFD), `▁` becomes a
   * space and the first piece loses its leading `▁` when the model adds a dummy prefix (every
   * leading `▁` while the text is still empty, when it removes extra whitespace; 0.1.97's rule).
   */
  decode(ids: ArrayLike<number>): string {
    const { addDummyPrefix, removeExtraWhitespaces } = this.proto.normalizerSpec;
    let text = '';
    let bosSpaceSeen = false;
    let bytes: number[] = [];
    const flush = (): void => {
      if (bytes.length > 0) text += decodeByteRun(Uint8Array.from(bytes));
      bytes = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      this.checkId(id);
      const type = this.types[id]!;
      const piece = this.proto.pieces[id]!.piece;
      if (type === PieceType.Byte) {
        bytes.push(parseInt(piece.slice(3, 5), 16));
        continue;
      }
      flush();
      if (type === PieceType.Control) continue;
      if (type === PieceType.Unknown) {
        text += this.proto.trainerSpec.unkSurface;
        continue;
      }
      let p = piece;
      if (!bosSpaceSeen && text === '' && (addDummyPrefix || removeExtraWhitespaces) && p.startsWith(SPACE_SYMBOL)) {
        p = p.slice(1);
        // Removing extra whitespace strips every leading `▁`; otherwise only the dummy prefix.
        bosSpaceSeen = !removeExtraWhitespaces;
      }
      text += p.replaceAll(SPACE_SYMBOL, ' ');
    }
    flush();
    return text;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    return utf8.encode(this.decode(ids));
  }
}

/** Builds a tokenizer from the bytes of a SentencePiece `.model` file. */
export function sentencePieceFromBytes(bytes: Uint8Array, options: SentencePieceOptions = {}): SentencePieceTokenizer {
  return new SentencePieceTokenizer(parseSentencePieceModel(bytes), options);
}
