/**
 * Byte-pair merging by rank, the core of byte-level BPE (GPT-2, tiktoken encodings).
 *
 * Follows tiktoken: `_educational.py` (`bpe_encode`) for the readable version and `src/lib.rs`
 * (`_byte_pair_merge`) for the rule both versions must obey: within one pre-token, repeatedly
 * merge the adjacent pair of parts whose concatenated bytes have the lowest rank in the vocabulary;
 * on a tie, the leftmost pair wins; stop when no adjacent pair is in the vocabulary. The ids are
 * then the ranks of the final parts. (GPT-2's `encoder.json` + `vocab.bpe` reduce to the same rule:
 * the rank of a merged token is its merge's priority, see vocab-files.ts.)
 *
 * Bytes are carried as "byte strings": JS strings whose char codes are the bytes 0..255 (latin1).
 * Slices of such a string are cheap Map keys, which is why ranks are keyed by them.
 */

/** Token bytes (as a byte string) -> rank, which is also the token id. */
export type Ranks = ReadonlyMap<string, number>;

import { TokenizerError } from './errors.js';

function rankOf(ranks: Ranks, piece: string): number {
  const r = ranks.get(piece);
  if (r === undefined) throw new TokenizerError('encode', `the byte ${piece.charCodeAt(0)} has no rank; a byte-level vocabulary must rank all 256 single bytes`);
  return r;
}

/**
 * The readable algorithm (tiktoken `_educational.py`): scan all adjacent pairs, merge the
 * lowest-ranked one, repeat. O(n^2) in the pre-token's length; kept as the oracle for the fast path.
 */
export function bytePairMergeReference(piece: string, ranks: Ranks): number[] {
  let parts: string[] = Array.from(piece, (c) => c);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(parts[i]! + parts[i + 1]!);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)];
  }
  return parts.map((p) => rankOf(ranks, p));
}

/**
 * A binary min-heap of candidate merges ordered by (rank, start). Entries are packed in parallel
 * arrays instead of objects because a long pre-token pushes one entry per merge.
 */
class MergeHeap {
  private rank: number[] = [];
  private start: number[] = [];
  private end: number[] = [];
  /** The last popped entry (read right after `pop`, so popping allocates nothing). */
  topRank = 0;
  topStart = 0;
  topEnd = 0;
  get size(): number {
    return this.rank.length;
  }
  push(rank: number, start: number, end: number): void {
    // Sift the hole up from the end, moving parents down, and write the entry once where it lands.
    let i = this.rank.length;
    this.rank.push(rank);
    this.start.push(start);
    this.end.push(end);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pr = this.rank[p]!;
      if (!(rank < pr || (rank === pr && start < this.start[p]!))) break;
      this.rank[i] = pr;
      this.start[i] = this.start[p]!;
      this.end[i] = this.end[p]!;
      i = p;
    }
    this.rank[i] = rank;
    this.start[i] = start;
    this.end[i] = end;
  }
  /** Removes the minimum into topRank / topStart / topEnd. */
  pop(): void {
    this.topRank = this.rank[0]!;
    this.topStart = this.start[0]!;
    this.topEnd = this.end[0]!;
    const rank = this.rank.pop()!;
    const start = this.start.pop()!;
    const end = this.end.pop()!;
    const n = this.rank.length;
    if (n === 0) return;
    // Sift the last entry down from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let m = l;
      const r = l + 1;
      if (r < n && (this.rank[r]! < this.rank[l]! || (this.rank[r] === this.rank[l] && this.start[r]! < this.start[l]!))) m = r;
      const mr = this.rank[m]!;
      if (!(mr < rank || (mr === rank && this.start[m]! < start))) break;
      this.rank[i] = mr;
      this.start[i] = this.start[m]!;
      this.end[i] = this.end[m]!;
      i = m;
    }
    this.rank[i] = rank;
    this.start[i] = start;
    this.end[i] = end;
  }
}

/**
 * The fast path: the same merges in O(n log n). Parts form a linked list over byte positions
 * (`next[start]` is where the following part starts); every adjacent pair in the vocabulary sits in
 * a heap keyed by (rank, start), which reproduces the reference's "lowest rank, then leftmost"
 * choice. Merging invalidates the neighbours' entries lazily: an entry is stale when its left part
 * is gone or no longer ends where the entry says, and is skipped when popped.
 */
export function bytePairMerge(piece: string, ranks: Ranks): number[] {
  const n = piece.length;
  if (n === 1) return [rankOf(ranks, piece)];
  // next[i] = start of the part after the part starting at i (n at the end); -1 once merged away.
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  const heap = new MergeHeap();
  const pushPair = (left: number): void => {
    const mid = next[left]!;
    if (mid >= n) return;
    const end = next[mid]!;
    const r = ranks.get(piece.slice(left, end));
    if (r !== undefined) heap.push(r, left, end);
  };
  for (let i = 0; i + 1 < n; i++) pushPair(i);
  while (heap.size > 0) {
    heap.pop();
    const left = heap.topStart;
    const end = heap.topEnd;
    if (next[left] === -1) continue; // left part was merged into its neighbour
    const mid = next[left]!;
    if (mid >= n || next[mid] !== end) continue; // the pair changed since this entry was pushed
    // Merge: the part at `left` now spans to `end`.
    next[left] = end;
    next[mid] = -1;
    if (end < n) prev[end] = left;
    if (prev[left]! >= 0) pushPair(prev[left]!);
    pushPair(left);
  }
  const ids: number[] = [];
  for (let i = 0; i < n; i = next[i]!) ids.push(rankOf(ranks, piece.slice(i, next[i]!)));
  return ids;
}

/** A merge of two symbol ids: its priority (lower merges first) and the id of the merged symbol. */
export interface Merge {
  rank: number;
  id: number;
}

/** The key of the pair (left, right) in a merges table. */
export const pairKey = (left: number, right: number): number => left * 0x200000 + right;

/**
 * Hugging Face BPE's merge loop (tokenizers `models/bpe/word.rs` `Word::merge_all`): like
 * `bytePairMerge`, lowest (rank, position) first, but a pair merges only if it is listed in the
 * merges table, not whenever its concatenation is in the vocabulary. Entries go stale as
 * neighbours merge; one is still good when the pair now at its position has the entry's rank
 * (ranks are unique per pair, so that is the same pair).
 */
export function mergeSymbols(symbols: number[], merges: ReadonlyMap<number, Merge>): number[] {
  const n = symbols.length;
  if (n < 2) return symbols;
  const sym = symbols.slice();
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  const heap = new MergeHeap();
  const pushPair = (left: number): void => {
    const right = next[left]!;
    if (right >= n) return;
    const m = merges.get(pairKey(sym[left]!, sym[right]!));
    if (m) heap.push(m.rank, left, right);
  };
  for (let i = 0; i + 1 < n; i++) pushPair(i);
  while (heap.size > 0) {
    heap.pop();
    const rank = heap.topRank;
    const left = heap.topStart;
    if (next[left] === -1 || next[left]! >= n) continue;
    const right = next[left]!;
    const m = merges.get(pairKey(sym[left]!, sym[right]!));
    if (!m || m.rank !== rank) continue;
    sym[left] = m.id;
    next[left] = next[right]!;
    next[right] = -1;
    if (next[left]! < n) prev[next[left]!] = left;
    if (prev[left]! >= 0) pushPair(prev[left]!);
    pushPair(left);
  }
  const out: number[] = [];
  for (let i = 0; i < n; i = next[i]!) out.push(sym[i]!);
  return out;
}
