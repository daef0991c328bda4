// Rotary position embedding (RoFormer, Su et al. 2021): rotate channel pairs of x [outer, T, d]
// by the angles of their position, cos/sin [T, d/2]. 'half' pairs (i, i + d/2) as Hugging Face
// LLaMA; 'interleaved' pairs (2i, 2i + 1) as GPT-J / Meta. sign = -1 rotates backwards (the
// gradient of a rotation is the inverse rotation).
export function rope(x: usize, cos: usize, sin: usize, y: usize, outer: i32, t: i32, d: i32, interleaved: i32, sign: f32): void {
  const half = d >> 1;
  const sv = f32x4.splat(sign);
  for (let o = 0; o < outer; o++) {
    for (let ti = 0; ti < t; ti++) {
      const row = <usize>((o * t + ti) * d) << 2;
      const xr = x + row;
      const yr = y + row;
      const cr = cos + (<usize>(ti * half) << 2);
      const sr = sin + (<usize>(ti * half) << 2);
      if (interleaved) {
        for (let i = 0; i < half; i++) {
          const c = load<f32>(cr + (<usize>i << 2));
          const s = sign * load<f32>(sr + (<usize>i << 2));
          const a = load<f32>(xr + (<usize>(2 * i) << 2));
          const b = load<f32>(xr + (<usize>(2 * i + 1) << 2));
          store<f32>(yr + (<usize>(2 * i) << 2), a * c - b * s);
          store<f32>(yr + (<usize>(2 * i + 1) << 2), a * s + b * c);
        }
        continue;
      }
      const x2 = xr + (<usize>half << 2);
      const y2 = yr + (<usize>half << 2);
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const k = <usize>i << 2;
        const c = v128.load(cr + k);
        const s = f32x4.mul(v128.load(sr + k), sv);
        const a = v128.load(xr + k);
        const b = v128.load(x2 + k);
        v128.store(yr + k, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
        v128.store(y2 + k, f32x4.add(f32x4.mul(b, c), f32x4.mul(a, s)));
      }
      for (; i < half; i++) {
        const k = <usize>i << 2;
        const c = load<f32>(cr + k);
        const s = sign * load<f32>(sr + k);
        const a = load<f32>(xr + k);
        const b = load<f32>(x2 + k);
        store<f32>(yr + k, a * c - b * s);
        store<f32>(y2 + k, b * c + a * s);
      }
    }
  }
}
