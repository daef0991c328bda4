/** Backend.fused.gelu on the wasm kernels (assembly/activations.ts), for resident float32 tensors. */
import { sizeOf, type FusedGelu } from '../../tensor/index.js';
import { resultF32, type OutputAlloc, type WasmRuntime } from './runtime.js';

export function wasmGelu(rt: WasmRuntime, alloc: OutputAlloc): FusedGelu {
  return {
    forward(x, approximate) {
      const n = sizeOf(x.shape);
      try {
        const xp = rt.stageF32(x.data, x.offset, n);
        const y = resultF32(rt, alloc, n);
        rt.exports.geluForward(xp, y.ptr, n, approximate === 'tanh' ? 1 : 0);
        return y.done();
      } finally {
        rt.reset();
      }
    },
    backward(x, gy, approximate) {
      const n = sizeOf(x.shape);
      try {
        const xp = rt.stageF32(x.data, x.offset, n);
        const gp = rt.stageF32(gy.data, gy.offset, n);
        const gx = resultF32(rt, alloc, n);
        rt.exports.geluBackward(xp, gp, gx.ptr, n, approximate === 'tanh' ? 1 : 0);
        return gx.done();
      } finally {
        rt.reset();
      }
    },
  };
}
