/**
 * The Unigram language model (Kudo 2018, "Subword Regularization"; SentencePiece's default):
 * every piece has a log-probability score and a word is split into the pieces whose scores sum
 * highest (Viterbi). Follows tokenizers `src/models/unigram/model.rs` (`encode_optimized`):
 * a character no piece covers becomes an unknown node scored `min score - 10`, consecutive
 * unknowns fuse into one, and with `byte_fallback` an unknown becomes its UTF-8 bytes as
 * `<0xXX>` pieces.
 */
import { TokenizerError } from './errors.js';
import type { TokenizerModel } from './model.js';

export interface UnigramOptions {
  /** [piece, score] in id order. */
  vocab: [string, number][];
  unkId?: number | null;
  byteFallback?: boolean;
}

/** What tokenizers charges an unknown character, below the least likely piece. */
const UNK_PENALTY = 10;

export class UnigramModel implements TokenizerModel {
  readonly vocabSize: number;
  private readonly pieces = new Map<string, number>();
  private readonly scores: number[];
  private readonly tokens: string[];
  readonly unkId: number | undefined;
  private readonly unkScore: number;
  /** The longest piece, in code points: no match can be longer. */
  private readonly maxPieceChars: number;
  private readonly byteFallback: boolean;

  constructor(options: UnigramOptions) {
    this.tokens = options.vocab.map(([t]) => t);
    this.scores = options.vocab.map(([, s]) => s);
    this.vocabSize = this.tokens.length;
    let maxChars = 1;
    this.tokens.forEach((t, id) => {
      if (!this.pieces.has(t)) this.pieces.set(t, id);
      maxChars = Math.max(maxChars, Array.from(t).length);
    });
    this.maxPieceChars = maxChars;
    this.unkId = options.unkId ?? undefined;
    if (this.unkId !== undefined && (this.unkId < 0 || this.unkId >= this.vocabSize)) {
      throw new TokenizerError('tokenizer.json', `Unigram unk_id ${this.unkId} is outside the vocabulary (size ${this.vocabSize})`);
    }
    this.unkScore = Math.min(...this.scores) - UNK_PENALTY;
    this.byteFallback = options.byteFallback ?? false;
  }

  tokenToId(token: string): number | undefined {
    return this.pieces.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  tokenize(word: string): number[] {
    const ids: number[] = [];
    for (const piece of this.viterbi(word)) {
      const id = this.pieces.get(piece);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      if (this.byteFallback) {
        const bytes = Array.from(new TextEncoder().encode(piece), (b) => this.pieces.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
        if (bytes.every((b) => b !== undefined)) {
          ids.push(...(bytes as number[]));
          continue;
        }
      }
      ids.push(this.unkId!);
    }
    return ids;
  }

  /** The best segmentation as piece strings; fused unknown stretches are returned as their text. */
  private viterbi(word: string): string[] {
    const chars = Array.from(word);
    const n = chars.length;
    // The best path over chars[0, i): its score, where its last piece starts, and that piece's id.
    const score = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const nodeId = new Int32Array(n + 1).fill(-1);
    for (let start = 0; start < n; start++) {
      const base = score[start]!;
      let hasSingle = false;
      let piece = '';
      for (let end = start + 1; end <= Math.min(n, start + this.maxPieceChars); end++) {
        piece += chars[end - 1];
        const id = this.pieces.get(piece);
        if (id === undefined) continue;
        const candidate = base + this.scores[id]!;
        if (from[end] === -1 || candidate > score[end]!) {
          score[end] = candidate;
          from[end] = start;
          nodeId[end] = id;
        }
        if (end === start + 1) hasSingle = true;
      }
      if (!hasSingle) {
        if (this.unkId === undefined) throw new TokenizerError('encode', `${JSON.stringify(chars[start])} is not in the Unigram vocabulary and the model has no unk_id`);
        const candidate = base + this.unkScore;
        if (from[start + 1] === -1 || candidate > score[start + 1]!) {
          score[start + 1] = candidate;
          from[start + 1] = start;
          nodeId[start + 1] = this.unkId;
        }
      }
    }
    const pieces: string[] = [];
    let previousUnknown = false;
    for (let end = n; end > 0; end = from[end]!) {
      const text = chars.slice(from[end]!, end).join('');
      // As tokenizers does, a node is unknown by its id, so the unk piece itself fuses too.
      const isUnknown = this.unkId !== undefined && nodeId[end] === this.unkId;
      // Walking backwards: an unknown to the left of an unknown joins it.
      if (isUnknown && previousUnknown) pieces[pieces.length - 1] = text + pieces[pieces.length - 1];
      else pieces.push(text);
      previousUnknown = isUnknown;
    }
    return pieces.reverse();
  }
}
