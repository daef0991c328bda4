/**
 * BPE training: the fast trainer (incremental pair counts + heap) learns exactly the merges of the
 * readable one (recount everything each step); the classic worked example; the trained
 * tokenizer.json gives the same ids in attn and in Hugging Face tokenizers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import hf from 'tokenizers';
import { bytePairEncodingFromTraining, GPT2_PATTERN, tokenizerFromJson, trainBpe, trainBpeReference, trainedTokenizerJson } from '../../src/index.js';
import { englishProse, generatedUnicode, sourceCode } from './corpus.js';

describe('BPE training', () => {
  it('the Wikipedia example: aaabdaaabac', () => {
    const trained = trainBpe(['aaabdaaabac'], { vocabSize: 259, minFrequency: 1 });
    // aa (4 times) first; then ab and (aa)a tie at 2 and the smaller pair (a, b) wins; then (aa)(ab).
    assert.deepEqual(trained.merges, [[97, 97], [97, 98], [256, 257]]);
    assert.deepEqual(trainBpeReference(['aaabdaaabac'], { vocabSize: 259, minFrequency: 1 }).merges, trained.merges);
    // minbpe's test_wikipedia_example expects the same ids.
    assert.deepEqual(bytePairEncodingFromTraining(trained).encode('aaabdaaabac'), [258, 100, 258, 97, 99]);
  });

  for (const [name, texts, pattern] of [
    ['English prose, GPT-4 pattern', englishProse(150_000), undefined],
    ['source code, GPT-2 pattern', sourceCode(100_000), GPT2_PATTERN],
    ['generated Unicode (multi-byte)', generatedUnicode(60_000), undefined],
  ] as const) {
    it(`the fast trainer learns the reference's merges: ${name}`, () => {
      const options = { vocabSize: 256 + 400, ...(pattern ? { pattern } : {}) };
      const fast = trainBpe(texts, options);
      assert.equal(fast.merges.length, 400);
      assert.deepEqual(fast.merges, trainBpeReference(texts, options).merges);
    });
  }

  it('the fast trainer learns the reference\'s merges on runs of few letters (overlapping and adjacent merges)', () => {
    // Words like "aaaa", "abab", "aabaa": a merge of (a, a) covers every other position, two merges
    // of (a, b) touch each other, so the counts around each merge are updated from the merged side.
    const text = fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 30 }).map((ws) => ws.join(' '));
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 3 }), (texts, minFrequency) => {
        const options = { vocabSize: 256 + 40, minFrequency };
        assert.deepEqual(trainBpe(texts, options).merges, trainBpeReference(texts, options).merges);
      }),
      { numRuns: 300, seed: 3 },
    );
  });

  it('a trained tokenizer.json gives the same ids in attn and in Hugging Face tokenizers, and round-trips', async () => {
    const docs = englishProse(400_000);
    const train = docs.slice(0, Math.floor(docs.length / 2));
    const heldOut = docs.slice(-20).map((d) => d.slice(0, 20_000));
    const trained = trainBpe(train, { vocabSize: 256 + 2000 });
    const json = JSON.stringify(trainedTokenizerJson(trained, { specialTokens: ['<|endoftext|>'] }));
    const ours = tokenizerFromJson(JSON.parse(json));
    const ref = hf.Tokenizer.fromString(json);
    assert.equal(ours.vocabSize, 2257);
    const enc = bytePairEncodingFromTraining(trained, { specialTokens: ['<|endoftext|>'] });
    for (const d of [...heldOut, 'x<|endoftext|>y']) {
      const ids = ours.encode(d);
      assert.deepEqual(ids, (await ref.encode(d)).getIds());
      assert.equal(ours.decode(ids), d);
      assert.equal(enc.decode(enc.encode(d, { allowedSpecial: 'all' })), d);
    }
    // 2,000 learned merges compress held-out English from one token per byte to well under half.
    const text = heldOut.join('');
    const bytes = new TextEncoder().encode(text).length;
    assert.ok(ours.encode(text).length < 0.45 * bytes, `${ours.encode(text).length} tokens for ${bytes} bytes`);
  });

  it('stops early when pairs become rare; rejects a vocabulary smaller than the bytes', () => {
    // Pre-tokens "abab" and " abab": (a,b) occurs 4 times, then (ab,ab) twice; (" ",abab) once < minFrequency 2.
    assert.deepEqual(trainBpe(['abab abab'], { vocabSize: 1000 }).merges, [[97, 98], [256, 256]]);
    assert.equal(trainBpe(['abab abab'], { vocabSize: 1000, minFrequency: 1 }).merges.length, 3);
    assert.throws(() => trainBpe(['x'], { vocabSize: 100 }), /vocabSize must be an integer >= 256/);
  });
});
