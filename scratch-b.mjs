import { trainUnigram, unigramTokenizerJson, tokenizerFromJson } from './dist/src/index.js';
import { englishProse } from './dist/tests/tokenizers/corpus.js';
import { writeFileSync } from 'node:fs';
const docs = englishProse(1_500_000);
const lines = docs.flatMap((d) => d.split('\n')).flatMap((l) => l.match(/.{1,2000}(\s|$)|.{1,2000}/gs) ?? []).map((l) => l.trim()).filter((l) => l);
const held = lines.filter((_, i) => i % 10 === 0), train = lines.filter((_, i) => i % 10 !== 0);
writeFileSync('/tmp/tk/train.txt', train.join('\n') + '\n');
writeFileSync('/tmp/tk/held.txt', held.join('\n') + '\n');
for (const V of [2000, 8000]) {
  const t0 = performance.now();
  const ug = trainUnigram(train, { vocabSize: V });
  const tok = tokenizerFromJson(unigramTokenizerJson(ug));
  let n = 0; for (const l of held) n += tok.encode(l).length;
  console.log(V, 'ours seconds', ((performance.now() - t0) / 1000).toFixed(1), 'pieces', ug.pieces.length, 'held tokens', n, 'bytes', Buffer.byteLength(held.join('\n')));
}
