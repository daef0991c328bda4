/** Backend.fused.linear on the wasm matvec kernel: weights in f32/f16/bf16/int8/int4 read in place. */
import { fail, sizeOf, storageLength, type FusedLinear, type QuantScales, type View } from '../../tensor/index.js';
import { resultF32, type OutputAlloc, type WasmRuntime } from './runtime.js';
import { JOB_MATVEC, type ThreadPool } from './pool.js';

const KIND = { float32: 0, float16: 1, bfloat16: 2, int8: 3, int4: 4 } as const;
const ELEM = { float32: 4, float16: 2, bfloat16: 2, int8: 1, int4: 1 } as const;
/** Below this many weights one thread is faster than waking the pool. */
const MIN_THREADED = 1 << 16;

/** The address of `count` array elements of `data` from element `offset`: in place, else a scratch copy. */
function place(rt: WasmRuntime, data: ArrayBufferView & ArrayLike<number>, offset: number, count: number, elem: number): number {
  const at = rt.addressOf(data, offset, elem);
  if (at >= 0) return at;
  const p = rt.alloc(count * elem);
  const src = new Uint8Array(data.buffer, data.byteOffset + offset * elem, count * elem);
  new Uint8Array(rt.memory.buffer, p, count * elem).set(src);
  return p;
}

export function wasmLinear(rt: WasmRuntime, pool: ThreadPool, alloc: OutputAlloc): FusedLinear {
  return {
    forward(x: View, w: View, scales: QuantScales | null) {
      const [n, k] = w.shape as [number, number];
      const m = sizeOf(x.shape) / k;
      const dtype = w.dtype as keyof typeof KIND;
      if (!(dtype in KIND)) fail('linear', `weights of dtype ${w.dtype} are not supported by the wasm kernel`);
      const quant = dtype === 'int8' || dtype === 'int4';
      if (quant && !scales) fail('linear', `${dtype} weights need their block scales`);
      try {
        const xp = place(rt, x.data, x.offset, m * k, 4);
        let sp = 0;
        let blockSize = k;
        if (scales) {
          blockSize = scales.blockSize;
          if (k % blockSize !== 0 || w.offset % blockSize !== 0) fail('linear', `block size ${blockSize} must divide the row length ${k}`);
          sp = place(rt, scales.scales, w.offset / blockSize, (n * k) / blockSize, 4);
        }
        // int4 packs two elements per byte: element offsets become byte offsets (blocks are whole bytes)
        const wp = dtype === 'int4'
          ? place(rt, w.data, w.offset / 2, storageLength('int4', n * k), 1)
          : place(rt, w.data, w.offset, n * k, ELEM[dtype]);
        const y = resultF32(rt, alloc, m * n);
        // with several rows, quantised weight rows are dequantised once into the thread's work buffer
        const useTmp = quant && m > 1 && k * 4 <= rt.workBytes;
        if (n * k < MIN_THREADED || pool.size === 1) {
          rt.exports.matvec(xp, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize, 0, n, useTmp ? rt.workPointer(0) : 0);
        } else {
          pool.run(JOB_MATVEC, [xp, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize, n, useTmp ? 1 : 0]);
        }
        return y.done();
      } finally {
        rt.reset();
      }
    },
  };
}
