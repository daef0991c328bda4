/**
 * Sampling against exact expected values:
 * - every logits processor and three composed chains against transformers' own warper code run
 *   by PyTorch (tests/fixtures/sampling.json from scripts/reference/sampling.py): the same tokens
 *   removed, the kept logits within 1e-6, the chains' final distributions within 1e-6;
 * - greedy (ties to the lower id), the inverse-CDF draw at exact boundaries, log-probabilities;
 * - seeded sampling: the same seed gives the same tokens, and 20,000 draws match the exact
 *   distribution (every token's frequency within 5 standard errors; removed tokens never drawn);
 * - stop strings split across token boundaries, and one beam-search step.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  StopStringMatcher, beamCandidates, categorical, findStop, greedy, logSoftmax64, logitBias, makeSampler, minP,
  partialStopLength, presenceFrequencyPenalty, repetitionPenalty, softmax64, temperature, topK, topLogprobs, topP, typicalP,
  type LogitsProcessor, type SamplingOptions,
} from '../../src/index.js';
import { decodeValues, loadFixture } from '../helpers.js';

interface SamplingCase {
  name: string;
  args: Record<string, unknown>;
  logits: (number | '-inf')[];
  context: number[];
  expected: (number | '-inf')[];
  probs?: number[];
}

const doc = loadFixture<SamplingCase>('sampling.json');

function processorFor(c: SamplingCase): LogitsProcessor {
  const a = c.args as Record<string, number> & { bias: Record<string, number | '-inf'> };
  switch (c.name) {
    case 'temperature': return temperature(a.t);
    case 'top_k': return topK(a.k);
    case 'top_p': return topP(a.p);
    case 'min_p': return minP(a.p);
    case 'typical_p': return typicalP(a.p);
    case 'repetition_penalty': return repetitionPenalty(a.penalty);
    case 'presence_frequency': return presenceFrequencyPenalty(a.presence, a.frequency);
    case 'logit_bias': return logitBias(Object.fromEntries(Object.entries(a.bias).map(([k, v]) => [k, v === '-inf' ? -Infinity : v])));
    default: throw new Error(`no processor for ${c.name}`);
  }
}

function samplingOptions(args: Record<string, unknown>): SamplingOptions {
  const a = args as Record<string, number> & { logit_bias?: Record<string, number> };
  return {
    temperature: a.temperature, topK: a.top_k ?? 0, topP: a.top_p ?? 1, minP: a.min_p ?? 0, typicalP: a.typical_p ?? 1,
    repetitionPenalty: a.repetition_penalty ?? 1, presencePenalty: a.presence_penalty ?? 0, frequencyPenalty: a.frequency_penalty ?? 0,
    ...(a.logit_bias ? { logitBias: a.logit_bias } : {}),
  };
}

function assertSameLogits(got: Float32Array, expected: number[], what: string): void {
  assert.equal(got.length, expected.length);
  got.forEach((x, i) => {
    const e = expected[i]!;
    if (e === -Infinity) assert.equal(x, -Infinity, `${what}: token ${i} should be removed, got ${x}`);
    else assert.ok(Math.abs(x - e) <= 1e-6 * Math.max(1, Math.abs(e)), `${what}: token ${i} is ${x}, expected ${e}`);
  });
}

describe(`logits processors vs transformers' warpers (${doc.generator}, torch ${doc.versions['torch']})`, () => {
  it(`${doc.cases.length} cases: same tokens removed, kept logits within 1e-6, chain distributions within 1e-6`, () => {
    const counts = new Map<string, number>();
    for (const c of doc.cases) {
      const logits = Float32Array.from(decodeValues(c.logits));
      const expected = decodeValues(c.expected);
      const what = `${c.name} ${JSON.stringify(c.args)}`;
      if (c.name === 'chain') {
        const sampler = makeSampler(samplingOptions(c.args));
        const out = sampler.process(logits, c.context);
        assertSameLogits(out, expected, what);
        const p = softmax64(out);
        c.probs!.forEach((e, i) => assert.ok(Math.abs(p[i]! - e) <= 1e-6, `${what}: p[${i}] ${p[i]} vs ${e}`));
      } else {
        assertSameLogits(processorFor(c)(logits, c.context), expected, what);
      }
      assert.deepEqual([...logits], decodeValues(c.logits), `${what}: the input is not modified`);
      counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
    }
    assert.equal(counts.size, 9, "eight processors and the chains");
  });
});

describe('choosing a token', () => {
  it('greedy takes the largest logit, the lower id on a tie, and refuses an all -inf row', () => {
    assert.equal(greedy(Float32Array.from([0, 3, -1, 3])), 1);
    assert.throws(() => greedy(Float32Array.from([-Infinity, -Infinity])), /every token has been removed/);
  });

  it('categorical is the inverse CDF: exact boundaries, removed tokens never drawn', () => {
    const logits = Float32Array.from([Math.log(0.2), -Infinity, Math.log(0.5), Math.log(0.3)]);
    const draw = (u: number) => categorical(logits, () => u);
    assert.deepEqual([0, 0.19999, 0.2000001, 0.69999, 0.7000001, 0.9999999].map(draw), [0, 0, 2, 2, 3, 3]);
  });

  it('logprobs are log_softmax of the raw logits; top logprobs are sorted', () => {
    const logits = Float32Array.from([1, 2, 3, 0.5]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(0.5));
    const sampler = makeSampler({ temperature: 0, topLogprobs: 2, repetitionPenalty: 5 });
    const s = sampler.sample(logits, [2]);
    assert.equal(s.tokenId, 1, 'the penalty moves greedy away from token 2 (3 / 5 < 2)');
    assert.ok(Math.abs(s.logprob - (2 - lse)) < 1e-12, 'logprob of the raw distribution');
    assert.deepEqual(s.topLogprobs!.map((t) => t.tokenId), [2, 1]);
    assert.deepEqual(topLogprobs(logSoftmax64(logits), 10).map((t) => t.tokenId), [2, 1, 0, 3]);
  });

  it('the same seed gives the same tokens; another seed other tokens', () => {
    const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i) * 2);
    const draw = (seed: number) => {
      const s = makeSampler({ temperature: 1, seed });
      return Array.from({ length: 64 }, () => s.sample(logits, []).tokenId);
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it('20,000 seeded draws through top-k + top-p + temperature match the exact distribution', () => {
    const logits = Float32Array.from([2, 1.5, 1, 0.5, 0.25, 0, -1, -2]);
    const opts = { temperature: 0.9, topK: 6, topP: 0.95 } as const;
    const sampler = makeSampler({ ...opts, seed: 7 });
    const exact = softmax64(topP(0.95)(topK(6)(temperature(0.9)(logits, []), []), []));
    assert.equal(exact.filter((p) => p > 0).length, 5, 'top-p trims the sixth token');
    const n = 20000;
    const counts = new Array<number>(logits.length).fill(0);
    for (let i = 0; i < n; i++) counts[sampler.sample(logits, []).tokenId]!++;
    counts.forEach((c, i) => {
      const p = exact[i]!;
      if (p === 0) assert.equal(c, 0, `token ${i} was removed but drawn ${c} times`);
      else {
        const se = Math.sqrt((p * (1 - p)) / n);
        assert.ok(Math.abs(c / n - p) <= 5 * se, `token ${i}: frequency ${c / n} vs probability ${p}`);
      }
    });
  });

  it('bad options are refused by name', () => {
    assert.throws(() => topP(0), /topP: must be in \(0, 1\], got 0/);
    assert.throws(() => temperature(-1), /temperature: must be a positive number, got -1/);
    assert.throws(() => makeSampler({ temperature: -0.5 }), /temperature must be >= 0, got -0.5/);
    assert.throws(() => logitBias({ 9: 1 })(new Float32Array(4), []), /token id 9 is outside the vocabulary \(size 4\)/);
  });
});

describe('stop strings across token boundaries', () => {
  it('findStop and partialStopLength', () => {
    assert.deepEqual(findStop('a END b STOP', ['STOP', 'END']), { index: 2, stop: 'END' });
    assert.equal(findStop('abc', ['x']), null);
    assert.equal(partialStopLength('Hello\nUs', ['\nUser:']), 3);
    assert.equal(partialStopLength('Hello', ['\nUser:']), 0);
  });

  it('holds back a possible stop string, releases it when it diverges, cuts before a completed one', () => {
    const m = new StopStringMatcher(['\nUser:', 'END']);
    assert.deepEqual(m.push('Hi'), { text: 'Hi', stopped: false });
    assert.deepEqual(m.push(' there\n'), { text: ' there', stopped: false });
    assert.deepEqual(m.push('Us'), { text: '', stopped: false });
    assert.deepEqual(m.push('ually'), { text: '\nUsually', stopped: false });
    assert.deepEqual(m.push(' E'), { text: ' ', stopped: false });
    assert.deepEqual(m.push('N'), { text: '', stopped: false });
    assert.deepEqual(m.push('Dless'), { text: '', stopped: true, stop: 'END' });
    assert.equal(m.flush(), '');
    const n = new StopStringMatcher(['###']);
    n.push('a#');
    assert.equal(n.flush(), '#', 'held text is released at the end');
  });
});

describe('beam step', () => {
  it('the best extensions over all beams, ties to the lower parent then token', () => {
    const lp = [Float64Array.from([-1, -2, -0.5]), Float64Array.from([-0.1, -3, -0.1])];
    const c = beamCandidates([-1, -2], lp, 3);
    assert.deepEqual(c.map((x) => [x.parent, x.tokenId, x.score]), [[0, 2, -1.5], [0, 0, -2], [1, 0, -2.1]]);
  });
});
