/**
 * Every family with a KV cache against the same family without one, and against PyTorch:
 * - teacher forcing: the fixture's input ids fed one position at a time through per-layer caches
 *   (batch 2 for the decoder-only fixtures) reproduce the PyTorch logits of every position
 *   (tests/fixtures/models-*.json, max |diff| <= 1e-4); Mistral's window of 3 makes its ring
 *   buffer wrap;
 * - greedy generation: 12 tokens with the default cache, with a dense cache fed in prefill chunks
 *   of 2, and without any cache (the whole sequence recomputed each step) pick identical tokens,
 *   and every step's logits agree within 1e-4;
 * - encoder-decoders (T5 v1.0/v1.1, the original Transformer) run their encoder once and cache
 *   the cross-attention keys/values.
 * llama-dynamic is left out of the generation comparison on purpose: dynamic NTK scaling changes
 * the RoPE base with the sequence length, so keys cached at earlier lengths differ from a
 * recomputation (transformers behaves the same way).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  DenseKVCache, GPT2Config, InferenceSession, LlamaConfig, SlidingWindowKVCache, fromTypedArray, generativeModel, greedy,
  kvCacheBytesFor, loadModel, noGrad, readHfFolder, tidy, withoutFused, type GenerativeModel, type KVCache, type SessionCache,
} from '../../src/index.js';
import { FIXTURES, loadFixture, maxAbsDiff } from '../helpers.js';

interface DecoderFixture {
  folder: string;
  input_ids: number[][];
  logits_shape: [number, number, number];
  logits: number[];
  config: Record<string, unknown>;
}

const DECODERS = ['gpt2', 'llama', 'llama-bias', 'llama-yarn', 'mistral', 'qwen2'];

function load(folder: string, opts: { decoderStartTokenId?: number } = {}): GenerativeModel {
  const f = readHfFolder(join(FIXTURES, folder));
  return generativeModel(loadModel(f), { config: f.config, ...opts });
}

/** Greedy decoding of `steps` tokens, returning the tokens and every step's logits. */
function greedyRun(model: GenerativeModel, prompt: number[], steps: number, cache: SessionCache, extra: { encoderIds?: number[]; prefillChunk?: number } = {}) {
  const s = new InferenceSession(model, { cache, ...extra });
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  try {
    let l = s.feed(prompt);
    for (let i = 0; i < steps && s.remainingPositions > 0; i++) {
      logits.push(l);
      const t = greedy(l);
      tokens.push(t);
      l = s.feed([t]);
    }
  } finally {
    s.dispose();
  }
  return { tokens, logits };
}

function assertSameRun(a: ReturnType<typeof greedyRun>, b: ReturnType<typeof greedyRun>, what: string): number {
  assert.deepEqual(b.tokens, a.tokens, `${what}: greedy tokens`);
  let worst = 0;
  a.logits.forEach((l, i) => (worst = Math.max(worst, maxAbsDiff(l, b.logits[i]!))));
  assert.ok(worst <= 1e-4, `${what}: max |logits diff| ${worst}`);
  return worst;
}

for (const name of DECODERS) {
  describe(`${name}: cached decoding`, () => {
    const doc = loadFixture<never>(`models-${name}.json`) as unknown as DecoderFixture;
    const model = load(doc.folder);

    it('teacher-forced one position at a time through per-layer caches (batch 2) gives the PyTorch logits', () => {
      const [b, t, v] = doc.logits_shape;
      const window = model.geometry.slidingWindow;
      const caches: KVCache[] = Array.from({ length: model.geometry.layers }, () => (window ? new SlidingWindowKVCache({ window }) : new DenseKVCache({ step: 3 })));
      let worst = 0;
      for (let pos = 0; pos < t; pos++) {
        const ids = fromTypedArray(Int32Array.from(doc.input_ids.map((r) => r[pos]!)), [b, 1]);
        const out = noGrad(() => tidy(() => model.logits(ids, { cache: { self: caches }, memory: null, logitsToKeep: 0 }).toTypedArray())); // [B, 1, V]
        for (let r = 0; r < b; r++) {
          const expected = doc.logits.slice((r * t + pos) * v, (r * t + pos + 1) * v);
          worst = Math.max(worst, maxAbsDiff(out.subarray(r * v, (r + 1) * v), expected));
        }
      }
      assert.ok(worst <= 1e-4, `max |logits diff| ${worst}`);
      assert.equal(caches[0]!.offset, t);
      if (window) assert.deepEqual(caches[0]!.keptPositions(), Array.from({ length: window }, (_, i) => t - window + i));
      for (const c of caches) c.dispose();
    });

    it('greedy generation: default cache, chunked dense prefill and no cache agree (tokens, logits within 1e-4)', () => {
      const prompt = doc.input_ids[0]!.slice(0, 5);
      const none = greedyRun(model, prompt, 12, 'none');
      const cached = greedyRun(model, prompt, 12, model.geometry.slidingWindow ? { kind: 'sliding-window', window: model.geometry.slidingWindow } : { kind: 'dense' });
      const chunked = greedyRun(model, prompt, 12, { kind: 'dense', step: 4 }, { prefillChunk: 2 });
      const d1 = assertSameRun(none, cached, 'default cache');
      const d2 = assertSameRun(none, chunked, 'chunked prefill');
      console.log(`# ${name}: ${none.tokens.length} tokens [${none.tokens.join(' ')}], max |diff| default ${d1.toExponential(2)}, chunked ${d2.toExponential(2)}`);
    });
  });
}

describe('mistral: the ring buffer under chunked prefill that wraps', () => {
  it('a 7-token prompt in chunks of 2 and 5 through a window-3 ring equals recomputation', () => {
    const model = load('models-mistral');
    const prompt = [3, 17, 42, 8, 8, 61, 5];
    const none = greedyRun(model, prompt, 6, 'none');
    for (const chunk of [2, 5]) assertSameRun(none, greedyRun(model, prompt, 6, { kind: 'sliding-window', window: 3 }, { prefillChunk: chunk }), `chunk ${chunk}`);
  });
});

describe('fused and composed attention agree through the cache', () => {
  it('llama with the composed oracle (withoutFused) gives the same greedy run within 1e-4', () => {
    const model = load('models-llama');
    const prompt = [1, 9, 33, 2];
    const fused = greedyRun(model, prompt, 8, { kind: 'dense' });
    const composed = withoutFused(() => greedyRun(model, prompt, 8, { kind: 'dense' }));
    assertSameRun(fused, composed, 'composed');
  });
});

interface T5Case { folder: string; input_ids: number[][]; attention_mask: number[][]; decoder_input_ids: number[][]; logits_shape: [number, number, number]; logits: number[] }

describe('encoder-decoders: encoder once, cross-attention K/V cached', () => {
  const t5 = loadFixture<never>('models-t5.json') as unknown as { models: T5Case[] };
  for (const c of t5.models) {
    it(`${c.folder}: cached decoding of the unpadded row gives the PyTorch logits, and greedy cached == uncached`, () => {
      const model = load(c.folder);
      const [, t, v] = c.logits_shape;
      const row = c.attention_mask.findIndex((m) => m.every((x) => x === 1));
      const s = new InferenceSession(model, { encoderIds: c.input_ids[row]! });
      let worst = 0;
      c.decoder_input_ids[row]!.forEach((id, pos) => {
        const l = s.feed([id]);
        worst = Math.max(worst, maxAbsDiff(l, c.logits.slice((row * t + pos) * v, (row * t + pos + 1) * v)));
      });
      s.dispose();
      assert.ok(worst <= 1e-4, `max |logits diff| ${worst}`);
      const start = [model.decoderStartTokenId!];
      const none = greedyRun(model, start, 10, 'none', { encoderIds: c.input_ids[row]! });
      const cached = greedyRun(model, start, 10, { kind: 'dense' }, { encoderIds: c.input_ids[row]! });
      assertSameRun(none, cached, c.folder);
      console.log(`# ${c.folder}: teacher-forced max |diff| ${worst.toExponential(2)}, greedy [${cached.tokens.join(' ')}]`);
    });
  }

  it('the original Transformer: cached decoding of the unpadded row gives the PyTorch logits; greedy cached == uncached', () => {
    const doc = loadFixture<never>('models-transformer.json') as unknown as {
      folder: string; src_ids: number[][]; tgt_ids: number[][]; src_key_padding_mask: boolean[][]; tgt_key_padding_mask: boolean[][];
      logits_shape: [number, number, number]; logits: number[];
    };
    const model = load(doc.folder, { decoderStartTokenId: doc.tgt_ids[0]![0]! });
    const [, t, v] = doc.logits_shape;
    const row = doc.src_key_padding_mask.findIndex((m, i) => m.every((x) => !x) && doc.tgt_key_padding_mask[i]!.every((x) => !x));
    const s = new InferenceSession(model, { encoderIds: doc.src_ids[row]! });
    let worst = 0;
    doc.tgt_ids[row]!.forEach((id, pos) => {
      worst = Math.max(worst, maxAbsDiff(s.feed([id]), doc.logits.slice((row * t + pos) * v, (row * t + pos + 1) * v)));
    });
    s.dispose();
    assert.ok(worst <= 1e-4, `max |logits diff| ${worst}`);
    const none = greedyRun(model, [doc.tgt_ids[row]![0]!], 10, 'none', { encoderIds: doc.src_ids[row]! });
    const cached = greedyRun(model, [doc.tgt_ids[row]![0]!], 10, { kind: 'dense' }, { encoderIds: doc.src_ids[row]! });
    assertSameRun(none, cached, 'transformer');
  });
});

describe('cache memory is what attn calc predicts', () => {
  it('dense caches grown one slot at a time hold 2 x layers x KV heads x tokens x head dim (int8: head dim + 4 bytes per vector)', () => {
    for (const name of ['llama', 'gpt2']) {
      const f = readHfFolder(join(FIXTURES, `models-${name}`));
      const model = generativeModel(loadModel(f), { config: f.config });
      const config = name === 'gpt2' ? GPT2Config.fromDict(f.config) : LlamaConfig.fromDict(f.config);
      for (const dtype of ['float32', 'int8'] as const) {
        const s = new InferenceSession(model, { cache: { kind: 'dense', dtype, step: 1 } });
        s.feed([1, 2, 3, 4, 5, 6, 7]);
        assert.equal(s.cacheBytes, kvCacheBytesFor(config, { tokens: 7, dtype }), `${name} ${dtype}`);
        s.dispose();
      }
    }
    const llama = LlamaConfig.fromDict(readHfFolder(join(FIXTURES, 'models-llama')).config);
    assert.ok(llama.numKeyValueHeads < llama.num_attention_heads, 'the llama fixture is GQA, so the check covers KV heads only');
  });
});

interface VariantCase { name: string; folder: string; input_ids: number[][]; logits_shape: [number, number, number]; logits: number[] }

describe('GPT-2 position/norm variants through the cache (sinusoidal, RoPE, ALiBi, none, post-norm)', () => {
  const doc = loadFixture<VariantCase>('gpt2-variants.json');
  for (const c of doc.cases) {
    it(`${c.name}: teacher-forced through per-layer caches (batch 2) gives the PyTorch logits; greedy cached == uncached`, () => {
      const model = load(c.folder);
      const [b, t, v] = c.logits_shape;
      const caches: KVCache[] = Array.from({ length: model.geometry.layers }, () => new DenseKVCache({ step: 5 }));
      let worst = 0;
      for (let pos = 0; pos < t; pos++) {
        const ids = fromTypedArray(Int32Array.from(c.input_ids.map((r) => r[pos]!)), [b, 1]);
        const out = noGrad(() => tidy(() => model.logits(ids, { cache: { self: caches }, memory: null, logitsToKeep: 0 }).toTypedArray()));
        for (let r = 0; r < b; r++) worst = Math.max(worst, maxAbsDiff(out.subarray(r * v, (r + 1) * v), c.logits.slice((r * t + pos) * v, (r * t + pos + 1) * v)));
      }
      for (const cache of caches) cache.dispose();
      assert.ok(worst <= 1e-4, `max |logits diff| ${worst}`);
      const prompt = c.input_ids[0]!.slice(0, 3);
      assertSameRun(greedyRun(model, prompt, 5, 'none'), greedyRun(model, prompt, 5, { kind: 'dense' }, { prefillChunk: 2 }), c.name);
    });
  }

  it('ALiBi with evicting caches: the bias follows the positions the cache reports (ring buffer == windowed recomputation)', () => {
    const model = load('models-gpt2-alibi');
    const prompt = [3, 17, 5, 9, 30, 2, 11];
    // a window-3 ring against a dense cache restricted to the same window by the attention mask
    const ring = greedyRun(model, prompt, 6, { kind: 'sliding-window', window: 3 }, { prefillChunk: 2 });
    const dense = greedyRun(model, prompt, 6, { kind: 'sliding-window', window: 64 }, { prefillChunk: 2 });
    assert.notDeepEqual(ring.logits[0], dense.logits[0], 'the window changes the result');
    const windowed = greedyRun(model, prompt, 6, { kind: 'sinks', sinks: 1, window: 2 });
    assert.equal(windowed.tokens.length, 6);
    // reference: full recomputation with the window mask, through the composed path
    const ref = withoutFused(() => greedyRun(model, prompt, 6, { kind: 'sliding-window', window: 3 }, { prefillChunk: 7 }));
    assertSameRun(ref, ring, 'ring vs one-chunk prefill');
  });
});
