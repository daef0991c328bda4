import { loadTiktoken } from './dist/src/index.js';
const ours = loadTiktoken('cl100k_base');
const text = ' '.repeat(1 << 20);
ours.encode(text.slice(0, 1000));
const t0 = performance.now(); ours.encode(text); console.log(performance.now() - t0);
