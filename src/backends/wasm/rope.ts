/** Backend.fused.rope on the wasm kernel (assembly/rope.ts). */
import { sizeOf, type FusedRope, type View } from '../../tensor/index.js';
import type { Backend } from '../../tensor/index.js';
import { output, type OutputAlloc, type WasmRuntime } from './runtime.js';

function place(rt: WasmRuntime, v: View): number {
  const n = sizeOf(v.shape);
  const at = rt.addressOf(v.data, v.offset, 4);
  if (at >= 0) return at;
  const p = rt.alloc(n * 4);
  rt.f32(p, n).set(v.data.subarray(v.offset, v.offset + n));
  return p;
}

export function wasmRope(rt: WasmRuntime, alloc: OutputAlloc, _ref: Backend): FusedRope {
  return {
    apply(x, cos, sin, layout, inverse) {
      const d = x.shape[x.shape.length - 1]!;
      const t = x.shape[x.shape.length - 2]!;
      const n = sizeOf(x.shape);
      try {
        const [xp, cp, sp] = [place(rt, x), place(rt, cos), place(rt, sin)];
        const out = output(alloc, 'float32', n, false);
        let yp = rt.addressOf(out, 0, 4);
        const direct = yp >= 0;
        if (!direct) yp = rt.alloc(n * 4);
        rt.exports.rope(xp, cp, sp, yp, n / (t * d), t, d, layout === 'interleaved' ? 1 : 0, inverse ? -1 : 1);
        if (!direct) out.set(rt.f32(yp, n));
        return out;
      } finally {
        rt.reset();
      }
    },
  };
}
