import { loadTiktoken } from './dist/src/index.js';
import { get_encoding } from 'tiktoken';
for (const name of ['gpt2', 'cl100k_base', 'o200k_base']) {
  const ours = loadTiktoken(name);
  for (const [label, text] of [['spaces', ' '.repeat(1 << 20)], ['digits', '7'.repeat(1 << 20)], ['char', 'a'.repeat(1 << 20)], ['newlines', '\n'.repeat(1<<20)], ['mixed digits', '0123456789'.repeat(1 << 17)]]) {
    let t0 = performance.now(); const a = ours.encode(text); const ta = performance.now() - t0;
    let same = 'crash', tb = 0, bl = -1;
    try { const ref = get_encoding(name); t0 = performance.now(); const b = ref.encode(text); tb = performance.now() - t0; bl = b.length; same = JSON.stringify(a) === JSON.stringify(Array.from(b)); ref.free(); } catch (e) { same = 'tiktoken: ' + e.message; }
    console.log(name, label, a.length, bl, same, ta.toFixed(0) + 'ms', tb.toFixed(0) + 'ms');
  }
}
