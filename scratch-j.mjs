import { loadTiktoken } from './dist/src/index.js';
for (const name of ['gpt2', 'cl100k_base', 'o200k_base']) {
  const ours = loadTiktoken(name);
  for (const [label, unit] of [['spaces', ' '], ['char', 'a'], ['newlines', '\n'], ['han', '中']]) {
    const out = [];
    for (const n of [16384, 16385, 16387, 1 << 20, (1 << 20) + 3]) {
      const ids = ours.encode(unit.repeat(n));
      const counts = new Map(); for (const i of ids) counts.set(i, (counts.get(i) ?? 0) + 1);
      out.push(`${n}:${ids.length} distinct ${counts.size} head ${ids.slice(0,3)} tail ${ids.slice(-3)}`);
    }
    console.log(name, label, out.join(' | '));
  }
}
