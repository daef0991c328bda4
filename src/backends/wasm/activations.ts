/** Backend.fused.gelu and .swiglu on the wasm kernels (assembly/activations.ts), for float32 tensors. */
import { sizeOf, type FusedGelu, type FusedSwiglu } from '../../tensor/index.js';
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

export function wasmSwiglu(rt: WasmRuntime, alloc: OutputAlloc): FusedSwiglu {
  return {
    forward(gate, up) {
      const n = sizeOf(gate.shape);
      try {
        const gp = rt.stageF32(gate.data, gate.offset, n);
        const upp = rt.stageF32(up.data, up.offset, n);
        const y = resultF32(rt, alloc, n);
        rt.exports.swigluForward(gp, upp, y.ptr, n);
        return y.done();
      } finally {
        rt.reset();
      }
    },
    backward(gate, up, gy) {
      const n = sizeOf(gate.shape);
      try {
        const gp = rt.stageF32(gate.data, gate.offset, n);
        const upp = rt.stageF32(up.data, up.offset, n);
        const gyp = rt.stageF32(gy.data, gy.offset, n);
        const gGate = resultF32(rt, alloc, n);
        const gUp = resultF32(rt, alloc, n);
        rt.exports.swigluBackward(gp, upp, gyp, gGate.ptr, gUp.ptr, n);
        return [gGate.done(), gUp.done()];
      } finally {
        rt.reset();
      }
    },
  };
}
