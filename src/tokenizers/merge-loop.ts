/**
 * The merge loop shared by the BPE and WordPiece trainers (Hugging Face tokenizers
 * `models/bpe/trainer.rs` for the scheme): count every adjacent pair of symbols once, weighted by
 * how often its word occurs; then repeatedly take the pair with the highest count (ties: the
 * smaller `pairKey`), merge it in the words that hold it, and update the counts of those words'
 * pairs only. A max-heap with lazy invalidation picks the pair: a pair whose count changed gets a
 * fresh entry, and an entry whose count is no longer the pair's is skipped when popped.
 *
 * Every structure is a typed array: words are one array of symbol ids, merged in place; pairs get
 * dense ids from an open-addressing table keyed by (left, right), which holds their counts and,
 * per pair, a linked list of the words that hold it (an inverted index, so a merge visits only
 * those). The counts are always what a recount would give (each merge changes the pairs on either
 * side of it), so the merges are those of `trainBpeReference`, which the tests check.
 */

/** A distinct pre-token as symbol ids, with how often it occurs. */
export interface Word {
  symbols: number[];
  count: number;
}

/** Words as one array of symbols: word w is symbols[offsets[w] .. offsets[w + 1]), seen counts[w] times. */
export interface PackedWords {
  symbols: Int32Array;
  offsets: Int32Array;
  counts: Float64Array;
}

export interface MergeLoop {
  /** Stop when the most frequent pair occurs fewer times than this. */
  minFrequency: number;
  /** True when the vocabulary is complete. */
  full(): boolean;
  /** The id of the token that (left, right) merge into (a new one, or an existing one with the same text). */
  merge(left: number, right: number): number;
  /** Called after each merge. */
  merged?(): void;
}

/** `Word`s as `PackedWords` (copied). */
export function packWords(words: readonly Word[]): PackedWords {
  const offsets = new Int32Array(words.length + 1);
  const counts = new Float64Array(words.length);
  words.forEach((w, i) => {
    offsets[i + 1] = offsets[i]! + w.symbols.length;
    counts[i] = w.count;
  });
  const symbols = new Int32Array(offsets[words.length]!);
  words.forEach((w, i) => symbols.set(w.symbols, offsets[i]));
  return { symbols, offsets, counts };
}

/** The tie rule's order: the smaller key wins (tokenizers compares the pairs (left, right)). */
const pairKey = (left: number, right: number): number => left * 0x200000 + right;

/** Pair (left, right) -> dense id, with per pair: its count and the list of words that hold it. */
class Pairs {
  size = 0;
  left: Int32Array;
  right: Int32Array;
  count: Float64Array;
  /** First node of the pair's word list, -1 when empty. Lists may hold words that lost the pair since. */
  head: Int32Array;
  /** The word last added to the pair's list (so a word is listed once however often it holds the pair). */
  lastWord: Int32Array;
  /** The merge step in which the count last changed, and the count before that step. */
  stamp: Int32Array;
  before: Float64Array;
  /** Word-list nodes: the word and the next node (-1 ends the list). */
  nodeWord: Int32Array;
  nodeNext: Int32Array;
  nodes = 0;
  /** Pair id + 1, or 0 for an empty slot. */
  private slots: Int32Array;

  constructor(expected: number) {
    let cap = 1024;
    while (cap < expected) cap *= 2;
    this.left = new Int32Array(cap);
    this.right = new Int32Array(cap);
    this.count = new Float64Array(cap);
    this.head = new Int32Array(cap).fill(-1);
    this.lastWord = new Int32Array(cap).fill(-1);
    this.stamp = new Int32Array(cap);
    this.before = new Float64Array(cap);
    this.slots = new Int32Array(cap * 2);
    this.nodeWord = new Int32Array(cap);
    this.nodeNext = new Int32Array(cap);
  }

  private static hash(left: number, right: number): number {
    let h = Math.imul(left, 0x9e3779b1) ^ right;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    return h ^ (h >>> 13);
  }

  /** The id of (left, right), made (with count 0) if the pair is new. */
  id(left: number, right: number): number {
    const mask = this.slots.length - 1;
    for (let s = Pairs.hash(left, right) & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s]!;
      if (e === 0) {
        const id = this.size++;
        if (id === this.left.length) this.grow();
        this.left[id] = left;
        this.right[id] = right;
        this.slots[s] = id + 1;
        if (2 * this.size > this.slots.length) this.rehash();
        return id;
      }
      if (this.left[e - 1] === left && this.right[e - 1] === right) return e - 1;
    }
  }

  /** Lists word `w` under pair `p` unless it was the last word listed there. */
  link(p: number, w: number): void {
    if (this.lastWord[p] === w) return;
    this.lastWord[p] = w;
    const node = this.nodes++;
    if (node === this.nodeWord.length) {
      this.nodeWord = grown(this.nodeWord, 0);
      this.nodeNext = grown(this.nodeNext, 0);
    }
    this.nodeWord[node] = w;
    this.nodeNext[node] = this.head[p]!;
    this.head[p] = node;
  }

  private grow(): void {
    this.left = grown(this.left, 0);
    this.right = grown(this.right, 0);
    this.count = grown(this.count, 0);
    this.head = grown(this.head, -1);
    this.lastWord = grown(this.lastWord, -1);
    this.stamp = grown(this.stamp, 0);
    this.before = grown(this.before, 0);
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let id = 0; id < this.size; id++) {
      let s = Pairs.hash(this.left[id]!, this.right[id]!) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = id + 1;
    }
    this.slots = slots;
  }
}

/** A copy of `a` twice as long, the new half filled with `fill`. */
function grown<T extends Int32Array | Float64Array>(a: T, fill: number): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** A max-heap of (count, pair) entries, ordered by count, then the smaller pair key. */
class PairHeap {
  size = 0;
  private counts = new Float64Array(1024);
  private keys = new Float64Array(1024);
  private pairs = new Int32Array(1024);

  get topCount(): number {
    return this.counts[0]!;
  }
  get topPair(): number {
    return this.pairs[0]!;
  }

  push(count: number, key: number, pair: number): void {
    if (this.size === this.counts.length) {
      this.counts = grown(this.counts, 0);
      this.keys = grown(this.keys, 0);
      this.pairs = grown(this.pairs, 0);
    }
    const { counts, keys, pairs } = this;
    let i = this.size++;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!(count > counts[up]! || (count === counts[up] && key < keys[up]!))) break;
      counts[i] = counts[up]!;
      keys[i] = keys[up]!;
      pairs[i] = pairs[up]!;
      i = up;
    }
    counts[i] = count;
    keys[i] = key;
    pairs[i] = pair;
  }

  /** Removes the top entry. */
  pop(): void {
    const { counts, keys, pairs } = this;
    const n = --this.size;
    const count = counts[n]!;
    const key = keys[n]!;
    const pair = pairs[n]!;
    let i = 0;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= n) break;
      if (m + 1 < n && (counts[m + 1]! > counts[m]! || (counts[m + 1] === counts[m] && keys[m + 1]! < keys[m]!))) m++;
      if (!(counts[m]! > count || (counts[m] === count && keys[m]! < key))) break;
      counts[i] = counts[m]!;
      keys[i] = keys[m]!;
      pairs[i] = pairs[m]!;
      i = m;
    }
    counts[i] = count;
    keys[i] = key;
    pairs[i] = pair;
  }
}

/**
 * Learns merges until `loop.full()` or no pair occurs `loop.minFrequency` times; returns them in
 * order. `PackedWords` are merged in place (their `symbols` hold the merged words afterwards);
 * `Word[]` are copied first. Symbol ids must stay below 2^21 (the tie rule's `pairKey`).
 */
export function learnMerges(input: readonly Word[] | PackedWords, loop: MergeLoop): [number, number][] {
  const { symbols: sym, offsets, counts: wordCount } = 'offsets' in input ? input : packWords(input);
  const nWords = wordCount.length;
  const len = new Int32Array(nWords);
  for (let w = 0; w < nWords; w++) len[w] = offsets[w + 1]! - offsets[w]!;

  const P = new Pairs(Math.max(1024, sym.length >> 2));
  for (let w = 0; w < nWords; w++) {
    const c = wordCount[w]!;
    for (let i = offsets[w]!, last = i + len[w]! - 1; i < last; i++) {
      const p = P.id(sym[i]!, sym[i + 1]!);
      P.count[p]! += c;
      P.link(p, w);
    }
  }
  const heap = new PairHeap();
  for (let p = 0; p < P.size; p++) if (P.count[p]! > 0) heap.push(P.count[p]!, pairKey(P.left[p]!, P.right[p]!), p);

  let step = 0;
  /** Pairs whose count changed in this step. */
  let changed = new Int32Array(1024);
  let nChanged = 0;
  const add = (p: number, delta: number): void => {
    if (P.stamp[p] !== step) {
      P.stamp[p] = step;
      P.before[p] = P.count[p]!;
      if (nChanged === changed.length) changed = grown(changed, 0);
      changed[nChanged++] = p;
    }
    P.count[p]! += delta;
  };

  const merges: [number, number][] = [];
  while (!loop.full() && heap.size > 0) {
    const count = heap.topCount;
    const p = heap.topPair;
    heap.pop();
    // Stale: the count changed after this entry was pushed, and that change pushed a fresh entry.
    if (count !== P.count[p]) continue;
    if (count < loop.minFrequency) break;
    const left = P.left[p]!;
    const right = P.right[p]!;
    const id = loop.merge(left, right);
    merges.push([left, right]);
    step++;
    nChanged = 0;
    for (let node = P.head[p]!; node >= 0; node = P.nodeNext[node]!) {
      const w = P.nodeWord[node]!;
      const start = offsets[w]!;
      const end = start + len[w]!;
      let i = start;
      while (i + 1 < end && !(sym[i] === left && sym[i + 1] === right)) i++;
      if (i + 1 >= end) continue; // listed, but no longer holds the pair
      // Merge every non-overlapping (left, right), left to right, in place from the first one on, and
      // update the counts around each (tokenizers' `Word::merge`): the pair before it, (prev, left),
      // becomes (prev, id) and the pair after it, (right, next), becomes (id, next). When two merges
      // are adjacent, prev is the id just written, so the (id, next) that the first one added is taken
      // back as the second's (prev, left): the counts end as a recount would give them.
      const c = wordCount[w]!;
      let out = i;
      for (let r = i; r < end; ) {
        if (r + 1 < end && sym[r] === left && sym[r + 1] === right) {
          if (out > start) {
            const prev = sym[out - 1]!;
            add(P.id(prev, left), -c);
            const q = P.id(prev, id);
            add(q, c);
            P.link(q, w);
          }
          add(p, -c);
          if (r + 2 < end) {
            const next = sym[r + 2]!;
            add(P.id(right, next), -c);
            const q = P.id(id, next);
            add(q, c);
            P.link(q, w);
          }
          sym[out++] = id;
          r += 2;
        } else sym[out++] = sym[r++]!;
      }
      len[w] = out - start;
    }
    P.head[p] = -1;
    P.lastWord[p] = -1;
    P.count[p] = 0;
    // A pair whose count ends the step where it began still has its valid entry in the heap.
    for (let j = 0; j < nChanged; j++) {
      const q = changed[j]!;
      const c = P.count[q]!;
      if (c > 0 && c !== P.before[q]) heap.push(c, pairKey(P.left[q]!, P.right[q]!), q);
    }
    loop.merged?.();
  }
  return merges;
}
