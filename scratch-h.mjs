import { loadTiktoken } from './dist/src/index.js';
const name = process.argv[2];
const ours = loadTiktoken(name);
for (const [label, unit] of [['spaces', ' '], ['digits', '7'], ['char', 'a'], ['newlines', '\n']]) {
  const row = [];
  for (const n of [1 << 18, 1 << 20, 1 << 22]) {
    const text = unit.repeat(n);
    const t0 = performance.now(); ours.encode(text); row.push(((performance.now() - t0) / (n / 1e6)).toFixed(0));
  }
  console.log(name, label, 'ms/MB at 0.25,1,4 MB:', row.join(' '));
}
