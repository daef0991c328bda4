// Embedding lookup and its gradient over whole rows: indexSelect / indexAdd along axis 0 of a
// contiguous [V, D] table (row copies with memory.copy; gradient rows accumulated with SIMD).

/** y[i, :] = table[ids[i], :] for n ids; returns the first out-of-range id, or -1. */
export function gatherRows(table: usize, ids: usize, y: usize, n: i32, vocab: i32, d: i32): i32 {
  const rowBytes = <usize>d << 2;
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    if (id < 0 || id >= vocab) return i;
    memory.copy(y + <usize>i * rowBytes, table + <usize>id * rowBytes, rowBytes);
  }
  return -1;
}

/** table[ids[i], :] += src[i, :] (in place) for n ids; returns the first out-of-range id, or -1. */
export function scatterAddRows(table: usize, ids: usize, src: usize, n: i32, vocab: i32, d: i32): i32 {
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    if (id < 0 || id >= vocab) return i;
    const dst = table + (<usize>(id * d) << 2);
    const s = src + (<usize>(i * d) << 2);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(s + o)));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(s + o));
    }
  }
  return -1;
}
