/**
 * Batched generation with left padding, for every decoder-only fixture (GPT-2 and its position
 * variants, LLaMA incl. bias/YaRN/dynamic-NTK, Mistral with its window-3 ring, Qwen2):
 * - a batch of 3 prompts of lengths 5, 2 and 4: each row's greedy tokens equal the same prompt
 *   run alone (exact) and each row's logits at every step equal the lone run's within 1e-4, with
 *   the model's default cache and prefill chunks of 2 (Mistral's ring then wraps inside a chunk);
 *   for every family but llama-dynamic also with no cache at all (dynamic NTK changes the RoPE
 *   base with the length, so a recomputation, or another prefill chunking, differs from the
 *   lone cached run; llama-dynamic is compared with one-chunk prefills, alone and batched);
 * - a full, uncached padded forward gives the unpadded forward's logits at the real positions;
 * - an attention mask of all ones changes nothing, bit for bit, with and without a cache;
 * - bad masks (shape, values) and caches that cannot batch are errors naming the problem;
 * - generateBatch: rows that stop early (a stop id, maxTokens) leave the batch and every row's
 *   ids/text/finishReason equal generateAll alone; a seeded sampled batch is reproducible and
 *   equals the lone seeded runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BatchSession, InferenceSession, PagedKVPool, fromTypedArray, generateAll, generateBatch, generativeModel, greedy, loadModel, noGrad,
  readHfFolder, tidy, withoutFused, type BatchCache, type GenerativeModel, type SessionCache,
} from '../../src/index.js';
import { FIXTURES, maxAbsDiff } from '../helpers.js';

const FAMILIES = [
  'gpt2', 'gpt2-sinusoidal', 'gpt2-rope', 'gpt2-alibi', 'gpt2-none', 'gpt2-post', 'gpt2-alibi-post',
  'llama', 'llama-bias', 'llama-yarn', 'llama-dynamic', 'mistral', 'qwen2',
];
/** Lengths 5, 2, 4; ids below 48, the smallest fixture vocabulary. */
const PROMPTS = [[3, 17, 42, 8, 30], [9, 2], [11, 12, 13, 14]];
const STEPS = 3; // the GPT-2 variants have 8 learned/usable positions: 5 + 3

function load(name: string): GenerativeModel {
  const f = readHfFolder(join(FIXTURES, `models-${name}`));
  return generativeModel(loadModel(f), { config: f.config });
}

interface Run { tokens: number[]; logits: Float32Array[] }

/** One prompt alone through an InferenceSession, greedy. */
function lone(model: GenerativeModel, prompt: number[], steps: number, cache?: SessionCache): Run {
  const s = new InferenceSession(model, cache ? { cache } : {});
  const run: Run = { tokens: [], logits: [] };
  try {
    let l = s.feed(prompt);
    for (let i = 0; i < steps; i++) {
      run.logits.push(l);
      run.tokens.push(greedy(l));
      if (i + 1 < steps) l = s.feed([run.tokens[i]!]);
    }
  } finally {
    s.dispose();
  }
  return run;
}

/** The prompts as one padded batch, greedy, every row for `steps` tokens. */
function batched(model: GenerativeModel, prompts: number[][], steps: number, opts: { cache?: BatchCache; prefillChunk?: number } = {}): Run[] {
  const s = new BatchSession(model, opts);
  const runs: Run[] = prompts.map(() => ({ tokens: [], logits: [] }));
  try {
    let logits = s.prefill(prompts);
    for (let i = 0; i < steps; i++) {
      const next = logits.map((l, b) => {
        runs[b]!.logits.push(l);
        const t = greedy(l);
        runs[b]!.tokens.push(t);
        return t;
      });
      if (i + 1 < steps) logits = s.step(next);
    }
  } finally {
    s.dispose();
  }
  return runs;
}

function assertRowsMatch(alone: Run[], batch: Run[], what: string): number {
  let worst = 0;
  alone.forEach((a, r) => {
    assert.deepEqual(batch[r]!.tokens, a.tokens, `${what}, row ${r}: greedy tokens`);
    a.logits.forEach((l, i) => (worst = Math.max(worst, maxAbsDiff(batch[r]!.logits[i]!, l))));
  });
  assert.ok(worst <= 1e-4, `${what}: max |logits diff| ${worst}`);
  return worst;
}

function logitsOf(model: GenerativeModel, rows: number[][], mask: number[][] | null): Float32Array {
  const [b, t] = [rows.length, rows[0]!.length];
  return noGrad(() => tidy(() => model.logits(fromTypedArray(Int32Array.from(rows.flat()), [b, t]), {
    cache: null, memory: null, logitsToKeep: 0, ...(mask ? { attentionMask: fromTypedArray(Int32Array.from(mask.flat()), [b, t]) } : {}),
  }).toTypedArray() as Float32Array));
}

for (const name of FAMILIES) {
  describe(`${name}: a padded batch equals each prompt alone`, () => {
    const model = load(name);

    it('greedy tokens exact and logits within 1e-4 at every step (default cache, prefill chunks of 2; and no cache)', () => {
      const alone = PROMPTS.map((p) => lone(model, p, STEPS));
      // dynamic NTK keys depend on the prefill's chunking itself, so llama-dynamic prefills in one chunk, as its lone run does
      const d1 = assertRowsMatch(alone, batched(model, PROMPTS, STEPS, name === 'llama-dynamic' ? {} : { prefillChunk: 2 }), 'default cache');
      let d2 = NaN;
      if (name !== 'llama-dynamic') d2 = assertRowsMatch(alone, batched(model, PROMPTS, STEPS, { cache: 'none' }), 'no cache');
      console.log(`# ${name}: rows [${alone.map((a) => a.tokens.join(' ')).join(' | ')}], max |diff| cached ${d1.toExponential(2)}, uncached ${d2.toExponential(2)}`);
    });

    it('a full uncached padded forward gives the unpadded logits at the real positions', () => {
      const width = Math.max(...PROMPTS.map((p) => p.length));
      const ids = PROMPTS.map((p) => [...Array<number>(width - p.length).fill(0), ...p]);
      const mask = PROMPTS.map((p) => [...Array<number>(width - p.length).fill(0), ...Array<number>(p.length).fill(1)]);
      const padded = logitsOf(model, ids, mask); // [3, width, V]
      const v = model.vocabSize;
      assert.ok(padded.every(Number.isFinite), 'padded positions stay finite');
      let worst = 0;
      PROMPTS.forEach((p, r) => {
        const alone = logitsOf(model, [p], null); // [1, len, V]
        const at = (r * width + width - p.length) * v;
        worst = Math.max(worst, maxAbsDiff(padded.subarray(at, at + p.length * v), alone));
      });
      assert.ok(worst <= 1e-4, `max |logits diff| ${worst}`);
    });

    it('an attention mask of all ones changes nothing (bit-identical, with and without a cache)', () => {
      const rows = [PROMPTS[0]!, [5, 6, 7, 8, 9]];
      const ones = rows.map((r) => r.map(() => 1));
      assert.deepEqual(logitsOf(model, rows, ones), logitsOf(model, rows, null));
      const s1 = new BatchSession(model);
      const s2 = new BatchSession(model);
      try {
        // equal lengths: the session's mask is all ones, against the model run without a mask
        const viaMask = s1.prefill(rows);
        const plain = noGrad(() => tidy(() => model.logits(fromTypedArray(Int32Array.from(rows.flat()), [2, 5]), { cache: null, memory: null, logitsToKeep: 1 }).toTypedArray()));
        viaMask.forEach((l, r) => assert.deepEqual(l, plain.slice(r * model.vocabSize, (r + 1) * model.vocabSize)));
        s2.prefill(rows);
        assert.deepEqual(s1.step([1, 2]), s2.step([1, 2]));
      } finally {
        s1.dispose();
        s2.dispose();
      }
    });
  });
}

describe('batches: composed attention, errors, caches that cannot batch', () => {
  for (const name of ['llama', 'mistral', 'gpt2-alibi', 'gpt2-rope']) {
    it(`${name} through the composed oracle (withoutFused) equals the fused batch and the lone runs within 1e-4`, () => {
      const model = load(name);
      const fused = batched(model, PROMPTS, STEPS, { prefillChunk: 2 });
      const composed = withoutFused(() => batched(model, PROMPTS, STEPS, { prefillChunk: 2 }));
      assertRowsMatch(fused, composed, 'composed');
      assertRowsMatch(PROMPTS.map((p) => withoutFused(() => lone(model, p, STEPS))), composed, 'composed vs lone');
    });
  }

  it('mistral: prompts longer than the window-3 ring, prefilled in chunks of 2 and 5, equal the lone runs', () => {
    const model = load('mistral');
    const prompts = [[3, 17, 42, 8, 8, 61, 5], [9, 2], [1, 2, 3, 4]];
    const alone = prompts.map((p) => lone(model, p, 5));
    for (const chunk of [2, 5]) assertRowsMatch(alone, batched(model, prompts, 5, { prefillChunk: chunk }), `chunk ${chunk}`);
  });

  it('a bad mask shape or value is an error naming it', () => {
    const model = load('llama');
    const ids = fromTypedArray(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const run = (mask: number[], shape: number[]) => noGrad(() => tidy(() => model.logits(ids, {
      cache: null, memory: null, logitsToKeep: 1, attentionMask: fromTypedArray(Int32Array.from(mask), shape),
    })));
    assert.throws(() => run([1, 1, 1, 1], [2, 2]), /LlamaModel: attentionMask must be \[B, past \+ T\] = \[2, 3\] \(one column per cached and new token\), got \[2,2\]/);
    assert.throws(() => run([1, 1, 1], [3]), /attentionMask must be \[B, past \+ T\] = \[2, 3\]/);
    assert.throws(() => run([1, 1, 2, 1, 1, 1], [2, 3]), /attentionMask entries must be 0 \(padding\) or 1 \(a token\), got 2 at row 0, column 2/);
    const gpt2 = load('gpt2');
    assert.throws(() => noGrad(() => gpt2.logits(ids, { cache: null, memory: null, logitsToKeep: 1, attentionMask: fromTypedArray(Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1]), [2, 4]) })),
      /GPT2Model: attentionMask must be \[B, past \+ T\] = \[2, 3\]/);
  });

  it('sinks, heavy-hitter and paged caches and encoder-decoders are refused with the reason', () => {
    const model = load('llama');
    assert.throws(() => new BatchSession(model, { cache: { kind: 'sinks', sinks: 2, window: 4 } }), /a 'sinks' cache cannot hold a padded batch/);
    assert.throws(() => new BatchSession(model, { cache: { kind: 'heavy-hitter', heavy: 2, recent: 2 } }), /a 'heavy-hitter' cache cannot hold a padded batch/);
    const pool = new PagedKVPool({ layers: model.geometry.layers, kvHeads: model.geometry.kvHeads, headDim: model.geometry.headDim, blockSize: 4, blocks: 8 });
    assert.throws(() => new BatchSession(model, { cache: { kind: 'paged', pool } as never }), /a 'paged' cache cannot hold a padded batch/);
    assert.throws(() => new BatchSession(load('t5')), /t5 is an encoder-decoder; batched generation supports decoder-only models/);
    const s = new BatchSession(model);
    assert.throws(() => s.prefill([[1, 2], []]), /prompt 1 is empty/);
    s.dispose();
    const k = new BatchSession(model);
    k.prefill([[1, 2], [3, 4, 5], [6]]);
    assert.throws(() => k.keepRows([0, 0]), /rows 0, 0 name a prompt twice/);
    assert.throws(() => k.keepRows([5]), /prompt 5 is not in the batch \(rows 0, 1, 2\)/);
    k.keepRows([2]);
    assert.equal(k.step([7]).length, 1);
    k.keepRows([]);
    assert.throws(() => k.step([]), /every row has left the batch/);
    k.dispose();
    assert.throws(() => new BatchSession(model).prefill([[1, 99]]), /prompt 0: token id 99 is outside the vocabulary \[0, 64\)/);
  });
});

describe('generateBatch', () => {
  it('rows that stop early leave the batch; every row equals generateAll alone (ids, text-free, finishReason)', async () => {
    const model = load('llama');
    const first = PROMPTS.map((p) => lone(model, p, 2).tokens);
    // row 0 stops at its second token (a stop id), row 1 after 3 tokens (maxTokens), row 2 runs 7
    const rows = [{ stopIds: [first[0]![1]!] }, { maxTokens: 3 }, { maxTokens: 7 }];
    const out = await generateBatch(model, null, PROMPTS, { maxTokens: 7, rows });
    assert.equal(out.results.length, 3);
    for (const [i, p] of PROMPTS.entries()) {
      const want = await generateAll(model, null, p, { maxTokens: 7, ...rows[i] });
      assert.deepEqual(out.results[i]!.ids, want.ids, `row ${i} ids`);
      assert.equal(out.results[i]!.finishReason, want.finishReason, `row ${i} finishReason`);
      assert.deepEqual(out.results[i]!.stoppedBy, want.stoppedBy, `row ${i} stoppedBy`);
      assert.deepEqual(out.results[i]!.events.map((e) => e.tokenId), want.events.map((e) => e.tokenId), `row ${i} events`);
      assert.equal(out.results[i]!.stats.promptTokens, p.length);
    }
    assert.equal(out.results[0]!.finishReason, 'stop');
    assert.deepEqual(out.results[0]!.stoppedBy, { tokenId: first[0]![1]! });
    assert.equal(out.results[1]!.ids.length, 3);
    assert.equal(out.stats.batchSize, 3);
    assert.equal(out.stats.promptTokens, 11);
    assert.equal(out.stats.generatedTokens, out.results.reduce((s, r) => s + r.stats.generatedTokens, 0));
    assert.equal(out.stats.decodeSteps, Math.max(...out.results.map((r) => r.stats.generatedTokens)) - 1);
    console.log(`# generateBatch llama: ${out.results.map((r) => `[${r.ids.join(' ')}] ${r.finishReason}`).join(' | ')}`);
  });

  it('mistral: rows leaving a batch held in window-3 rings keep the others exact', async () => {
    const model = load('mistral');
    const prompts = [[3, 17, 42, 8, 8, 61, 5], [9, 2], [1, 2, 3, 4]];
    const rows = [{ maxTokens: 2 }, { maxTokens: 6 }, { maxTokens: 4 }];
    const out = await generateBatch(model, null, prompts, { rows, prefillChunk: 3 });
    for (const [i, p] of prompts.entries()) assert.deepEqual(out.results[i]!.ids, (await generateAll(model, null, p, rows[i])).ids, `row ${i}`);
    assert.deepEqual(out.results.map((r) => r.ids.length), [2, 6, 4]);
  });

  it('a seeded sampled batch is reproducible and equals each prompt sampled alone with the same seed', async () => {
    const model = load('qwen2');
    const opts = { maxTokens: 6, temperature: 1.2, topK: 20, seed: 7, stopIds: [] as number[] };
    const a = await generateBatch(model, null, PROMPTS, opts);
    const b = await generateBatch(model, null, PROMPTS, opts);
    assert.deepEqual(a.results.map((r) => r.ids), b.results.map((r) => r.ids));
    for (const [i, p] of PROMPTS.entries()) assert.deepEqual(a.results[i]!.ids, (await generateAll(model, null, p, opts)).ids, `row ${i}`);
    const seeded = await generateBatch(model, null, PROMPTS, { ...opts, rows: [{ seed: 1 }, { seed: 2 }, { seed: 3 }] });
    for (const [i, p] of PROMPTS.entries()) assert.deepEqual(seeded.results[i]!.ids, (await generateAll(model, null, p, { ...opts, seed: i + 1 })).ids, `row ${i}, own seed`);
    assert.notDeepEqual(seeded.results.map((r) => r.ids), a.results.map((r) => r.ids), 'the per-row seeds change the draws');
    console.log(`# sampled batch (seed 7): ${a.results.map((r) => r.ids.join(' ')).join(' | ')}`);
  });

  it('bad input is an error naming it', async () => {
    const model = load('llama');
    await assert.rejects(generateBatch(model, null, []), /no prompts/);
    await assert.rejects(generateBatch(model, null, [[1], [2]], { rows: [{}] }), /rows has 1 entries for 2 prompts/);
    await assert.rejects(generateBatch(model, null, ['text']), /a text prompt needs a tokenizer/);
  });
});
