/** attn data prepare -> attn train -> attn eval -> attn plot, end to end through the CLI. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { lineChartSvg, niceTicks } from '../../src/index.js';
import { englishProse } from '../tokenizers/corpus.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('attn data / train / eval / plot', () => {
  it('prepares data, trains with checkpoints, evaluates the result and plots the curves', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attn-cli-train-'));
    try {
      const corpus = join(dir, 'corpus.txt');
      writeFileSync(corpus, englishProse(200_000).join('\n\n'));
      let r = attn('data', 'prepare', '--tokenizer', 'gpt2', '--input', corpus, '--out', join(dir, 'data'), '--documents', 'paragraph', '--val-fraction', '0.1', '--json');
      assert.equal(r.code, 0, r.stderr);
      const meta = JSON.parse(r.stdout) as { splits: { train: { tokens: number }; val: { tokens: number } }; vocabSize: number };
      assert.ok(meta.splits.train.tokens > 10_000 && meta.splits.val.tokens > 1_000, JSON.stringify(meta.splits));
      const config = join(dir, 'train.json');
      writeFileSync(config, JSON.stringify({
        model: '', modelConfig: { model_type: 'gpt2', n_embd: 32, n_layer: 1, n_head: 2, n_positions: 64 },
        data: join(dir, 'data'), seqLen: 16, batchSize: 4, steps: 6, warmupSteps: 2, evalEvery: 3, evalBatches: 2, saveEvery: 3, logEvery: 1, peakGflops: 10,
      }));
      r = attn('train', '--config', config, '--out-dir', join(dir, 'run'), '--lr', '3e-3', '--json');
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as { steps: number; val_loss: number; parameters: number; model_dir: string };
      assert.equal(summary.steps, 6);
      assert.ok(existsSync(join(dir, 'run', 'checkpoint-6', 'optimizer.safetensors')));
      assert.ok(existsSync(join(dir, 'run', 'model', 'tokenizer.json')) === false, 'tiktoken datasets have no tokenizer.json to copy');
      const records = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; lr?: number });
      assert.equal(records.filter((x) => x.type === 'train').length, 6);
      assert.equal(records.filter((x) => x.type === 'eval').length, 2);
      assert.equal(records[0]!.lr, 3e-3 / 2, 'the command-line lr override and warmup');
      // attn eval on the exported model over the same 2 validation batches reproduces the trainer's validation loss
      r = attn('eval', '--model', summary.model_dir, '--data', join(dir, 'data'), '--seq-len', '16', '--batch-size', '4', '--max-batches', '2', '--json');
      assert.equal(r.code, 0, r.stderr);
      const ev = JSON.parse(r.stdout) as { loss: number; perplexity: number; tokens: number };
      assert.ok(Math.abs(ev.loss - summary.val_loss) < 1e-5, `eval ${ev.loss} vs trainer ${summary.val_loss}`);
      assert.equal(ev.tokens, 2 * 4 * 16);
      assert.ok(Math.abs(ev.perplexity - Math.exp(ev.loss)) < 1e-9 * ev.perplexity);
      r = attn('plot', join(dir, 'run'), '--out', join(dir, 'loss.svg'));
      assert.equal(r.code, 0, r.stderr);
      const svg = readFileSync(join(dir, 'loss.svg'), 'utf8');
      assert.equal((svg.match(/<path /g) ?? []).length, 2, 'train and validation curves');
      r = attn('plot', join(dir, 'run'), '--out', join(dir, 'loss.png'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([...readFileSync(join(dir, 'loss.png')).subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'a PNG signature');
      // errors name what is wrong
      r = attn('train', '--config', config, '--optimiser', 'adamw');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /unknown key 'optimiser'/);
      r = attn('train', '--config', config, '--steps', 'many');
      assert.match(r.stderr, /'steps' must be a number, got 'many'/);
      r = attn('plot', join(dir, 'run'), '--out', join(dir, 'x.jpg'));
      assert.equal(r.code, 2);
      assert.match(r.stderr, /must end in .svg or .png/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lineChartSvg', () => {
  it('nice ticks and one path per series, scaled into the plot area', () => {
    assert.deepEqual(niceTicks(0, 10), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(0.13, 0.61, 5), [0.2, 0.3, 0.4, 0.5, 0.6]);
    const svg = lineChartSvg([{ name: 'a', points: [[0, 1], [10, 2]] }, { name: 'b', points: [[0, 2], [10, 1]], dashed: true }], { width: 400, height: 300 });
    const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(paths.length, 2);
    // series a rises: its first point is lower on the page (larger y) than its last
    const [p0, p1] = paths[0]!.slice(1).split('L').map((p) => p.split(',').map(Number)) as [[number, number], [number, number]];
    assert.ok(p0[0] < p1[0] && p0[1] > p1[1]);
    assert.match(svg, /stroke-dasharray/);
    assert.throws(() => lineChartSvg([{ name: 'x', points: [[0, NaN]] }]), /no finite points/);
  });
});
