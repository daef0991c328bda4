/** Backend.fused.gelu on the wasm kernels (assembly/activations.ts), for resident float32 tensors. */
import { sizeOf, type FusedGelu } from '../../tensor/index.js';
import { output, type OutputAlloc, type WasmRuntime } from './runtime.js';

export function wasmGelu(rt: WasmRuntime, alloc: OutputAlloc): FusedGelu {
  return {
    forward(x, approximate) {
      const n = sizeOf(x.shape);
      const xp = rt.addressOf(x.data, x.offset, 4);
      const out = output(alloc, 'float32', n, false);
      const yp = rt.addressOf(out, 0, 4);
      if (xp < 0 || yp < 0) {
        // stage a non-resident input through scratch
        try {
          const sp = rt.alloc(n * 4);
          rt.f32(sp, n).set(x.data.subarray(x.offset, x.offset + n));
          const op = yp >= 0 ? yp : rt.alloc(n * 4);
          rt.exports.geluForward(sp, op, n, approximate === 'tanh' ? 1 : 0);
          if (yp < 0) out.set(rt.f32(op, n));
          return out;
        } finally {
          rt.reset();
        }
      }
      rt.exports.geluForward(xp, yp, n, approximate === 'tanh' ? 1 : 0);
      return out;
    },
    backward(x, gy, approximate) {
      const n = sizeOf(x.shape);
      try {
        const stage = (data: ArrayBufferView & ArrayLike<number>, offset: number): number => {
          const at = rt.addressOf(data, offset, 4);
          if (at >= 0) return at;
          const p = rt.alloc(n * 4);
          rt.f32(p, n).set((data as Float32Array).subarray(offset, offset + n));
          return p;
        };
        const xp = stage(x.data, x.offset);
        const gp = stage(gy.data, gy.offset);
        const out = output(alloc, 'float32', n, false);
        let op = rt.addressOf(out, 0, 4);
        const direct = op >= 0;
        if (!direct) op = rt.alloc(n * 4);
        rt.exports.geluBackward(xp, gp, op, n, approximate === 'tanh' ? 1 : 0);
        if (!direct) out.set(rt.f32(op, n));
        return out;
      } finally {
        rt.reset();
      }
    },
  };
}
