/**
 * Generation end to end on the tiny fixture models, with a byte tokenizer whose tokens include
 * lone UTF-8 lead and continuation bytes (so characters split across tokens):
 * - streamed text deltas concatenate to the decoded output, with cache and without;
 * - cached and uncached generation pick the same tokens with the same logprobs (1e-4);
 * - the same seed gives the same tokens; stop strings spanning tokens, stop ids, maxTokens and
 *   GPT-2's position limit end generation as documented; stats are consistent;
 * - a session continued with a second prompt equals one run over the concatenation;
 * - an encoder-decoder (T5) generates from its encoder input;
 * - the streaming detokenizer on real tokenizers (tiktoken cl100k_base with emoji/CJK split into
 *   byte tokens, a SentencePiece model with byte fallback and leading spaces);
 * - beam search: one beam is greedy; three beams equal an independent brute-force beam search
 *   over uncached forwards, with dense and with paged (forked, copy-on-write) caches;
 * - int8 K/V: KL and top-1 agreement against the float32 cache.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  InferenceSession, PagedKVPool, StreamingDetokenizer, beamSearch, compareCaches, generateAll, generativeModel, greedy,
  klDivergence, loadModel, loadSentencePiece, loadTiktoken, logSoftmax64, readHfFolder, type GenerativeModel, type Tokenizer,
} from '../../src/index.js';
import { FIXTURES } from '../helpers.js';

/** 64 byte tokens: 0..39 ASCII letters/space/punctuation, 40..47 UTF-8 lead bytes, 48..63 continuation bytes. */
class ByteTokenizer implements Tokenizer {
  readonly name = 'bytes64';
  readonly vocabSize = 64;
  readonly specialTokens = new Map<string, number>();
  private readonly bytes: number[] = [];

  constructor() {
    const ascii = 'abcdefghijklmnopqrstuvwxyz .,!?:\nABCDEF';
    for (const ch of ascii) this.bytes.push(ch.charCodeAt(0));
    for (let i = 0; i < 8; i++) this.bytes.push([0xc3, 0xc3, 0xc3, 0xe2, 0xe2, 0xf0, 0xc5, 0xce][i]!);
    for (let i = 0; i < 16; i++) this.bytes.push(0x80 + i * 2);
  }

  encode(text: string): number[] {
    return [...new TextEncoder().encode(text)].map((b) => {
      const id = this.bytes.indexOf(b);
      if (id < 0) throw new Error(`byte ${b} has no token`);
      return id;
    });
  }

  encodeBatch(texts: readonly string[]): number[][] {
    return texts.map((t) => this.encode(t));
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    return Uint8Array.from(Array.from(ids, (i) => this.bytes[i]!));
  }

  decode(ids: ArrayLike<number>): string {
    return new TextDecoder().decode(this.decodeBytes(ids));
  }
}

function load(name: string): GenerativeModel {
  const f = readHfFolder(join(FIXTURES, `models-${name}`));
  return generativeModel(loadModel(f), { config: f.config });
}

const tok = new ByteTokenizer();

describe('generate', () => {
  const llama = load('llama');
  const prompt = 'hello, wor';

  it('greedy with and without a cache: same tokens, logprobs within 1e-4, deltas concatenate to the decoded text', async () => {
    // stopIds [] so that the fixture's eos_token_id 2 cannot end it early
    const a = await generateAll(llama, tok, prompt, { maxTokens: 24, stopIds: [] });
    const b = await generateAll(llama, tok, prompt, { maxTokens: 24, stopIds: [], cache: 'none' });
    assert.deepEqual(b.ids, a.ids);
    a.events.forEach((e, i) => assert.ok(Math.abs(e.logprob - b.events[i]!.logprob) <= 1e-4, `step ${i}: ${e.logprob} vs ${b.events[i]!.logprob}`));
    for (const r of [a, b]) {
      assert.equal(r.events.map((e) => e.text).join(''), r.text);
      assert.equal(r.text, tok.decode(r.ids));
      assert.equal(r.finishReason, 'length');
      assert.equal(r.events.length, 24);
      assert.equal(r.events.at(-1)!.finishReason, 'length');
    }
    assert.ok(a.events.some((e) => e.text === ''), 'some token completed no character (a split UTF-8 sequence)');
    const s = a.stats;
    assert.equal(s.promptTokens, tok.encode(prompt).length);
    assert.equal(s.generatedTokens, 24);
    assert.ok(s.ttftMs > 0 && s.ttftMs <= s.totalMs && s.tpotMs > 0 && s.tokensPerS > 0 && s.prefillTokensPerS > 0);
    assert.ok(Math.abs(s.decodeTokensPerS - 1000 / s.tpotMs) < 1e-6 * s.decodeTokensPerS);
    console.log(`# llama greedy: ${JSON.stringify(a.text)}, ttft ${s.ttftMs.toFixed(2)} ms, tpot ${s.tpotMs.toFixed(2)} ms`);
  });

  it('the same seed samples the same tokens; another seed does not', async () => {
    const opts = { maxTokens: 16, temperature: 1.2, topK: 20, topP: 0.95, seed: 1234 };
    const a = await generateAll(llama, tok, prompt, opts);
    const b = await generateAll(llama, tok, prompt, opts);
    const c = await generateAll(llama, tok, prompt, { ...opts, seed: 99 });
    assert.deepEqual(b.ids, a.ids);
    assert.equal(b.text, a.text);
    assert.notDeepEqual(c.ids, a.ids);
  });

  it('a stop string spanning tokens cuts the text just before it; a stop id ends with its own event', async () => {
    const full = await generateAll(llama, tok, prompt, { maxTokens: 24, stopIds: [] });
    // a 3-character stop string starting inside the output (and so spanning 3 byte tokens at least)
    const text = full.text;
    const at = [...text].findIndex((_, i) => i >= 4 && [...text].slice(i, i + 3).every((ch) => ch.length === 1 && ch !== '\uFFFD'));
    assert.ok(at >= 0);
    const stop = [...text].slice(at, at + 3).join('');
    const cut = await generateAll(llama, tok, prompt, { maxTokens: 24, stopIds: [], stop: [stop] });
    assert.equal(cut.text, text.slice(0, text.indexOf(stop)));
    assert.equal(cut.finishReason, 'stop');
    assert.deepEqual(cut.stoppedBy, { string: stop });
    assert.equal(cut.events.map((e) => e.text).join(''), cut.text);
    const stopId = full.ids[5]!;
    const first = full.ids.indexOf(stopId);
    const byId = await generateAll(llama, tok, prompt, { maxTokens: 24, stopIds: [stopId] });
    assert.deepEqual(byId.ids, full.ids.slice(0, first));
    assert.equal(byId.events.at(-1)!.tokenId, stopId);
    assert.equal(byId.events.at(-1)!.finishReason, 'stop');
    assert.deepEqual(byId.stoppedBy, { tokenId: stopId });
    assert.equal(byId.text, tok.decode(byId.ids));
  });

  it('GPT-2 stops at its last position (n_positions 16) with finishReason length', async () => {
    const gpt2 = load('gpt2');
    const r = await generateAll(gpt2, tok, 'abcdefghij', { maxTokens: 50 });
    assert.equal(r.ids.length, 16 - 10 + 1, 'the token sampled at position 15 is the last');
    assert.equal(r.finishReason, 'length');
  });

  it('continuing a session with a second prompt equals one run over the whole conversation', async () => {
    const session = new InferenceSession(llama);
    const first = await generateAll(llama, tok, 'abc', { maxTokens: 5, session });
    const second = await generateAll(llama, tok, '\nok:', { maxTokens: 6, session });
    const whole = await generateAll(llama, tok, [...tok.encode('abc'), ...first.ids, ...tok.encode('\nok:')], { maxTokens: 6 });
    assert.deepEqual(second.ids, whole.ids);
    session.dispose();
  });

  it('an encoder-decoder generates from its encoder input (T5), cached == uncached', async () => {
    const t5 = load('t5-v1_1');
    const a = await generateAll(t5, null, [5, 9, 13, 21, 30, 2], { maxTokens: 8 });
    const b = await generateAll(t5, null, [5, 9, 13, 21, 30, 2], { maxTokens: 8, cache: 'none' });
    assert.deepEqual(a.ids, b.ids);
    assert.ok(a.ids.length >= 1);
    assert.equal(a.text, '', 'no tokenizer, no text');
  });

  it('errors: empty prompt, text without a tokenizer, bad maxTokens', async () => {
    await assert.rejects(generateAll(llama, tok, '', {}), /generate: the prompt is empty/);
    await assert.rejects(generateAll(llama, null, 'hi', {}), /a text prompt needs a tokenizer/);
    await assert.rejects(generateAll(llama, tok, 'hi', { maxTokens: 0 }), /maxTokens must be a positive integer, got 0/);
    await assert.rejects(generateAll(llama, null, [70], {}), /token id 70 is outside the vocabulary \[0, 64\)/);
  });
});

describe('streaming detokenizer on real tokenizers', () => {
  const check = (t: Tokenizer, text: string) => {
    const ids = t.encode(text);
    const d = new StreamingDetokenizer(t);
    const deltas = ids.map((id) => d.push(id));
    const out = deltas.join('') + d.flush();
    assert.equal(out, t.decode(ids));
    for (const x of deltas) assert.ok(!x.includes('\uFFFD'), `a delta holds a broken character: ${JSON.stringify(x)}`);
    return deltas;
  };

  it('cl100k_base: emoji, CJK and combining marks split into byte tokens stream whole characters', () => {
    const enc = loadTiktoken('cl100k_base');
    const deltas = check(enc, 'Party 🎉🧑‍🤝‍🧑 at 東京タワー, naïve café — ẞ ǅ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢!');
    assert.ok(deltas.filter((x) => x === '').length >= 3, 'several tokens end inside a character');
  });

  it('SentencePiece with byte fallback: leading spaces survive the window, rare characters arrive whole', () => {
    const sp = loadSentencePiece(join(FIXTURES, 'sentencepiece', 'unigram-bytes.model'));
    const deltas = check(sp, 'The quick brown fox ⚡ jumps over 𝄞 the lazy dog');
    assert.ok(deltas.some((x) => x.startsWith(' ')), 'word-initial spaces are emitted');
  });
});

describe('beam search', () => {
  const llama = load('llama');
  const prompt = [1, 17, 33, 4];

  /** An independent beam search: every hypothesis re-run from scratch without a cache. */
  function bruteForce(model: GenerativeModel, numBeams: number, maxTokens: number, stopIds: number[], lengthPenalty: number) {
    const next = (ids: number[]) => {
      const s = new InferenceSession(model, { cache: 'none' });
      const lp = logSoftmax64(s.feed([...prompt, ...ids]));
      s.dispose();
      return lp;
    };
    let beams = [{ ids: [] as number[], score: 0 }];
    const done: { ids: number[]; score: number; norm: number }[] = [];
    const norm = (score: number, len: number) => score / Math.pow(len, lengthPenalty);
    for (let step = 1; step <= maxTokens && beams.length; step++) {
      const all = beams.flatMap((b, parent) => [...next(b.ids)].map((lp, tokenId) => ({ parent, tokenId, score: b.score + lp })));
      all.sort((a, b) => b.score - a.score || a.parent - b.parent || a.tokenId - b.tokenId);
      const live: typeof beams = [];
      all.slice(0, 2 * numBeams).forEach((c, rank) => {
        const ids = [...beams[c.parent]!.ids, c.tokenId];
        if (stopIds.includes(c.tokenId)) {
          if (rank < numBeams) done.push({ ids, score: c.score, norm: norm(c.score, ids.length) });
        } else if (live.length < numBeams) live.push({ ids, score: c.score });
      });
      done.sort((a, b) => b.norm - a.norm);
      done.length = Math.min(done.length, numBeams);
      if (done.length >= numBeams && live.length && norm(live[0]!.score, step) <= done.at(-1)!.norm) live.length = 0;
      beams = live;
    }
    for (const b of beams) done.push({ ids: b.ids, score: b.score, norm: norm(b.score, b.ids.length) });
    return done.sort((a, b) => b.norm - a.norm).slice(0, numBeams);
  }

  it('one beam is greedy decoding', () => {
    const [best] = beamSearch(llama, prompt, { numBeams: 1, maxTokens: 8, stopIds: [] });
    const s = new InferenceSession(llama);
    let l = s.feed(prompt);
    const ids: number[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push(greedy(l));
      l = s.feed([ids.at(-1)!]);
    }
    s.dispose();
    assert.deepEqual(best!.ids, ids);
  });

  it('three beams equal a brute-force beam search, with dense and with paged caches', () => {
    const stopIds = [7, 21];
    const want = bruteForce(llama, 3, 6, stopIds, 1);
    const dense = beamSearch(llama, prompt, { numBeams: 3, maxTokens: 6, stopIds });
    const g = llama.geometry;
    const pool = new PagedKVPool({ layers: g.layers, blocks: 64, blockSize: 2, kvHeads: g.kvHeads, headDim: g.headDim });
    const paged = beamSearch(llama, prompt, { numBeams: 3, maxTokens: 6, stopIds, cache: { kind: 'paged', pool } });
    for (const got of [dense, paged]) {
      assert.deepEqual(got.map((h) => h.ids), want.map((h) => h.ids));
      got.forEach((h, i) => assert.ok(Math.abs(h.score - want[i]!.score) < 1e-4, `hypothesis ${i}: ${h.score} vs ${want[i]!.score}`));
    }
    assert.equal(pool.freeBlocks, 64, 'every beam released its blocks');
    console.log(`# beams: ${dense.map((h) => `[${h.ids.join(' ')}] ${h.score.toFixed(3)}`).join('; ')}`);
  });
});

describe('int8 K/V against the float32 cache', () => {
  it('KL(f32 || int8) and top-1 agreement over 13 teacher-forced positions; lossless caches give exactly 0', () => {
    const ids = Array.from({ length: 16 }, (_, i) => (i * 7 + 3) % 64); // GPT-2's fixture has 16 positions
    for (const name of ['llama', 'gpt2', 'qwen2']) {
      const model = load(name);
      const int8 = compareCaches(model, ids, { candidate: { kind: 'dense', dtype: 'int8' }, prefill: 4 });
      const same = compareCaches(model, ids, { candidate: { kind: 'sliding-window', window: 64 }, prefill: 4 });
      const evict = compareCaches(model, ids, { candidate: { kind: 'sliding-window', window: 4 }, prefill: 4 });
      assert.equal(int8.positions, 13);
      assert.equal(same.maxKl, 0);
      assert.equal(same.top1Agreement, 1);
      assert.ok(int8.maxKl < 1e-2 && int8.meanKl < 1e-3, `${name}: int8 KL mean ${int8.meanKl}, max ${int8.maxKl}`);
      assert.ok(int8.top1Agreement >= 0.75, `${name}: top-1 agreement ${int8.top1Agreement}`);
      assert.ok(evict.meanKl > 100 * int8.meanKl, `${name}: a 4-position window loses far more than int8 (${evict.meanKl} vs ${int8.meanKl})`);
      console.log(`# ${name} int8 K/V: mean KL ${int8.meanKl.toExponential(2)}, max ${int8.maxKl.toExponential(2)}, top-1 ${(int8.top1Agreement * 100).toFixed(1)}%; window 4: mean KL ${evict.meanKl.toExponential(2)}`);
    }
  });

  it('klDivergence on a worked example', () => {
    const p = [Math.log(0.5), Math.log(0.5)];
    const q = [Math.log(0.25), Math.log(0.75)];
    assert.ok(Math.abs(klDivergence(p, q) - (0.5 * Math.log(2) + 0.5 * Math.log(0.5 / 0.75))) < 1e-15);
  });
});
