/**
 * Unigram language-model training (Kudo 2018, "Subword Regularization"), following SentencePiece's
 * `unigram_model_trainer.cc` step by step:
 *
 *  1. Characters: count them; the most frequent ones covering `characterCoverage` of the text
 *     (default 0.9995) are required and always end up in the vocabulary; the rest become unknown.
 *  2. Seed pieces: frequent substrings, scored by frequency x length, the `seedSize` best (1M).
 *     SentencePiece finds them with an enhanced suffix array (esaxx): every internal node of the
 *     suffix tree, i.e. every substring that occurs at least twice and is right-branching (followed
 *     by two different characters somewhere). Because a piece may not cross a word boundary (`▁`
 *     only at the start), the same set can be counted exactly word by word: we enumerate the
 *     substrings (up to `maxPieceLength` characters) of each distinct word weighted by the word's
 *     count and keep those that occur twice and are followed by at least two different
 *     continuations (a character, or the end of the word). Substrings mixing Unicode scripts, or
 *     digits with anything else, or holding an unknown character, are not valid pieces.
 *  3. EM: the E-step runs forward-backward over each word's lattice of pieces (log space) and
 *     accumulates each piece's expected count times the word's count; the M-step drops pieces
 *     expected fewer than 0.5 times and sets score = digamma(count) - digamma(total) (the Bayesian
 *     "DP" EM SentencePiece uses as a sparse prior). Two sub-iterations per round.
 *  4. Pruning: for each piece, its best segmentation without itself is its replacement; the loss of
 *     removing it is freq x (log p(piece) - sum log p'(replacement pieces)) with the frequencies
 *     re-assigned; pieces whose own Viterbi path is split, or that no Viterbi path uses, go at once;
 *     the rest are kept by loss down to max(1.1 x vocabSize, shrinkingFactor x size).
 *  5. Rounds of 3-4 until at most 1.1 x vocabSize pieces remain; then the required characters
 *     (given the lowest scores if they were pruned) and the best-scoring pieces fill the vocabulary.
 *
 * Training words come from the same normalizer and pre-tokenizer the tokenizer.json gets (NFKC,
 * whitespace runs collapsed and trimmed, Metaspace `▁`), so the trained model sees at encode time
 * exactly the words it was trained on. Words longer than 4192 characters are skipped, as
 * SentencePiece skips sentences longer than max_sentence_length.
 */
import type { TrainProgress } from './bpe-trainer.js';
import { TokenizerError } from './errors.js';
import { normalizerFromJson } from './normalizers.js';
import { preTokenizerFromJson, tiktokenPatternToJs } from './pre-tokenizers.js';
import { WordCounts, type WordCountOptions } from './word-counts.js';

export interface UnigramTrainOptions {
  /** Vocabulary size, special tokens included. */
  vocabSize: number;
  /** Placed first with score 0; default <unk> <s> </s> (SentencePiece's meta pieces). */
  specialTokens?: string[];
  /** The unknown token (default <unk>); must be among the special tokens. */
  unkToken?: string;
  /** Fraction of the characters (by count) that must be in the vocabulary (default 0.9995). */
  characterCoverage?: number;
  /** Longest piece in characters (default 16). */
  maxPieceLength?: number;
  /** Seed substrings kept (default 1,000,000). */
  seedSize?: number;
  /** Keep this fraction of the pieces at each pruning (default 0.75). */
  shrinkingFactor?: number;
  /** EM iterations between prunings (default 2). */
  subIterations?: number;
  onProgress?: (p: TrainProgress) => void;
}

export interface UnigramTrainResult {
  /** [piece, log-probability score] in id order; special tokens first with score 0. */
  pieces: [string, number][];
  unkId: number;
  options: Required<Omit<UnigramTrainOptions, 'onProgress'>>;
  /** Per round: pieces before pruning, EM objective (negative mean log-likelihood per word) and Viterbi tokens. */
  rounds: { size: number; objective: number; tokens: number }[];
}

const WS = 0x2581; // ▁
const MAX_WORD_CHARS = 4192;
const UNK_PENALTY = 10;

function resolve(options: UnigramTrainOptions): UnigramTrainResult['options'] {
  const o = {
    vocabSize: options.vocabSize,
    specialTokens: options.specialTokens ?? ['<unk>', '<s>', '</s>'],
    unkToken: options.unkToken ?? '<unk>',
    characterCoverage: options.characterCoverage ?? 0.9995,
    maxPieceLength: options.maxPieceLength ?? 16,
    seedSize: options.seedSize ?? 1_000_000,
    shrinkingFactor: options.shrinkingFactor ?? 0.75,
    subIterations: options.subIterations ?? 2,
  };
  const fail = (m: string): never => {
    throw new TokenizerError('trainUnigram', m);
  };
  if (o.vocabSize !== Infinity && (!Number.isInteger(o.vocabSize) || o.vocabSize <= o.specialTokens.length)) fail(`vocabSize must be an integer larger than the ${o.specialTokens.length} special tokens, got ${o.vocabSize}`);
  if (!o.specialTokens.includes(o.unkToken)) fail(`the unknown token ${JSON.stringify(o.unkToken)} must be one of the special tokens (${o.specialTokens.join(' ')})`);
  if (new Set(o.specialTokens).size !== o.specialTokens.length) fail(`special tokens repeat: ${o.specialTokens.join(' ')}`);
  if (!(o.characterCoverage > 0 && o.characterCoverage <= 1)) fail(`characterCoverage must be in (0, 1], got ${o.characterCoverage}`);
  if (!(o.shrinkingFactor > 0 && o.shrinkingFactor < 1)) fail(`shrinkingFactor must be in (0, 1), got ${o.shrinkingFactor}`);
  if (!(Number.isInteger(o.maxPieceLength) && o.maxPieceLength >= 1)) fail(`maxPieceLength must be a positive integer, got ${o.maxPieceLength}`);
  if (!(Number.isInteger(o.subIterations) && o.subIterations >= 1)) fail(`subIterations must be a positive integer, got ${o.subIterations}`);
  if (!(Number.isInteger(o.seedSize) && o.seedSize >= 1)) fail(`seedSize must be a positive integer, got ${o.seedSize}`);
  return o;
}

/** The normalizer, pre-tokenizer and decoder of the tokenizer.json (SentencePiece-like), used for training too. */
const PIPELINE = {
  normalizer: {
    type: 'Sequence',
    normalizers: [
      { type: 'NFKC' },
      { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
      { type: 'Strip', strip_left: true, strip_right: true },
    ],
  },
  pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
  decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
};

/** A word counter with the Unigram tokenizer's normalizer and pre-tokenizer (for streaming input). */
export function unigramWordCounts(countOptions: WordCountOptions = {}): WordCounts {
  const normalize = normalizerFromJson(PIPELINE.normalizer, tiktokenPatternToJs)!;
  const preTokenize = preTokenizerFromJson(PIPELINE.pre_tokenizer)!;
  return new WordCounts((text) => {
    const t = normalize(text);
    return t === '' ? [] : preTokenize([{ text: t, atStart: true }]).map((p) => p.text);
  }, countOptions);
}

// Unicode scripts for piece validity (SentencePiece's unicode_script: a piece holds one script;
// Hiragana and Katakana count as Han; digits are a class of their own, split_by_number).
const SCRIPTS = [
  'Latin', 'Greek', 'Cyrillic', 'Armenian', 'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Devanagari', 'Bengali', 'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil',
  'Telugu', 'Kannada', 'Malayalam', 'Sinhala', 'Thai', 'Lao', 'Tibetan', 'Myanmar', 'Georgian', 'Hangul', 'Ethiopic', 'Cherokee', 'Khmer', 'Mongolian',
  'Han', 'Bopomofo', 'Inherited', 'Common',
].map((name) => new RegExp(`^\\p{Script=${name}}$`, 'u'));
const HAN = SCRIPTS.findIndex((r) => r.source.includes('Han}'));
const KANA = /^[\p{Script=Hiragana}\p{Script=Katakana}\u30fc]$/u;
const DIGIT = /^\p{Nd}$/u;
const scriptCache = new Map<number, number>();
function scriptOf(cp: number): number {
  let s = scriptCache.get(cp);
  if (s === undefined) {
    const c = String.fromCodePoint(cp);
    if (DIGIT.test(c)) s = -2;
    else if (KANA.test(c)) s = HAN;
    else {
      s = SCRIPTS.findIndex((r) => r.test(c));
      if (s < 0) s = SCRIPTS.length; // other scripts share one class
    }
    scriptCache.set(cp, s);
  }
  return s;
}

/** log(exp(a) + exp(b)) without overflow. */
function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** SentencePiece's Digamma (asymptotic series after shifting x above 7). */
function digamma(x: number): number {
  let result = 0;
  for (; x < 7; ++x) result -= 1 / x;
  x -= 0.5;
  const xx = 1 / x;
  const xx2 = xx * xx;
  const xx4 = xx2 * xx2;
  return result + Math.log(x) + xx2 / 24 - (7 / 960) * xx4 + (31 / 8064) * xx4 * xx2 - (127 / 30720) * xx4 * xx4;
}

/** A piece set with a code-point trie (edges in one numeric map) for lattice building. */
class PieceSet {
  readonly texts: string[];
  readonly scores: Float64Array;
  readonly minScore: number;
  private readonly edges = new Map<number, number>();
  private readonly nodePiece: number[] = [-1];

  constructor(pieces: [string, number][]) {
    this.texts = pieces.map(([t]) => t);
    this.scores = Float64Array.from(pieces, ([, s]) => s);
    let min = Infinity;
    for (const s of this.scores) min = Math.min(min, s);
    this.minScore = min;
    pieces.forEach(([t], id) => {
      let node = 0;
      for (const ch of t) {
        const key = node * 0x110000 + ch.codePointAt(0)!;
        let next = this.edges.get(key);
        if (next === undefined) {
          next = this.nodePiece.length;
          this.nodePiece.push(-1);
          this.edges.set(key, next);
        }
        node = next;
      }
      this.nodePiece[node] = id;
    });
  }

  get size(): number {
    return this.texts.length;
  }

  /**
   * The lattice of `cps`: nodes (start, end, piece id or -1 for unknown) in order of start. A
   * position no one-character piece covers gets an unknown node (score minScore - 10). With
   * `exclude`, the node spanning the whole word with that id is left out.
   */
  lattice(cps: ArrayLike<number>, maxLen: number, out: Lattice, exclude = -1): void {
    const n = cps.length;
    out.count = 0;
    for (let i = 0; i < n; i++) {
      let node = 0;
      let single = false;
      for (let j = i; j < n && j - i < maxLen; j++) {
        const next = this.edges.get(node * 0x110000 + cps[j]!);
        if (next === undefined) break;
        node = next;
        const id = this.nodePiece[node]!;
        if (id < 0) continue;
        if (j === i) single = true;
        if (id === exclude && i === 0 && j === n - 1) continue;
        out.push(i, j + 1, id, this.scores[id]!);
      }
      if (!single) out.push(i, i + 1, -1, this.minScore - UNK_PENALTY);
    }
  }
}

/** Lattice nodes in flat typed arrays, reused across words. */
class Lattice {
  count = 0;
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);
  ids = new Int32Array(1024);
  scores = new Float64Array(1024);
  push(s: number, e: number, id: number, score: number): void {
    if (this.count === this.starts.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
      this.ids = grow(this.ids);
      this.scores = grow(this.scores);
    }
    const k = this.count++;
    this.starts[k] = s;
    this.ends[k] = e;
    this.ids[k] = id;
    this.scores[k] = score;
  }

  /** The best path over positions 0..n as node indices, and its score; null if none. */
  viterbi(n: number, best: Float64Array, back: Int32Array): { nodes: number[]; score: number } | null {
    best.fill(-Infinity, 0, n + 1);
    best[0] = 0;
    for (let k = 0; k < this.count; k++) {
      const s = this.starts[k]!;
      if (best[s] === -Infinity) continue;
      const e = this.ends[k]!;
      const v = best[s]! + this.scores[k]!;
      if (v > best[e]!) {
        best[e] = v;
        back[e] = k;
      }
    }
    if (best[n] === -Infinity) return null;
    const nodes: number[] = [];
    for (let p = n; p > 0; p = this.starts[back[p]!]!) nodes.push(back[p]!);
    return { nodes: nodes.reverse(), score: best[n]! };
  }
}

export function trainUnigram(input: Iterable<string> | WordCounts, options: UnigramTrainOptions): UnigramTrainResult {
  const o = resolve(options);
  if (!Number.isFinite(o.vocabSize)) throw new TokenizerError('trainUnigram', `vocabSize must be finite, got ${o.vocabSize}`);
  const progress = options.onProgress ?? (() => {});
  let counts: WordCounts;
  if (input instanceof WordCounts) counts = input;
  else {
    counts = unigramWordCounts({ maxWords: Infinity });
    for (const t of input) counts.addDocument(t);
  }

  // Words as code points, with their counts.
  const words: Int32Array[] = [];
  const freqs: number[] = [];
  for (const [w, c] of counts.counts) {
    const cps = Int32Array.from(w, (ch) => ch.codePointAt(0)!);
    if (cps.length === 0 || cps.length > MAX_WORD_CHARS) continue;
    words.push(cps);
    freqs.push(c);
  }
  if (words.length === 0) throw new TokenizerError('trainUnigram', 'no training text (every line was empty after normalization)');

  // 1. Required characters by coverage.
  const charCounts = new Map<number, number>();
  let allChars = 0;
  words.forEach((cps, w) => {
    for (const cp of cps) charCounts.set(cp, (charCounts.get(cp) ?? 0) + freqs[w]!);
    allChars += cps.length * freqs[w]!;
  });
  const sortedChars = [...charCounts].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const required = new Map<number, number>();
  let covered = 0;
  for (const [cp, c] of sortedChars) {
    if (covered / allChars >= o.characterCoverage) break;
    required.set(cp, c);
    covered += c;
  }

  if (required.size + o.specialTokens.length > o.vocabSize) {
    throw new TokenizerError(
      'trainUnigram',
      `vocabSize ${o.vocabSize} cannot hold the ${required.size} characters (▁ included) that characterCoverage ${o.characterCoverage} requires plus ${o.specialTokens.length} special tokens; raise vocabSize or lower characterCoverage`,
    );
  }

  // 2. Seed pieces: right-branching substrings seen at least twice, scored by frequency x length.
  progress({ phase: 'seed', done: 0, total: 1 });
  const subCount = new Map<string, number>();
  /** The continuation seen so far (code point, -1 for the end of the word), or -2 once two differ. */
  const subNext = new Map<string, number>();
  const subLen = new Map<string, number>();
  words.forEach((cps, w) => {
    const f = freqs[w]!;
    const n = cps.length;
    for (let i = 0; i < n; i++) {
      const first = cps[i]!;
      if (!required.has(first)) continue;
      let script = first === WS ? -3 : scriptOf(first);
      let s = String.fromCodePoint(first);
      for (let j = i + 1; j < n && j - i < o.maxPieceLength; j++) {
        const cp = cps[j]!;
        if (cp === WS || !required.has(cp)) break;
        const sc = scriptOf(cp);
        if (script !== -3 && sc !== script) break;
        script = sc;
        s += String.fromCodePoint(cp);
        subCount.set(s, (subCount.get(s) ?? 0) + f);
        const next = j + 1 < n ? cps[j + 1]! : -1;
        const seen = subNext.get(s);
        if (seen === undefined) {
          subNext.set(s, next);
          subLen.set(s, j - i + 1);
        } else if (seen !== next && seen !== -2) subNext.set(s, -2);
      }
    }
  });
  const candidates: [string, number][] = [];
  for (const [s, c] of subCount) if (c >= 2 && subNext.get(s) === -2) candidates.push([s, c * subLen.get(s)!]);
  subCount.clear();
  subNext.clear();
  subLen.clear();
  candidates.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const seeds: [string, number][] = [...required].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([cp, c]) => [String.fromCodePoint(cp), c]);
  for (const [s, score] of candidates.slice(0, o.seedSize)) seeds.push([s, score]);
  // ToLogProb: characters by count, substrings by their score.
  const seedSum = seeds.reduce((a, [, v]) => a + v, 0);
  let pieces: [string, number][] = seeds.map(([s, v]) => [s, Math.log(v) - Math.log(seedSum)]);
  progress({ phase: 'seed', done: 1, total: 1, info: `${pieces.length} seed pieces` });

  const maxWordLen = words.reduce((m, w) => Math.max(m, w.length), 0);
  const lattice = new Lattice();
  const alpha = new Float64Array(maxWordLen + 1);
  const beta = new Float64Array(maxWordLen + 1);
  const back = new Int32Array(maxWordLen + 1);
  const allFreq = freqs.reduce((a, b) => a + b, 0);

  const eStep = (set: PieceSet): { expected: Float64Array; objective: number; tokens: number } => {
    const expected = new Float64Array(set.size);
    let objective = 0;
    let tokens = 0;
    for (let w = 0; w < words.length; w++) {
      const cps = words[w]!;
      const f = freqs[w]!;
      const n = cps.length;
      set.lattice(cps, o.maxPieceLength, lattice);
      const { starts, ends, scores, ids } = lattice;
      alpha.fill(-Infinity, 0, n + 1);
      beta.fill(-Infinity, 0, n + 1);
      alpha[0] = 0;
      beta[n] = 0;
      for (let k = 0; k < lattice.count; k++) alpha[ends[k]!] = logAdd(alpha[ends[k]!]!, alpha[starts[k]!]! + scores[k]!);
      for (let k = lattice.count - 1; k >= 0; k--) beta[starts[k]!] = logAdd(beta[starts[k]!]!, scores[k]! + beta[ends[k]!]!);
      const z = alpha[n]!;
      for (let k = 0; k < lattice.count; k++) {
        const id = ids[k]!;
        if (id >= 0) expected[id] += f * Math.exp(alpha[starts[k]!]! + scores[k]! + beta[ends[k]!]! - z);
      }
      objective -= (z * f) / allFreq;
      tokens += (lattice.viterbi(n, alpha, back)?.nodes.length ?? 0) * f;
    }
    return { expected, objective, tokens };
  };

  const mStep = (set: PieceSet, expected: Float64Array): [string, number][] => {
    const kept: [string, number][] = [];
    let sum = 0;
    for (let i = 0; i < set.size; i++) {
      if (expected[i]! < 0.5) continue;
      kept.push([set.texts[i]!, expected[i]!]);
      sum += expected[i]!;
    }
    const logSum = digamma(sum);
    return kept.map(([t, c]) => [t, digamma(c) - logSum]);
  };

  const prune = (set: PieceSet): [string, number][] => {
    const size = set.size;
    const alwaysKeep = new Uint8Array(size).fill(1);
    const alternatives: (number[] | null)[] = new Array(size).fill(null);
    const pieceCps = new Int32Array(o.maxPieceLength);
    const pb = new Float64Array(o.maxPieceLength + 1);
    const pk = new Int32Array(o.maxPieceLength + 1);
    for (let i = 0; i < size; i++) {
      let n = 0;
      for (const ch of set.texts[i]!) pieceCps[n++] = ch.codePointAt(0)!;
      const cps = pieceCps.subarray(0, n);
      set.lattice(cps, o.maxPieceLength, lattice, i);
      const alt = lattice.viterbi(n, pb, pk);
      if (!alt) continue; // no other segmentation: always keep
      if (alt.score > set.scores[i]!) {
        alwaysKeep[i] = 0; // its own Viterbi path is split: removable
        continue;
      }
      const altIds = alt.nodes.map((k) => lattice.ids[k]!);
      if (altIds.includes(-1)) continue; // only through unknown characters: keep
      alternatives[i] = altIds;
    }
    // Viterbi frequencies over the corpus.
    const freq = new Float64Array(size);
    let vsum = 0;
    for (let w = 0; w < words.length; w++) {
      const cps = words[w]!;
      set.lattice(cps, o.maxPieceLength, lattice);
      const best = lattice.viterbi(cps.length, alpha, back);
      vsum += freqs[w]!;
      if (best) for (const k of best.nodes) if (lattice.ids[k]! >= 0) freq[lattice.ids[k]!] += freqs[w]!;
    }
    let sum = 0;
    for (const f of freq) sum += f;
    const logSum = Math.log(sum);
    const kept: [string, number][] = [];
    const lossOf: [number, number][] = [];
    for (let i = 0; i < size; i++) {
      if (freq[i] === 0 || !alwaysKeep[i]) continue;
      const alt = alternatives[i];
      if (!alt) {
        kept.push([set.texts[i]!, set.scores[i]!]);
        continue;
      }
      const f = freq[i]! / vsum;
      const logProb = Math.log(freq[i]!) - logSum;
      const logSumAlt = Math.log(sum + freq[i]! * (alt.length - 1));
      let logProbAlt = 0;
      for (const a of alt) logProbAlt += Math.log(freq[a]! + freq[i]!) - logSumAlt;
      lossOf.push([i, f * (logProb - logProbAlt)]);
    }
    const prunedSize = Math.max(desired, Math.floor(o.shrinkingFactor * size));
    lossOf.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    for (const [i] of lossOf) {
      if (kept.length >= prunedSize) break;
      kept.push([set.texts[i]!, set.scores[i]!]);
    }
    return kept;
  };

  const metaCount = o.specialTokens.length;
  const desired = Math.floor(o.vocabSize * 1.1);
  const rounds: UnigramTrainResult['rounds'] = [];
  const estimatedRounds = Math.max(1, Math.ceil(Math.log(desired / pieces.length) / Math.log(o.shrinkingFactor)) + 1);
  let set = new PieceSet(pieces);
  for (let round = 0; ; round++) {
    let last = { objective: 0, tokens: 0 };
    for (let it = 0; it < o.subIterations; it++) {
      const { expected, objective, tokens } = eStep(set);
      last = { objective, tokens };
      set = new PieceSet(mStep(set, expected));
    }
    rounds.push({ size: set.size, ...last });
    progress({ phase: 'em', done: Math.min(round + 1, estimatedRounds), total: estimatedRounds, info: `${set.size} pieces, ${(last.tokens / allFreq).toFixed(3)} tokens/word` });
    if (set.size <= desired) {
      progress({ phase: 'em', done: estimatedRounds, total: estimatedRounds, info: `${set.size} pieces after ${round + 1} rounds` });
      break;
    }
    const pruned = prune(set);
    if (pruned.length === set.size) {
      // Everything left is needed (characters without alternatives): pruning cannot shrink it further.
      progress({ phase: 'em', done: estimatedRounds, total: estimatedRounds, info: `${set.size} pieces after ${round + 1} rounds` });
      break;
    }
    set = new PieceSet(pruned);
  }

  // 5. Required characters, then the best pieces, up to vocabSize - special tokens.
  const scoreOf = new Map(set.texts.map((t, i) => [t, set.scores[i]!]));
  const final = new Map<string, number>();
  let penalty = 0;
  for (const [cp] of [...required].sort((a, b) => b[1] - a[1] || a[0] - b[0])) {
    const s = String.fromCodePoint(cp);
    const score = scoreOf.get(s);
    if (score !== undefined) final.set(s, score);
    else {
      final.set(s, set.minScore + penalty);
      penalty += 0.0001;
    }
  }
  const byScore = (a: [string, number], b: [string, number]): number => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  for (const [t, s] of [...scoreOf].sort(byScore)) {
    if (final.size >= o.vocabSize - metaCount) break;
    if (!final.has(t)) final.set(t, s);
  }
  const specials = new Set(o.specialTokens);
  const body = [...final].filter(([t]) => !specials.has(t)).sort(byScore);
  pieces = [...o.specialTokens.map((t): [string, number] => [t, 0]), ...body];
  return { pieces, unkId: o.specialTokens.indexOf(o.unkToken), options: o, rounds };
}

/** The trained Unigram tokenizer as a tokenizer.json (NFKC + whitespace, Metaspace, Unigram). */
export function unigramTokenizerJson(trained: UnigramTrainResult): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: trained.options.specialTokens.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: PIPELINE.normalizer,
    pre_tokenizer: PIPELINE.pre_tokenizer,
    post_processor: null,
    decoder: PIPELINE.decoder,
    model: { type: 'Unigram', unk_id: trained.unkId, vocab: trained.pieces, byte_fallback: false },
  };
}
