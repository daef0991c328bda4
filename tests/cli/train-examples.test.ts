/**
 * attn data prepare --format seq2seq|classification -> attn train -> attn eval, end to end through
 * the CLI on small generated tasks that a model can only solve by learning them: reversing a
 * sequence of letters (seq2seq) and counting a letter (classification); plus the error messages
 * for malformed example files, and resuming an example run exactly.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A seeded LCG, so the generated tasks are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

const LETTERS = 'abcdefgh';
const COUNT_LABELS = ['none', 'one', 'many'];

/** Reversal pairs of 3-6 letters, and 6-letter texts labelled by how many times 'a' occurs (none / one / many). */
function tasks(n: number): { reverse: string[]; count: string[] } {
  const rnd = lcg(1);
  const word = (k: number): string[] => Array.from({ length: k }, () => LETTERS[Math.floor(rnd() * LETTERS.length)]!);
  const reverse: string[] = [];
  const count: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = word(3 + Math.floor(rnd() * 4));
    reverse.push(JSON.stringify({ source: w.join(' '), target: [...w].reverse().join(' ') }));
    const t = word(6);
    const a = t.filter((c) => c === 'a').length;
    count.push(`${t.join(' ')}\t${COUNT_LABELS[Math.min(a, 2)]}`);
  }
  return { reverse, count };
}

interface TrainSummary { steps: number; final_loss: number; val_loss: number; val_accuracy?: number; val_token_accuracy?: number; val_exact_match?: number; model_dir: string }
interface Rec { type: string; step: number; loss?: number; val_loss?: number; val_accuracy?: number; val_token_accuracy?: number; val_exact_match?: number }

function records(dir: string): Rec[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
}

describe('attn data prepare / train / eval on seq2seq and classification examples', () => {
  let dir = '';
  let tok = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'attn-cli-examples-'));
    const { reverse, count } = tasks(800);
    writeFileSync(join(dir, 'reverse.jsonl'), `${reverse.join('\n')}\n`);
    writeFileSync(join(dir, 'count.tsv'), `text\tlabel\n${count.join('\n')}\n`);
    writeFileSync(join(dir, 'letters.txt'), `${LETTERS.split('').join(' ')}\n`);
    tok = join(dir, 'tokenizer.json');
    // a WordPiece tokenizer whose words are the letters: [PAD]=0, [UNK], [CLS], [SEP]=3, [MASK], a..h
    const r = attn('tokenizer', 'train', '--type', 'wordpiece', '--vocab-size', '40', '--min-frequency', '1', '--input', join(dir, 'letters.txt'), '--output', tok, '--quiet');
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('seq2seq: the original Transformer learns to reverse, T5 gets well above chance, attn eval agrees', () => {
    let r = attn('data', 'prepare', '--format', 'seq2seq', '--tokenizer', tok, '--input', join(dir, 'reverse.jsonl'), '--out', join(dir, 'rev'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(r.stdout) as { task: string; padId: number; eosId: number; decoderStartId: number; splits: { train: { examples: number; tokens: number }; val: { examples: number } } };
    assert.equal(meta.task, 'seq2seq');
    assert.equal(meta.splits.train.examples + meta.splits.val.examples, 800);
    assert.ok(meta.splits.val.examples > 40 && meta.splits.val.examples < 130, `about 10% held out, got ${meta.splits.val.examples}`);
    assert.equal(meta.eosId, 3, '[SEP] ends each source and target');
    assert.equal(meta.decoderStartId, meta.padId);
    // every pair: source letters + eos, target letters + eos, so tokens = 2 * (letters + 1) per example
    assert.ok(readdirSync(join(dir, 'rev')).includes('train.lengths.bin'));
    const common = ['--data', join(dir, 'rev'), '--objective', 'seq2seq', '--model', '', '--seq-len', '16', '--batch-size', '16', '--weight-decay', '0',
      '--warmup-steps', '20', '--eval-every', '100', '--eval-batches', '0', '--save-every', '0', '--log-every', '1', '--peak-gflops', '10', '--json'];
    r = attn('train', ...common, '--out-dir', join(dir, 'run-transformer'), '--steps', '300', '--lr', '3e-3', '--min-lr', '3e-4',
      '--model-config', JSON.stringify({ model_type: 'transformer', d_model: 32, nhead: 4, num_encoder_layers: 2, num_decoder_layers: 2, dim_feedforward: 64, dropout: 0 }));
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as TrainSummary;
    const recs = records(join(dir, 'run-transformer'));
    const first = recs.find((x) => x.type === 'train')!.loss!;
    assert.ok(first > 2, `an untrained model: at or above chance (ln 13 = 2.56), got ${first}`);
    assert.ok(s.val_loss < 0.2, `val loss ${s.val_loss}`);
    assert.ok(s.val_exact_match! >= 0.8, `greedy exact match ${s.val_exact_match}`);
    const evals = recs.filter((x) => x.type === 'eval');
    assert.equal(evals.length, 3);
    assert.ok(evals[0]!.val_loss! > evals[2]!.val_loss!, 'validation loss falls');
    assert.ok(evals[0]!.val_exact_match! < evals[2]!.val_exact_match!);
    const ev = attn('eval', '--model', s.model_dir, '--data', join(dir, 'rev'), '--seq-len', '16', '--batch-size', '16', '--json');
    assert.equal(ev.code, 0, ev.stderr);
    const e = JSON.parse(ev.stdout) as { loss: number; examples: number; token_accuracy: number; exact_match: number };
    assert.ok(Math.abs(e.loss - s.val_loss) < 1e-5, `eval ${e.loss} vs trainer ${s.val_loss}`);
    assert.equal(e.exact_match, s.val_exact_match);
    assert.equal(e.examples, meta.splits.val.examples);

    r = attn('train', ...common, '--out-dir', join(dir, 'run-t5'), '--steps', '200', '--lr', '3e-3', '--min-lr', '3e-4',
      '--model-config', JSON.stringify({ model_type: 't5', d_model: 32, d_kv: 8, num_heads: 4, d_ff: 64, num_layers: 2, dropout_rate: 0, relative_attention_num_buckets: 8, relative_attention_max_distance: 16 }));
    assert.equal(r.code, 0, r.stderr);
    const t5 = JSON.parse(r.stdout) as TrainSummary;
    const t5First = records(join(dir, 'run-t5')).find((x) => x.type === 'train')!.loss!;
    assert.ok(t5.val_loss < t5First / 2, `T5 val loss ${t5.val_loss} vs first train loss ${t5First}`);
    assert.ok(t5.val_token_accuracy! > 0.4, `token accuracy ${t5.val_token_accuracy} (chance about 1/9)`);
    // the exported config carries the dataset's special ids, so generation starts and stops as in training
    const t5Config = JSON.parse(readFileSync(join(t5.model_dir, 'config.json'), 'utf8')) as { pad_token_id: number; decoder_start_token_id: number; eos_token_id: number };
    assert.deepEqual([t5Config.pad_token_id, t5Config.decoder_start_token_id, t5Config.eos_token_id], [meta.padId, meta.decoderStartId, meta.eosId]);
  });

  it('classification: BERT learns to count a letter from TSV rows, labels map to ids, attn eval agrees; resume is exact', () => {
    let r = attn('data', 'prepare', '--format', 'classification', '--tokenizer', tok, '--input', join(dir, 'count.tsv'), '--out', join(dir, 'count'), '--labels', COUNT_LABELS.join(','), '--json');
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(r.stdout) as { numLabels: number; splits: { train: { examples: number; tokens: number } } };
    assert.equal(meta.numLabels, 3);
    assert.equal(meta.splits.train.tokens, meta.splits.train.examples * 8, '[CLS] + 6 letters + [SEP] per text');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'count', 'labels.json'), 'utf8')), { labels: COUNT_LABELS });
    const config = join(dir, 'bert.json');
    writeFileSync(config, JSON.stringify({
      model: '', objective: 'classification', data: join(dir, 'count'),
      modelConfig: { model_type: 'bert', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 32, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
      seqLen: 16, batchSize: 16, steps: 250, lr: 3e-3, minLr: 3e-4, warmupSteps: 20, weightDecay: 0, evalEvery: 10, evalBatches: 0, saveEvery: 0, logEvery: 1, peakGflops: 10,
    }));
    r = attn('train', '--config', config, '--out-dir', join(dir, 'run-bert'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as TrainSummary;
    const recs = records(join(dir, 'run-bert'));
    const first = recs.find((x) => x.type === 'train')!.loss!;
    assert.ok(Math.abs(first - Math.log(3)) < 0.3, `starts near ln 3, got ${first}`);
    const evals = recs.filter((x) => x.type === 'eval');
    // the majority class ('none': 6 letters without an 'a', (7/8)^6 = 45%) is the baseline to beat
    assert.ok(evals[0]!.val_accuracy! < 0.75, `after 10 steps, accuracy ${evals[0]!.val_accuracy}`);
    assert.ok(s.val_accuracy! >= 0.9, `final accuracy ${s.val_accuracy}`);
    assert.ok(s.val_loss < evals[0]!.val_loss! / 2);
    const cfg = JSON.parse(readFileSync(join(s.model_dir, 'config.json'), 'utf8')) as { architectures: string[]; num_labels: number; id2label: Record<string, string>; label2id: Record<string, number> };
    assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);
    assert.equal(cfg.num_labels, 3);
    assert.deepEqual(cfg.id2label, { 0: 'none', 1: 'one', 2: 'many' });
    assert.deepEqual(cfg.label2id, { none: 0, one: 1, many: 2 });
    const ev = attn('eval', '--model', s.model_dir, '--data', join(dir, 'count'), '--seq-len', '16', '--batch-size', '16', '--json');
    assert.equal(ev.code, 0, ev.stderr);
    const e = JSON.parse(ev.stdout) as { loss: number; accuracy: number };
    assert.ok(Math.abs(e.loss - s.val_loss) < 1e-5, `eval ${e.loss} vs trainer ${s.val_loss}`);
    assert.equal(e.accuracy, s.val_accuracy);

    // resume: stop after the step-4 checkpoint, continue to 8: the same losses as 8 steps straight
    const short = ['--config', config, '--steps', '8', '--warmup-steps', '2', '--eval-every', '4', '--save-every', '4', '--keep-checkpoints', '3', '--json'];
    r = attn('train', ...short, '--out-dir', join(dir, 'full'));
    assert.equal(r.code, 0, r.stderr);
    cpSync(join(dir, 'full'), join(dir, 'resumed'), { recursive: true });
    rmSync(join(dir, 'resumed', 'checkpoint-8'), { recursive: true });
    r = attn('train', ...short, '--out-dir', join(dir, 'resumed'), '--resume');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { resumed_from: number }).resumed_from, 4);
    const figures = (d: string): unknown[] => records(d).map((x) => [x.type, x.step, x.loss ?? x.val_loss, x.val_accuracy ?? null]);
    assert.equal(figures(join(dir, 'full')).length, 8 + 2);
    assert.deepEqual(figures(join(dir, 'resumed')), figures(join(dir, 'full')), 'identical losses and accuracies after the resume');
  });

  it('errors name the file, the line and what is wrong; a failed prepare leaves nothing behind', () => {
    const cases: [string, string, string[], RegExp][] = [
      ['bad.jsonl', '{"source": "a b", "target": "b a"}\n{"source": "a b", "target": \n', [], /bad\.jsonl:2: not valid JSON/],
      ['unknown.jsonl', '{"source": "a", "target": "a", "id": 7}\n', [], /unknown\.jsonl:1: unknown field "id" \(a seq2seq row has "source" and "target"\)/],
      ['missing.jsonl', '{"source": "a"}\n', [], /missing\.jsonl:1: missing field "target"/],
      ['empty.jsonl', '{"source": "a b", "target": "b a"}\n\n{"source": "  ", "target": "b"}\n', [], /empty\.jsonl:3: empty "source"/],
      ['number.jsonl', '{"source": 5, "target": "b"}\n', [], /number\.jsonl:1: "source" must be a string, got 5/],
      ['array.jsonl', '["a", "b"]\n', [], /array\.jsonl:1: expected a JSON object with "source" and "target", got an array/],
      ['cols.tsv', 'a b\tb a\na\tb\tc\n', [], /cols\.tsv:2: expected 2 tab-separated columns \(source, target\), got 3/],
      ['text.txt', 'a b\n', [], /input '.*text\.txt': expected a \.jsonl or \.tsv file of source\/target rows/],
      ['label.jsonl', '{"text": "a b", "label": "x"}\n{"text": "b", "label": "z"}\n', ['--format', 'classification', '--labels', 'x,y'], /label\.jsonl:2: label 'z' is not one of the given labels \(x, y\)/],
      ['nolabel.jsonl', '{"text": "a b", "label": ""}\n', ['--format', 'classification'], /nolabel\.jsonl:1: empty "label"/],
      ['one.jsonl', '{"text": "a b", "label": "x"}\n{"text": "b", "label": "x"}\n', ['--format', 'classification', '--val-fraction', '0'], /only one label \('x'\) in the data: a classifier needs at least 2/],
    ];
    for (const [name, text, extra, pattern] of cases) {
      writeFileSync(join(dir, name), text);
      const out = join(dir, `out-${name}`);
      const r = attn('data', 'prepare', '--tokenizer', tok, '--input', join(dir, name), '--out', out, ...(extra.length ? extra : ['--format', 'seq2seq']), '--val-fraction', '0');
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, pattern, name);
      assert.ok(!existsSync(out), `${name}: no output folder`);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary folders left');
    let r = attn('data', 'prepare', '--tokenizer', tok, '--input', join(dir, 'count.tsv'), '--out', join(dir, 'x'), '--format', 'pairs');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--format: expected tokens, seq2seq or classification, got 'pairs'/);
    // the objective must match the dataset
    r = attn('train', '--data', join(dir, 'rev'), '--objective', 'classification', '--model', '', '--model-config', '{"model_type":"bert"}', '--out-dir', join(dir, 'wrong'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds seq2seq examples, but the objective is 'classification'/);
    r = attn('train', '--data', join(dir, 'rev'), '--objective', 'causal-lm', '--out-dir', join(dir, 'wrong'));
    assert.match(r.stderr, /holds seq2seq examples: train it with objective 'seq2seq', not 'causal-lm'/);
    r = attn('train', '--data', join(dir, 'rev'), '--objective', 'seq2seq', '--model', '', '--model-config', '{"model_type":"gpt2","n_embd":16,"n_layer":1,"n_head":2}', '--out-dir', join(dir, 'wrong'));
    assert.match(r.stderr, /has no 'lm' head|needs an encoder-decoder model/);
  });
});
