/**
 * A thread pool over shared WebAssembly memory (as llama.cpp's ggml threadpool): workers block
 * in Atomics.wait on a generation counter; the caller writes a job into the control block,
 * bumps the generation, runs its own share, and waits for the done counter. Jobs are ranges
 * of work items; thread t of T runs items [t*N/T, (t+1)*N/T).
 *
 * Control block (Int32 words at CTRL): 0 generation, 1 done count, 2 job kind, 3 thread count,
 * 4 shutdown, 8.. job arguments.
 */
import type { WasmRuntime } from './runtime.js';
import { CTRL } from './runtime.js';

export const GEN = 0;
export const DONE = 1;
export const KIND = 2;
export const NTHREADS = 3;
export const SHUTDOWN = 4;
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
/**
 * How long a thread polls before it sleeps in Atomics.wait: a caller waiting for the workers'
 * shares, and a worker waiting for the next job after one. Decode posts a job per matrix a few
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

/** Word where thread t leaves a float result (JOB_READ). */
export const RESULTS = 40;

/** Runs thread t's share of the job described in the control block. */
export function runShare(rt: WasmRuntime, ctrl: Int32Array, t: number): void {
  const nt = ctrl[NTHREADS]!;
  const a = (i: number) => ctrl[ARGS + i]!;
  const f = (i: number) => new Float32Array(ctrl.buffer, ctrl.byteOffset + (ARGS + i) * 4, 1)[0]!;
  const share = (items: number): [number, number] => [Math.floor((t * items) / nt), Math.floor(((t + 1) * items) / nt)];
  const e = rt.exports;
  switch (ctrl[KIND]) {
    case JOB_GEMM: {
      const [s, end] = share(a(14));
      if (s < end) e.gemmBatched(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), s, end, rt.workPointer(t));
      break;
    }
    case JOB_ATTN_FWD: {
      const [s, end] = share(a(23));
      if (s < end) {
        e.attnForward(
          a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), f(11), a(12), a(13), a(14), a(15), a(16), a(17), a(18),
          a(19), a(20), a(21), a(22), s, end, rt.workPointer(t), a(24),
        );
      }
      break;
    }
    case JOB_MATVEC: {
      const [s, end] = share(a(9));
      // a(10): whether the kernel may use the thread's work buffer to dequantise weight rows;
      // a(11): x prepared for the fast f16/bf16 path, or 0
      if (s < end) e.matvec(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), s, end, a(10) ? rt.workPointer(t) : 0, a(11));
      break;
    }
    case JOB_MATVEC_Q8: {
      const [s, end] = share(a(7));
      if (s < end) e.matvecQ8(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), s, end);
      break;
    }
    case JOB_MATVEC_MANY:
    case JOB_MATVEC_Q8_MANY: {
      // the threads split the matrices' rows end to end; each runs its part of every matrix it meets
      // args: x (JOB_MATVEC_Q8_MANY: xq, xd, xa), table, count, m, k, kind, blockSize, total rows (+ tmp flag, xh)
      const q8 = ctrl[KIND] === JOB_MATVEC_Q8_MANY;
      const at = q8 ? 3 : 1;
      const [s, end] = share(a(at + 6));
      const table = new Int32Array(rt.memory.buffer, a(at), a(at + 1) * 4); // (the memory may have grown since ctrl was made)
      const [m, k, kind, bs] = [a(at + 2), a(at + 3), a(at + 4), a(at + 5)];
      let base = 0;
      for (let i = 0; i < a(at + 1) && base < end; i++) {
        const n = table[4 * i + 3]!;
        const lo = Math.max(s, base) - base;
        const hi = Math.min(end, base + n) - base;
        if (lo < hi) {
          const [w, sc, y] = [table[4 * i]!, table[4 * i + 1]!, table[4 * i + 2]!];
          if (q8) e.matvecQ8(a(0), a(1), a(2), w, sc, y, m, n, k, kind, bs, lo, hi);
          else e.matvec(a(0), w, sc, y, m, n, k, kind, bs, lo, hi, a(at + 7) ? rt.workPointer(t) : 0, a(at + 8));
        }
        base += n;
      }
      break;
    }
    case JOB_DEQUANT: {
      const [s, end] = share(a(6));
      if (s < end) e.dequantRows(a(0), a(1), a(2), a(3), a(4), a(5), s, end);
      break;
    }
    case JOB_READ: {
      const blocks = Math.ceil(a(1) / 16);
      const [s, end] = share(blocks);
      const n = Math.min(a(1), end * 16) - s * 16;
      new Float32Array(ctrl.buffer, ctrl.byteOffset + (RESULTS + t) * 4, 1)[0] = n > 0 ? e.readSum(a(0) + s * 64, n) : 0;
      break;
    }
    case JOB_ATTN_BWD: {
      const [s, end] = share(a(24));
      if (s < end) {
        e.attnBackward(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15), f(16), a(17), a(18), a(19), a(20), a(21), a(22), a(23), s, end);
      }
      break;
    }
  }
}

/** Encodes a float32 argument for the control block. */
export function f32Bits(x: number): number {
  return new Int32Array(new Float32Array([x]).buffer)[0]!;
}

/** The caller's side: dispatch to the workers, take share 0, wait for the others. */
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
    ctrl[KIND] = kind;
    ctrl[NTHREADS] = 1;
    ctrl.set(args, ARGS);
    runShare(this.rt, ctrl, 0);
  }

  close(): void {}
}

/** Workers are started by a platform-specific factory (pool-node.ts in Node). */
export class AtomicsPool implements ThreadPool {
  constructor(private readonly rt: WasmRuntime, readonly size: number, private readonly onClose: () => void) {}

  run(kind: number, args: readonly number[], threads = this.size): void {
    const ctrl = controlBlock(this.rt);
    const nt = Math.max(1, Math.min(threads, this.size));
    ctrl[KIND] = kind;
    ctrl[NTHREADS] = nt;
    ctrl.set(args, ARGS);
    Atomics.store(ctrl, DONE, 0);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
    runShare(this.rt, ctrl, 0);
    // every worker reports, even those without a share, so the next job starts clean; spin
    // first (the others finish within microseconds of us on a balanced split), then sleep
    const until = performance.now() + SPIN_MS;
    for (let i = 1; ; i++) {
      const done = Atomics.load(ctrl, DONE);
      if (done >= this.size - 1) break;
      if ((i & 63) === 0 && performance.now() > until) Atomics.wait(ctrl, DONE, done, 1000);
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
