/**
 * The ceiling of any 128-bit wasm SIMD kernel on this machine: f32 GFLOPS of a loop of twelve
 * independent f32x4 multiply-adds (relaxed fused madd where the runtime has relaxed SIMD, else
 * mul + add), run on each of N threads at once (worker threads) and summed: on a VM two vCPUs
 * need not add up to twice one. No load, no store, no dependency between the chains: a GEMM
 * kernel can only approach it. The module is assembled here byte by byte (a handful of opcodes),
 * so the probe needs no compiler and stays out of the shipped kernels.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const CHAINS = 12;

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const simd = (op: number): number[] => [0xfd, ...leb(op)];
const F32X4_SPLAT = 0x13, F32X4_EXTRACT = 0x1f, F32X4_ADD = 0xe4, F32X4_MUL = 0xe6, F32X4_RELAXED_MADD = 0x105;

/** (func (param $n i32) (result f32)): n iterations of CHAINS multiply-adds on f32x4. */
function peakModule(relaxed: boolean): Uint8Array {
  const get = (i: number) => [0x20, ...leb(i)];
  const set = (i: number) => [0x21, ...leb(i)];
  const f32 = (v: number) => [0x43, ...new Uint8Array(Float32Array.of(v).buffer)];
  // locals: 0 = n (param), 1..CHAINS = accumulators, CHAINS+1 = b, CHAINS+2 = c
  const b = CHAINS + 1, c = CHAINS + 2;
  const body: number[] = [0x01, CHAINS + 2, 0x7b]; // one local group: CHAINS + 2 v128
  for (let i = 1; i <= CHAINS; i++) body.push(...f32(1), ...simd(F32X4_SPLAT), ...set(i));
  body.push(...f32(0.999), ...simd(F32X4_SPLAT), ...set(b), ...f32(0.0001), ...simd(F32X4_SPLAT), ...set(c));
  body.push(0x03, 0x40); // loop
  for (let i = 1; i <= CHAINS; i++) {
    if (relaxed) body.push(...get(i), ...get(b), ...get(c), ...simd(F32X4_RELAXED_MADD), ...set(i));
    else body.push(...get(i), ...get(b), ...simd(F32X4_MUL), ...get(c), ...simd(F32X4_ADD), ...set(i));
  }
  body.push(...get(0), 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b); // n = n - 1; br_if n != 0; end
  body.push(...get(1));
  for (let i = 2; i <= CHAINS; i++) body.push(...get(i), ...simd(F32X4_ADD));
  body.push(...simd(F32X4_EXTRACT), 0x00, 0x0b);
  const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
  const name = [...new TextEncoder().encode('peak')];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7d]), // type: (i32) -> f32
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(7, [1, name.length, ...name, 0x00, 0]), // export "peak"
    ...section(10, [1, ...leb(body.length), ...body]),
  ]);
}

/** One thread's f32 GFLOPS of the probe (best of 3 runs of ~0.2 s), and whether it used relaxed madd. */
function probe(): { gflops: number; relaxed: boolean } {
  let relaxed = true;
  let mod: WebAssembly.Module;
  try {
    mod = new WebAssembly.Module(peakModule(true));
  } catch {
    relaxed = false;
    mod = new WebAssembly.Module(peakModule(false));
  }
  const peak = new WebAssembly.Instance(mod).exports.peak as (n: number) => number;
  peak(1e5);
  let n = 1e6, best = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    peak(n);
    const s = (performance.now() - t) / 1000;
    best = Math.max(best, (n * CHAINS * 8) / s / 1e9);
    if (s < 0.2) n = Math.ceil((n * 0.2) / Math.max(s, 1e-3));
  }
  return { gflops: best, relaxed };
}

/**
 * The probe on `threads` threads at once: the summed GFLOPS (each thread's best run; the runs
 * overlap, as they all start together and last about as long), and whether it used relaxed madd.
 */
export async function simdPeakGflops(threads = 1): Promise<{ gflops: number; relaxed: boolean }> {
  if (threads === 1) return probe();
  const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: { simdPeakProbe: true } }));
  try {
    const results = await Promise.all(workers.map((w) => new Promise<{ gflops: number; relaxed: boolean }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    })));
    return { gflops: results.reduce((sum, r) => sum + r.gflops, 0), relaxed: results.every((r) => r.relaxed) };
  } finally {
    for (const w of workers) void w.terminate();
  }
}

if (!isMainThread && (workerData as { simdPeakProbe?: boolean } | null)?.simdPeakProbe) parentPort!.postMessage(probe());
