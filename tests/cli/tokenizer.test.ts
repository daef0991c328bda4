/**
 * `attn tokenizer train --type wordpiece|unigram --out DIR` and `attn tokenizer stats`: the trained
 * files load in Hugging Face tokenizers with the same ids; the same input gives a byte-identical
 * file; the stats equal counts computed directly with tiktoken on the whole text.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { get_encoding } from 'tiktoken';
import hf from 'tokenizers';
import { loadTokenizerJson, TokenizerStatsCounter, loadTiktoken } from '../../src/index.js';
import { englishProse, generatedUnicode } from '../tokenizers/corpus.js';
import { tempDir } from '../helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function corpusFiles(): { dir: string; a: string; b: string } {
  const dir = tempDir('attn-tokenizer-');
  const docs = englishProse(300_000);
  const a = join(dir, 'a.txt');
  const b = join(dir, 'b.txt');
  writeFileSync(a, docs.slice(0, 8).join('\n'));
  writeFileSync(b, [...docs.slice(8), ...generatedUnicode(20_000, 4)].join('\n'));
  return { dir, a, b };
}

describe('attn tokenizer train --type', () => {
  for (const type of ['wordpiece', 'unigram'] as const) {
    it(`${type}: --out DIR gets a tokenizer.json that Hugging Face tokenizers loads with the same ids; reruns are identical`, async () => {
      const { dir, a, b } = corpusFiles();
      const out = join(dir, 'out');
      const r = attn('tokenizer', 'train', '--type', type, '--vocab-size', '3000', '--input', a, '--input', b, '--out', out, '--json');
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as { type: string; vocabSize: number; output: string };
      assert.deepEqual([summary.type, summary.vocabSize, summary.output], [type, 3000, join(out, 'tokenizer.json')]);
      assert.deepEqual(readdirSync(out), ['tokenizer.json']); // the temporary file was renamed away
      const file = join(out, 'tokenizer.json');
      const ours = loadTokenizerJson(file);
      const ref = hf.Tokenizer.fromFile(file);
      for (const line of [...englishProse(400_000).slice(-3).flatMap((d) => d.split('\n').slice(0, 30)), 'Ünïcödé 中文 ﬁ  x']) {
        assert.deepEqual(ours.encode(line), (await ref.encode(line)).getIds(), line);
      }
      const again = join(dir, 'again');
      assert.equal(attn('tokenizer', 'train', '--type', type, '--vocab-size', '3000', '--input', a, '--input', b, '--out', again, '--quiet').code, 0);
      assert.equal(readFileSync(join(again, 'tokenizer.json'), 'utf8'), readFileSync(file, 'utf8'));
    });
  }

  it('shows a progress bar on stderr unless --quiet', () => {
    const { dir, a } = corpusFiles();
    const r = attn('tokenizer', 'train', '--type', 'wordpiece', '--vocab-size', '800', '--input', a, '--out', join(dir, 'o'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /count\s+\[#+\] \d+\/\d+/);
    assert.match(r.stderr, /merge\s+\[#+\]/);
    assert.match(r.stdout, /^wordpiece: 800 tokens from \d+ distinct words/);
    assert.equal(attn('tokenizer', 'train', '--type', 'wordpiece', '--vocab-size', '800', '--input', a, '--out', join(dir, 'q'), '--quiet').stderr, '');
  });

  it('bad arguments fail with a message naming them', () => {
    const { dir, a } = corpusFiles();
    assert.match(attn('tokenizer', 'train', '--type', 'sentencepiece', '--input', a, '--vocab-size', '100', '--out', dir).stderr, /--type: unknown type 'sentencepiece' \(known: bpe, wordpiece, unigram\)/);
    assert.match(attn('tokenizer', 'train', '--type', 'unigram', '--input', join(dir, 'missing.txt'), '--vocab-size', '100', '--out', dir).stderr, /--input: cannot read '.*missing.txt': no such file/);
    assert.match(attn('tokenizer', 'train', '--type', 'unigram', '--input', a, '--vocab-size', '100').stderr, /give exactly one of --out DIR or --output FILE/);
    assert.match(attn('tokenizer', 'train', '--type', 'unigram', '--input', a, '--vocab-size', '100', '--out', a).stderr, /--out: '.*a.txt' exists and is not a directory/);
    assert.match(attn('tokenizer', 'train', '--type', 'wordpiece', '--input', a, '--vocab-size', '100', '--out', dir, '--pattern', 'gpt2').stderr, /--pattern applies to --type bpe/);
    assert.match(attn('tokenizer', 'train', '--type', 'unigram', '--input', a, '--vocab-size', '3', '--out', dir).stderr, /vocabSize must be an integer larger than the 3 special tokens/);
    assert.match(attn('tokenizer', 'train', '--type', 'unigram', '--input', a, '--vocab-size', '20', '--out', dir).stderr, /vocabSize 20 cannot hold the \d+ characters .* raise vocabSize or lower characterCoverage/);
  });
});

describe('attn tokenizer stats', () => {
  it('reports the counts tiktoken gives on the whole text, side by side with gpt2 and cl100k', () => {
    const { dir, a } = corpusFiles();
    const text = readFileSync(a, 'utf8');
    const out = join(dir, 'bpe');
    assert.equal(attn('tokenizer', 'train', '--vocab-size', '1000', '--input', a, '--out', out, '--quiet').code, 0);
    const r = attn('tokenizer', 'stats', '--tokenizer', join(out, 'tokenizer.json'), '--input', a, '--json');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { input: { bytes: number; words: number }; tokenizers: { tokenizer: string; tokens: number; bytesPerToken: number; tokensPerWord: number; distinctTokens: number; vocabSize: number; unknownRate: number | null }[] };
    assert.equal(doc.input.bytes, Buffer.byteLength(text));
    assert.equal(doc.input.words, text.split(/\p{White_Space}+/u).filter((w) => w !== '').length);
    assert.deepEqual(doc.tokenizers.map((t) => t.tokenizer), [join(out, 'tokenizer.json'), 'gpt2', 'cl100k_base']);
    for (const name of ['gpt2', 'cl100k_base'] as const) {
      const ref = get_encoding(name);
      const ids = ref.encode(text, [], []);
      ref.free();
      const row = doc.tokenizers.find((t) => t.tokenizer === name)!;
      assert.equal(row.tokens, ids.length, name);
      assert.equal(row.distinctTokens, new Set(ids).size, name);
      assert.equal(row.bytesPerToken, doc.input.bytes / ids.length);
      assert.equal(row.unknownRate, null);
    }
    // Trained on this very text, the small tokenizer uses most of its vocabulary (not the unseen bytes) on it.
    const trained = doc.tokenizers[0]!;
    assert.ok(trained.distinctTokens / trained.vocabSize > 0.7, `${trained.distinctTokens} of ${trained.vocabSize}`);
    const table = attn('tokenizer', 'stats', '--tokenizer', join(out, 'tokenizer.json'), '--input', a);
    assert.match(table.stdout, /tokenizer\s+tokens\s+bytes\/token\s+chars\/token\s+tokens\/word\s+vocab used\s+unknown/);
    assert.match(table.stdout, /\ncl100k_base\s+\d+/);
  });

  it('streamed in small chunks, the counts equal those of encoding the whole text', () => {
    const text = [...englishProse(200_000), ...generatedUnicode(50_000, 2)].join('\n');
    for (const name of ['gpt2', 'cl100k_base', 'o200k_base'] as const) {
      const tok = loadTiktoken(name);
      const whole = new TokenizerStatsCounter(tok);
      whole.add(text);
      const streamed = new TokenizerStatsCounter(tok);
      for (let i = 0; i < text.length; i += 999) streamed.push(text.slice(i, i + 999));
      streamed.end();
      assert.deepEqual(streamed.result(), whole.result(), name);
    }
  });

  it('counts unknown tokens of a WordPiece tokenizer', () => {
    const { dir, a } = corpusFiles();
    const out = join(dir, 'wp');
    assert.equal(attn('tokenizer', 'train', '--type', 'wordpiece', '--vocab-size', '500', '--input', a, '--out', out, '--quiet').code, 0);
    const tok = loadTokenizerJson(join(out, 'tokenizer.json'));
    const c = new TokenizerStatsCounter(tok);
    c.add('the 中文 the');
    const ids = tok.encode('the 中文 the', { addSpecialTokens: false });
    const unk = ids.filter((id) => id === tok.tokenToId('[UNK]')).length;
    assert.ok(unk >= 1);
    assert.deepEqual([c.result().unknownTokens, c.result().tokens], [unk, ids.length]);
  });
});
