#!/usr/bin/env node
// Prints the text sentencepiece.py trains on and the test lines it encodes, as one JSON object
// {train, lines}, built from the test corpus (tests/tokenizers/corpus.ts; run `npm run build` first).
import { englishProse, generatedUnicode } from '../../dist/tests/tokenizers/corpus.js';

const train = [...englishProse(400_000), ...generatedUnicode(20_000, 7)].join('\n');
const prose = englishProse(300_000)
  .flatMap((d) => d.split('\n'))
  .map((l) => l.trim())
  .filter((l) => l.length > 20)
  // Paragraphs are long; their first 200 characters (up to a space) keep the fixture small.
  .map((l) => (l.length <= 200 ? l : l.slice(0, l.lastIndexOf(' ', 200))));
// Every 5th line of prose, so the lines come from many documents rather than the first one.
const proseLines = prose.filter((_, i) => i % 5 === 0).slice(0, 200);
const unicodeLines = generatedUnicode(30_000, 11)
  .flatMap((d) => d.match(/[^]{1,120}/gu) ?? [])
  .slice(0, 150);
const edges = [
  '',
  ' ',
  '   ',
  '   leading and trailing   ',
  'two  spaces   three    four',
  'tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideographic space',
  'Héllo WÖRLD, naïve café — “quotes” ½ ² ΣΊΣΥΦΟΣ İstanbul ﬁ ㍿ Ⅻ ①',
  '中文字符和日本語のテキスト 한국어',
  'emoji 👨‍👩‍👧‍👦 and 🇫🇷 flags 👍🏽',
  'digits 0123456789 3.14159 1,000,000 ٣٤٥ １２３',
  'control\u0001chars\u0007and\ufffdreplacement\u200bzero width\u2581lower block',
  '<unk> <s> </s> <pad> <0x41> <sep> :: a::b x<sep>y',
  'a'.repeat(150),
  "don't won't I'm you're they've it's",
  'ǅungla Straße ÉCOLE ʰello K Å ﬀ',
  'e\u0301 a\u0308 combining e\u0301\u0301 ',
];
process.stdout.write(JSON.stringify({ train, lines: [...proseLines, ...unicodeLines, ...edges] }));
