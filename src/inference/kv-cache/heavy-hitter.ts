/**
 * Heavy-hitter eviction (H2O: Zhang et al. 2023, "H2O: Heavy-Hitter Oracle for Efficient
 * Generative Inference of Large Language Models", arXiv:2306.14048; reference code
 * FMInference/H2O `H2OKVCache_LayerWise`): each key accumulates the attention probability every
 * later query gave it; after each step a sequence/head row keeps its `recent` newest positions
 * plus the `heavy` older positions with the largest accumulated mass, so memory stays at
 * heavy + recent positions. As in the reference, rows (one per sequence and KV head) choose
 * independently, so different heads keep different positions; with GQA a KV head sums the mass
 * of the query heads that read it. Ties go to the earlier position.
 *
 * The cache needs the step's attention weights, which the fused kernel does not expose: attention
 * (nn/kv-cache.ts attendFetched) computes them separately from q and the fetched keys and hands
 * them to observeAttention, leaving the kernel's output untouched. A step whose weights never
 * arrive is an error at the next update rather than a silent switch to another policy.
 */
import { fail, type Tensor } from '../../tensor/index.js';
import type { KVFetch } from '../../nn/index.js';
import { checkPositiveInt, rowMajor } from './rows.js';
import { BaseKVCache, type KVCacheOptions, type KVCacheState } from './cache.js';

export class HeavyHitterKVCache extends BaseKVCache {
  readonly kind = 'heavy-hitter';
  readonly heavy: number;
  readonly recent: number;
  private len = 0;
  /** Per row (b * Hkv + h) and slot: the position held and its accumulated attention mass. */
  private pos = new Int32Array(0);
  private score = new Float64Array(0);
  private pending = false;

  constructor(opts: KVCacheOptions & { heavy: number; recent: number }) {
    super(opts);
    checkPositiveInt('HeavyHitterKVCache', 'heavy', opts.heavy);
    checkPositiveInt('HeavyHitterKVCache', 'recent', opts.recent);
    this.heavy = opts.heavy;
    this.recent = opts.recent;
  }

  get budget(): number {
    return this.heavy + this.recent;
  }

  get length(): number {
    return this.len;
  }

  private get cap(): number {
    return this.keys.capacity;
  }

  /** Grows the per-slot arrays with the row stores. */
  private reserve(slots: number): void {
    const old = this.cap;
    this.keys.reserve(slots);
    this.values.reserve(slots);
    const cap = this.cap;
    if (cap === old && this.pos.length > 0) return;
    const rows = this.keys.rows;
    const pos = new Int32Array(rows * cap);
    const score = new Float64Array(rows * cap);
    for (let r = 0; r < rows && old > 0; r++) {
      pos.set(this.pos.subarray(r * old, r * old + this.len), r * cap);
      score.set(this.score.subarray(r * old, r * old + this.len), r * cap);
    }
    this.pos = pos;
    this.score = score;
  }

  updateAndFetch(k: Tensor, v: Tensor): KVFetch {
    if (this.pending) fail('HeavyHitterKVCache', 'the previous step\'s attention weights were not observed (attend through attentionWithCache / attendFetched)');
    const { t, ks, vs } = this.begin(k, v);
    const start = this.len;
    this.reserve(start + t);
    this.keys.write(ks, t, 0, t, (i) => start + i);
    this.values.write(vs, t, 0, t, (i) => start + i);
    const rows = this.keys.rows;
    const cap = this.cap;
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < t; i++) {
        this.pos[r * cap + start + i] = this.offset + i;
        this.score[r * cap + start + i] = 0;
      }
    }
    const evicted = this.offset > this.len;
    this.len += t;
    this.offset += t;
    this.pending = true;
    const positions = evicted ? this.rowPositions() : null; // nothing evicted yet: every row holds 0..offset-1 in order
    return { keys: this.keys.prefix(this.len), values: this.values.prefix(this.len), positions };
  }

  /** Positions [rows, len] row-major. */
  private rowPositions(): Int32Array {
    const { len, cap } = this;
    const rows = this.keys.rows;
    const out = new Int32Array(rows * len);
    for (let r = 0; r < rows; r++) out.set(this.pos.subarray(r * cap, r * cap + len), r * len);
    return out;
  }

  /** Adds the step's attention [B, Hq, Tq, L] to each key's mass, then evicts down to the budget. */
  observeAttention(weights: Tensor): void {
    if (!this.pending) fail('HeavyHitterKVCache', 'observeAttention without a preceding updateAndFetch');
    const [b, hq, tq, l] = weights.shape as [number, number, number, number];
    const rows = this.keys.rows;
    if (l !== this.len || b * hq < rows || (b * hq) % rows !== 0) {
      fail('HeavyHitterKVCache', `attention weights [${weights.shape.join(', ')}] do not match ${rows} rows of ${this.len} keys`);
    }
    const group = (b * hq) / rows; // query heads per KV head
    const w = rowMajor(weights, 'HeavyHitterKVCache');
    const cap = this.cap;
    for (let qh = 0; qh < b * hq; qh++) {
      const r = Math.floor(qh / group); // (b, h) -> (b, h / group): rows are b * Hkv + h
      for (let i = 0; i < tq; i++) {
        const at = (qh * tq + i) * l;
        for (let j = 0; j < l; j++) this.score[r * cap + j] += w[at + j]!;
      }
    }
    this.pending = false;
    if (this.len > this.budget) this.evict();
  }

  /** Keeps, per row, the `recent` newest slots and the `heavy` older slots of largest mass, in position order. */
  private evict(): void {
    const { len, cap, heavy, recent } = this;
    const rows = this.keys.rows;
    const older = len - recent; // slots 0..older-1 compete; the newest `recent` are always kept
    for (let r = 0; r < rows; r++) {
      const base = r * cap;
      const order = Array.from({ length: older }, (_, j) => j);
      order.sort((a, b) => this.score[base + b]! - this.score[base + a]! || this.pos[base + a]! - this.pos[base + b]!);
      const keepSlots = order.slice(0, heavy).sort((a, b) => a - b);
      for (let j = older; j < len; j++) keepSlots.push(j);
      keepSlots.forEach((from, to) => {
        this.keys.moveRow(r, from, to);
        this.values.moveRow(r, from, to);
        this.pos[base + to] = this.pos[base + from]!;
        this.score[base + to] = this.score[base + from]!;
      });
    }
    this.len = heavy + recent;
  }

  keptPositions(row = 0): number[] {
    return [...this.pos.subarray(row * this.cap, row * this.cap + this.len)];
  }

  /** Accumulated attention mass of the kept keys of row r, in slot (= position) order. */
  keptScores(row = 0): number[] {
    return [...this.score.subarray(row * this.cap, row * this.cap + this.len)];
  }

  state(): KVCacheState {
    const { len, cap } = this;
    const rows = this.keys.rows;
    const score = new Float64Array(rows * len);
    for (let r = 0; r < rows; r++) score.set(this.score.subarray(r * cap, r * cap + len), r * len);
    return this.baseState(len, { positions: this.rowPositions(), scores: score });
  }

  setState(s: KVCacheState): void {
    const slots = this.restoreBase(s, 0);
    const rows = this.keys.rows;
    const pos = s.arrays['positions'];
    const score = s.arrays['scores'];
    if (!(pos instanceof Int32Array) || !(score instanceof Float64Array) || pos.length !== rows * slots || score.length !== rows * slots) {
      fail('HeavyHitterKVCache.setState', 'state lacks per-slot positions and scores matching its rows');
    }
    this.len = slots;
    this.pending = false;
    const cap = this.cap;
    this.pos = new Int32Array(rows * cap);
    this.score = new Float64Array(rows * cap);
    for (let r = 0; r < rows; r++) {
      this.pos.set(pos.subarray(r * slots, (r + 1) * slots), r * cap);
      this.score.set(score.subarray(r * slots, (r + 1) * slots), r * cap);
    }
  }

  override dispose(): void {
    super.dispose();
    this.len = 0;
    this.pending = false;
    this.pos = new Int32Array(0);
    this.score = new Float64Array(0);
  }
}
