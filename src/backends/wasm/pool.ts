/**
 * A thread pool over shared WebAssembly memory (as llama.cpp's ggml threadpool): workers block
 * in Atomics.wait on a generation counter; the caller writes a job into the control block,
 * bumps the generation, works on it too, and waits until every chunk is done.
 *
 * A job's work items are cut into chunks that the threads claim one at a time from a shared
 * counter (ggml's mul_mat does the same), not split evenly up front: a worker that wakes late
 * (a busy or virtualised host can take tens of microseconds to schedule it) leaves its chunks
 * to the threads already running instead of making them wait. The claim counter carries the
 * job's generation in its high 20 bits, so a worker still looking at a finished job cannot
 * claim anything once the caller has moved on and is rewriting the arguments.
 *
 * A thread reads the job's arguments only after it has claimed a chunk: until that chunk is
 * counted done the caller cannot post another job, so what it reads is this job's. (Read any
 * earlier, they could be half rewritten by the next job, and a bad table length made a worker
 * throw and took the process down.) A chunk that throws still counts as done, so the caller
 * never waits for it; the job is marked failed, its remaining chunks are skipped, and the
 * caller throws once every claimed chunk is in.
 *
 * Control block (Int32 words at CTRL): 0 generation, 1 chunks done, 2 job kind, 3 failed,
 * 4 shutdown, 5 claim counter (generation tag << 12 | next chunk), 6 chunk count, 8.. job arguments.
 */
import type { WasmRuntime } from './runtime.js';
import { CTRL } from './runtime.js';

export const GEN = 0;
export const DONE = 1;
export const KIND = 2;
export const FAILED = 3;
export const SHUTDOWN = 4;
export const NEXT = 5;
export const CHUNKS = 6;
export const ARGS = 8;

export const JOB_GEMM = 1;
export const JOB_ATTN_FWD = 2;
export const JOB_ATTN_BWD = 3;
export const JOB_MATVEC = 4;
export const JOB_READ = 5;
export const JOB_DEQUANT = 6;
export const JOB_MATVEC_Q8 = 7;
/** JOB_MATVEC / JOB_MATVEC_Q8 over several matrices: a table of (w, scales, y, rows) per matrix. */
export const JOB_MATVEC_MANY = 8;
export const JOB_MATVEC_Q8_MANY = 9;
/** Prefill with q8_0 activations: the integer GEMM over 8-column panels of y. */
export const JOB_GEMM_Q8 = 10;
const JOB_NAMES: Record<number, string> = {
  [JOB_GEMM]: 'gemm', [JOB_ATTN_FWD]: 'attention forward', [JOB_ATTN_BWD]: 'attention backward', [JOB_MATVEC]: 'matvec',
  [JOB_READ]: 'read probe', [JOB_DEQUANT]: 'dequantise', [JOB_MATVEC_Q8]: 'q8 matvec', [JOB_MATVEC_MANY]: 'matvec (several matrices)',
  [JOB_MATVEC_Q8_MANY]: 'q8 matvec (several matrices)', [JOB_GEMM_Q8]: 'q8 gemm',
};
/**
 * How long a thread polls before it sleeps in Atomics.wait: a caller waiting for the chunks
 * other threads claimed, and a worker waiting for the next job after one. Decode posts a job per matrix a few
 * microseconds of JavaScript apart, and waking a sleeping thread (futex + scheduler, slower
 * under a hypervisor) took longer than that: the caller spent a third of a decode step waiting
 * for the worker. llama.cpp's threadpool polls the same way before it sleeps.
 */
export const SPIN_MS = 2;

/** Waits until ctrl[index] != value: polls for SPIN_MS, then sleeps. */
export function waitChange(ctrl: Int32Array, index: number, value: number): void {
  const until = performance.now() + SPIN_MS;
  for (let i = 1; Atomics.load(ctrl, index) === value; i++) {
    if ((i & 63) === 0 && performance.now() > until) {
      Atomics.wait(ctrl, index, value);
      return;
    }
  }
}

/** Chunks per thread for jobs of many small items (rows): enough to even out a late start. */
export const CHUNKS_PER_THREAD = 8;

/** Work items of a job, from its arguments. */
function itemCount(kind: number, a: (i: number) => number): number {
  switch (kind) {
    case JOB_GEMM: return a(14);
    case JOB_ATTN_FWD: return a(23);
    case JOB_ATTN_BWD: return a(24);
    case JOB_MATVEC: return a(9);
    case JOB_MATVEC_Q8: return a(7);
    case JOB_MATVEC_MANY: return a(7);
    case JOB_MATVEC_Q8_MANY: return a(9);
    case JOB_DEQUANT: return a(6);
    case JOB_GEMM_Q8: return Math.ceil(a(8) / 8);
    case JOB_READ: return Math.ceil(a(1) / 16);
    default: throw new Error(`thread pool: unknown job kind ${kind}`);
  }
}

/**
 * How many chunks a job is cut into: GEMM items are already thread-sized blocks (each packs
 * its operands once) and attention-backward items are whole KV heads, so those go one item
 * per chunk; the rest (rows) go CHUNKS_PER_THREAD chunks per thread.
 */
function chunkCount(kind: number, items: number, threads: number): number {
  if (items <= 0) return 0;
  if (kind === JOB_GEMM || kind === JOB_ATTN_BWD) return Math.min(items, MAX_CHUNKS);
  return Math.min(items, threads * CHUNKS_PER_THREAD, MAX_CHUNKS);
}

/** The claim counter's low 12 bits count chunks; its high 20 bits tag the generation. */
const MAX_CHUNKS = 4095;
const TAG_MASK = 0xfffff;

/**
 * Writes a job into the control block and returns its generation. The claim counter is
 * re-tagged before the arguments are touched (see the header).
 */
export function postJob(ctrl: Int32Array, kind: number, args: readonly number[], threads: number): number {
  const gen = (ctrl[GEN]! + 1) | 0;
  Atomics.store(ctrl, NEXT, (gen & TAG_MASK) << 12);
  Atomics.store(ctrl, FAILED, 0);
  ctrl[KIND] = kind;
  ctrl.set(args, ARGS);
  ctrl[CHUNKS] = chunkCount(kind, itemCount(kind, (i) => args[i]!), threads);
  Atomics.store(ctrl, DONE, 0);
  return gen;
}

/**
 * Claims and runs chunks of job `gen` until none is left (or the job is no longer current),
 * as thread t (whose work buffer the kernels may use). Returns the first error a chunk of this
 * thread threw (the job is then marked failed), or null. `beforeClaim` is a test hook, called
 * between looking at the claim counter and claiming.
 */
export function runChunks(rt: WasmRuntime, ctrl: Int32Array, t: number, gen: number, beforeClaim?: () => void): unknown {
  const tag = gen & TAG_MASK;
  const chunks = ctrl[CHUNKS]!;
  let job: Job | null = null;
  let error: unknown = null;
  for (;;) {
    const cur = Atomics.load(ctrl, NEXT);
    const c = cur & MAX_CHUNKS;
    if (cur >>> 12 !== tag || c >= chunks) return error;
    beforeClaim?.();
    if (Atomics.compareExchange(ctrl, NEXT, cur, cur + 1) !== cur) continue;
    try {
      if (!Atomics.load(ctrl, FAILED)) {
        // claimed, so the job cannot be replaced before this chunk is counted: its arguments are stable
        job ??= readJob(rt, ctrl);
        runChunk(rt, job, t, c, chunks);
      }
    } catch (e) {
      Atomics.store(ctrl, FAILED, 1);
      error ??= e;
    } finally {
      if (Atomics.add(ctrl, DONE, 1) + 1 === chunks) Atomics.notify(ctrl, DONE);
    }
  }
}

/** A job's kind and arguments, copied out of the control block once per thread. */
interface Job {
  kind: number;
  args: Int32Array;
  floats: Float32Array;
  items: number;
  /** JOB_MATVEC(_Q8)_MANY: the (w, scales, y, rows) table. */
  table: Int32Array | null;
}

const MAX_ARGS = 32;

function readJob(rt: WasmRuntime, ctrl: Int32Array): Job {
  const kind = ctrl[KIND]!;
  const args = ctrl.slice(ARGS, ARGS + MAX_ARGS);
  const items = itemCount(kind, (i) => args[i]!);
  let table: Int32Array | null = null;
  if (kind === JOB_MATVEC_MANY || kind === JOB_MATVEC_Q8_MANY) {
    const at = kind === JOB_MATVEC_Q8_MANY ? 3 : 1;
    // (the memory may have grown since ctrl was made; addresses from 2 GiB up read back negative from
    // the Int32Array, which wasm calls wrap back, but a view needs the unsigned value)
    table = new Int32Array(rt.memory.buffer, args[at]! >>> 0, args[at + 1]! * 4);
  }
  return { kind, args, floats: new Float32Array(args.buffer), items, table };
}

/** Runs chunk c of `chunks` of a job, as thread t. */
function runChunk(rt: WasmRuntime, job: Job, t: number, c: number, chunks: number): void {
  const { kind, args, floats, items } = job;
  const a = (i: number) => args[i]!;
  const f = (i: number) => floats[i]!;
  // this chunk's items [s, end)
  const s = Math.floor((c * items) / chunks);
  const end = Math.floor(((c + 1) * items) / chunks);
  const e = rt.exports;
  switch (kind) {
    case JOB_GEMM: {
      if (s < end) e.gemmBatched(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), s, end, rt.workPointer(t));
      break;
    }
    case JOB_ATTN_FWD: {
      if (s < end) {
        e.attnForward(
          a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), f(11), a(12), a(13), a(14), a(15), a(16), a(17), a(18),
          a(19), a(20), a(21), a(22), s, end, rt.workPointer(t), a(24),
        );
      }
      break;
    }
    case JOB_MATVEC: {
      // a(10): whether the kernel may use the thread's work buffer to dequantise weight rows;
      // a(11): x prepared for the fast f16/bf16 path, or 0; a(12): f16 weights known finite
      if (s < end) e.matvec(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), s, end, a(10) ? rt.workPointer(t) : 0, a(11), a(12));
      break;
    }
    case JOB_MATVEC_Q8: {
      if (s < end) e.matvecQ8(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), s, end);
      break;
    }
    case JOB_MATVEC_MANY:
    case JOB_MATVEC_Q8_MANY: {
      // the threads split the matrices' rows end to end; each runs its part of every matrix it meets
      // args: x (JOB_MATVEC_Q8_MANY: xq, xd, xa), table, count, m, k, kind, blockSize, total rows (+ tmp flag, xh, finite)
      const q8 = kind === JOB_MATVEC_Q8_MANY;
      const at = q8 ? 3 : 1;
      const table = job.table!;
      const [m, k, wkind, bs] = [a(at + 2), a(at + 3), a(at + 4), a(at + 5)];
      let base = 0;
      for (let i = 0; i < a(at + 1) && base < end; i++) {
        const n = table[4 * i + 3]!;
        const lo = Math.max(s, base) - base;
        const hi = Math.min(end, base + n) - base;
        if (lo < hi) {
          const [w, sc, y] = [table[4 * i]!, table[4 * i + 1]!, table[4 * i + 2]!];
          if (q8) e.matvecQ8(a(0), a(1), a(2), w, sc, y, m, n, k, wkind, bs, lo, hi);
          else e.matvec(a(0), w, sc, y, m, n, k, wkind, bs, lo, hi, a(at + 7) ? rt.workPointer(t) : 0, a(at + 8), a(at + 9));
        }
        base += n;
      }
      break;
    }
    case JOB_GEMM_Q8: {
      // args: packed x, m, k, w, scales, kind, blockSize, y, n
      if (s < end) e.gemmQ8(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), s, end, rt.workPointer(t));
      break;
    }
    case JOB_DEQUANT: {
      if (s < end) e.dequantRows(a(0), a(1), a(2), a(3), a(4), a(5), s, end);
      break;
    }
    case JOB_READ: {
      // args: data, n, results (room for CHUNKS_PER_THREAD floats per thread): chunk c's sum at results[c]
      const n = Math.min(a(1), end * 16) - s * 16;
      new Float32Array(rt.memory.buffer, (a(2) >>> 0) + c * 4, 1)[0] = n > 0 ? e.readSum(a(0) + s * 64, n) : 0;
      break;
    }
    case JOB_ATTN_BWD: {
      if (s < end) {
        e.attnBackward(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15), f(16), a(17), a(18), a(19), a(20), a(21), a(22), a(23), s, end, rt.workPointer(t));
      }
      break;
    }
  }
}

/** Encodes a float32 argument for the control block. */
export function f32Bits(x: number): number {
  return new Int32Array(new Float32Array([x]).buffer)[0]!;
}

/** The caller's side: post a job, claim chunks of it too, wait for the chunks others claimed. */
export interface ThreadPool {
  readonly size: number;
  run(kind: number, args: readonly number[]): void;
  close(): void;
}

export function controlBlock(rt: WasmRuntime): Int32Array {
  return new Int32Array(rt.memory.buffer, CTRL, 64);
}

/** One-thread "pool": runs everything inline (browsers without cross-origin isolation). */
export class InlinePool implements ThreadPool {
  readonly size = 1;
  constructor(private readonly rt: WasmRuntime) {}

  run(kind: number, args: readonly number[]): void {
    const ctrl = controlBlock(this.rt);
    const gen = postJob(ctrl, kind, args, 1);
    ctrl[GEN] = gen;
    const error = runChunks(this.rt, ctrl, 0, gen);
    if (error !== null) throw error;
  }

  close(): void {}
}

/** Workers are started by a platform-specific factory (load-node.ts in Node). */
export class AtomicsPool implements ThreadPool {
  constructor(private readonly rt: WasmRuntime, readonly size: number, private readonly onClose: () => void) {}

  run(kind: number, args: readonly number[]): void {
    const ctrl = controlBlock(this.rt);
    const gen = postJob(ctrl, kind, args, this.size);
    const chunks = ctrl[CHUNKS]!;
    Atomics.store(ctrl, GEN, gen);
    Atomics.notify(ctrl, GEN);
    const error = runChunks(this.rt, ctrl, 0, gen);
    // the chunks other threads claimed: spin first (they finish within microseconds of us),
    // then sleep; workers that never got a chunk are not waited for
    const until = performance.now() + SPIN_MS;
    for (let i = 1; ; i++) {
      const done = Atomics.load(ctrl, DONE);
      if (done >= chunks) break;
      if ((i & 63) === 0 && performance.now() > until) Atomics.wait(ctrl, DONE, done, 1000);
    }
    if (error !== null) throw error;
    if (Atomics.load(ctrl, FAILED)) {
      throw new Error(`wasm thread pool: a worker thread failed on a job of kind ${kind} (${JOB_NAMES[kind] ?? 'unknown'}); its error is printed above, and the job's output is incomplete`);
    }
  }

  close(): void {
    const ctrl = controlBlock(this.rt);
    Atomics.store(ctrl, SHUTDOWN, 1);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
    this.onClose();
  }
}
