/**
 * GPT-2 with attn's position and norm variants (position_embedding_type sinusoidal / rope / alibi /
 * none, norm_position post) against tests/fixtures/gpt2-variants.json (scripts/reference/
 * gpt2_variants.py: models.py's GPT-2 with each variant written as its source defines it). The
 * folders load through loadPretrained; logits within max |diff| <= 1e-4, loss within 1e-5
 * relative, the loss gradient of every parameter within atol 1e-5 / rtol 1e-3. Sequences are 12
 * tokens with n_positions 8 for every variant without a position table; learned positions refuse
 * them with a clear error. ALiBi goes through the fused kernel's additive bias, which agrees with
 * the composed path. The calculator counts the variants' parameters exactly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  GPT2Config, GPT2LMHeadModel, calcModel, crossEntropy, fromTypedArray, loadPretrained, noGrad, readHfFolder, withoutFused,
} from '../../src/index.js';
import { FIXTURES, assertClose, loadFixture, maxAbsDiff } from '../helpers.js';

interface VariantCase {
  name: string;
  folder: string;
  config: Record<string, unknown>;
  input_ids: number[][];
  targets: number[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
}

const doc = loadFixture<VariantCase>('gpt2-variants.json') as ReturnType<typeof loadFixture<VariantCase>> & { reference: string };

function ids(rows: number[][]) {
  return fromTypedArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
}

describe(`GPT-2 variants vs ${doc.generator}, torch ${doc.versions.torch}`, () => {
  it('covers every position type but learned, and post-norm', () => {
    const kinds = new Set(doc.cases.map((c) => String(c.config['position_embedding_type'] ?? 'learned')));
    assert.deepEqual([...kinds].sort(), ['alibi', 'learned', 'none', 'rope', 'sinusoidal']);
    assert.ok(doc.cases.some((c) => c.config['norm_position'] === 'post'));
  });

  for (const c of doc.cases) {
    describe(c.name, () => {
      const model = loadPretrained(readHfFolder(join(FIXTURES, c.folder))) as GPT2LMHeadModel;
      const t = c.input_ids[0]!.length;

      it('loads with exactly the variant\'s parameters (wpe only for learned positions, ln_f only for pre-norm)', () => {
        assert.ok(model instanceof GPT2LMHeadModel);
        assert.deepEqual([...model.stateDict().keys()].sort(), Object.keys(c.grads).sort());
        assert.equal(model.stateDict().has('transformer.wpe.weight'), model.config.position_embedding_type === 'learned');
        assert.equal(model.stateDict().has('transformer.ln_f.weight'), model.config.norm_position === 'pre');
        assert.equal(calcModel(c.config, { seq: 1 }).params.total, model.numParameters(), 'calc == instantiated');
      });

      it(`logits (T = ${t}, n_positions ${model.config.n_positions}) and loss match`, () => {
        if (model.config.position_embedding_type !== 'learned') assert.ok(t > model.config.n_positions, 'runs beyond n_positions');
        const logits = noGrad(() => model.forward(ids(c.input_ids)));
        assert.deepEqual([...logits.shape], c.logits_shape);
        const diff = maxAbsDiff(logits.toTypedArray(), c.logits);
        assert.ok(diff <= 1e-4, `${c.name}: max |logits diff| ${diff}`);
        const loss = crossEntropy(logits.reshape(-1, logits.shape[2]!), ids(c.targets).reshape(-1));
        assert.ok(Math.abs(loss.item() - c.loss) <= 1e-5 * Math.abs(c.loss), `${c.name}: loss ${loss.item()} vs ${c.loss}`);
      });

      it('the gradient of the loss w.r.t. every parameter matches', () => {
        model.zeroGrad();
        const logits = model.forward(ids(c.input_ids));
        crossEntropy(logits.reshape(-1, logits.shape[2]!), ids(c.targets).reshape(-1)).backward();
        const params = model.stateDict();
        for (const [name, expected] of Object.entries(c.grads)) assertClose(params.get(name)!.grad!, expected, { atol: 1e-5, rtol: 1e-3 }, `${c.name} grad ${name}`);
      });

      it('the composed attention path agrees with the fused kernel', () => {
        const fused = noGrad(() => model.forward(ids(c.input_ids))).toTypedArray();
        const composed = withoutFused(() => noGrad(() => model.forward(ids(c.input_ids)))).toTypedArray();
        assert.ok(maxAbsDiff(fused, composed) <= 1e-5, `${c.name}: fused vs composed ${maxAbsDiff(fused, composed)}`);
      });
    });
  }
});

describe('GPT-2 variant configs', () => {
  const base = readHfFolder(join(FIXTURES, 'models-gpt2')).config;

  it('learned positions refuse a sequence longer than n_positions, naming the limit and the alternatives', () => {
    const model = loadPretrained(readHfFolder(join(FIXTURES, 'models-gpt2')));
    const long = fromTypedArray(new Int32Array(17), [1, 17]);
    assert.throws(() => model.forward(long), /GPT2Model: sequence of 17 tokens exceeds n_positions 16 \(learned positions; sinusoidal, rope, alibi and none have no limit\)/);
  });

  it('rejects unknown position types and norm positions, and an odd RoPE head dim, naming the field', () => {
    assert.throws(() => GPT2Config.fromDict({ ...base, position_embedding_type: 'relative' }), /GPT2Config: position_embedding_type 'relative' is not supported \(learned, sinusoidal, rope, alibi, none\)/);
    assert.throws(() => GPT2Config.fromDict({ ...base, norm_position: 'sandwich' }), /GPT2Config: norm_position 'sandwich' is not supported \(pre, post\)/);
    assert.throws(() => GPT2Config.fromDict({ ...base, n_embd: 36, n_head: 4, position_embedding_type: 'rope' }), /GPT2Config: rope needs an even head dim, got 9/);
  });

  it('fromDict(toDict()) round-trips every variant; the defaults are GPT-2 and are not written', () => {
    for (const c of doc.cases) {
      const config = GPT2Config.fromDict(c.config);
      assert.deepEqual(GPT2Config.fromDict(config.toDict()), config, c.name);
      assert.ok(config.transformersIncompatibility(), c.name);
    }
    const plain = GPT2Config.fromDict(base);
    assert.equal(plain.position_embedding_type, 'learned');
    assert.equal(plain.norm_position, 'pre');
    assert.equal(plain.transformersIncompatibility(), null);
    assert.ok(!('position_embedding_type' in plain.toDict()) && !('norm_position' in plain.toDict()));
  });

  it('the variants differ from each other on the same weights (each hook changes the computation)', () => {
    const c = doc.cases.find((x) => x.name === 'none')!;
    const folder = readHfFolder(join(FIXTURES, c.folder));
    const input = ids(c.input_ids);
    const outputs = ['none', 'sinusoidal', 'rope', 'alibi'].map((kind) =>
      noGrad(() => new GPT2LMHeadModel(GPT2Config.fromDict({ ...folder.config, position_embedding_type: kind })).loadWeights(folder.weights).forward(input)).toTypedArray());
    for (let i = 0; i < outputs.length; i++) {
      for (let j = i + 1; j < outputs.length; j++) assert.ok(maxAbsDiff(outputs[i]!, outputs[j]!) > 1e-3, `variants ${i} and ${j} differ`);
    }
  });
});
