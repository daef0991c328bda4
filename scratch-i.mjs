import { get_encoding } from 'tiktoken';
const [name, label, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const unit = { spaces: ' ', digits: '7', char: 'a', newlines: '\n', tabs: '\t', han: '中' }[label];
const ref = get_encoding(name);
try { const t0 = performance.now(); const b = ref.encode(unit.repeat(n)); console.log(name, label, n, 'ok', b.length, (performance.now()-t0).toFixed(0)+'ms'); } catch (e) { console.log(name, label, n, 'CRASH', e.message); }
