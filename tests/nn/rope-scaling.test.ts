/**
 * RoPE scaling (linear, dynamic NTK, yarn, llama3) against tests/fixtures/rope-scaling.json
 * (scripts/reference/rope_scaling.py, a torch re-implementation of transformers'
 * modeling_rope_utils): inv_freq and the cos/sin tables within 1e-6, config dicts read through
 * ropeScalingFromConfig as LlamaConfig reads them, including transformers' YaRN rule that derives
 * the factor from max_position_embeddings / original_max_position_embeddings. Model logits with yarn and dynamic scaling are
 * in tests/models/families.test.ts (models-llama-yarn, models-llama-dynamic).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaConfig, ropeAngles, ropeInvFreq, ropeScalingFromConfig } from '../../src/index.js';
import { assertClose, loadFixture } from '../helpers.js';

interface RopeCase {
  name: string;
  dim: number;
  rope_theta: number;
  max_position_embeddings: number;
  rope_scaling: Record<string, unknown> | null;
  positions: number[];
  inv_freq: number[];
  attention_factor: number;
  cos: number[];
  sin: number[];
}

const TOL = { atol: 1e-6, rtol: 0 };
const doc = loadFixture<RopeCase>('rope-scaling.json');

describe(`RoPE scaling vs ${doc.generator}, torch ${doc.versions.torch}`, () => {
  for (const c of doc.cases) {
    it(`${c.name}: inv_freq, then cos/sin [T, dim/2] within 1e-6`, () => {
      const scaling = ropeScalingFromConfig('test', c.rope_scaling, c.max_position_embeddings);
      const seqLen = Math.max(...c.positions) + 1;
      const { invFreq, attentionFactor } = ropeInvFreq({ dim: c.dim, base: c.rope_theta, scaling, seqLen });
      assertClose(invFreq, c.inv_freq, { atol: 0, rtol: 1e-6 }, `${c.name} inv_freq`);
      assert.ok(Math.abs(attentionFactor - c.attention_factor) <= 1e-12, `${c.name}: attention factor ${attentionFactor} vs ${c.attention_factor}`);
      const angles = ropeAngles(c.positions, { dim: c.dim, base: c.rope_theta, scaling });
      assertClose(angles.cos, c.cos, TOL, `${c.name} cos`, [c.positions.length, c.dim / 2]);
      assertClose(angles.sin, c.sin, TOL, `${c.name} sin`, [c.positions.length, c.dim / 2]);
    });
  }

  it('the fixture cases change the tables (scaling is not a no-op) except the unscaled and short dynamic ones', () => {
    const plain = (c: RopeCase) => ropeAngles(c.positions, { dim: c.dim, base: c.rope_theta }).cos.toTypedArray();
    for (const c of doc.cases) {
      const p = plain(c);
      const differs = c.cos.some((v, i) => Math.abs(v - p[i]!) > 1e-3);
      assert.equal(differs, !/^none|within max_position/.test(c.name), c.name);
    }
  });

  it("yarn follows transformers' rule: factor = max_position_embeddings / original_max_position_embeddings when the original is given", () => {
    const read = (raw: Record<string, unknown>, maxPos: number) => ropeScalingFromConfig('LlamaConfig', { rope_type: 'yarn', ...raw }, maxPos);
    // factor left implicit: derived from the two context lengths
    assert.deepEqual(read({ original_max_position_embeddings: 32 }, 256), { type: 'yarn', factor: 8, originalMaxPositionEmbeddings: 32 });
    // a stated factor that disagrees is overridden, as _compute_yarn_parameters does (DeepSeek-V3 style configs)
    assert.deepEqual(read({ factor: 40, original_max_position_embeddings: 16, mscale: 1, mscale_all_dim: 0.707 }, 64),
      { type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 16, mscale: 1, mscaleAllDim: 0.707 });
    // original left implicit: max_position_embeddings is the pre-YaRN context, the stated factor is used
    assert.deepEqual(read({ factor: 3, truncate: false }, 48), { type: 'yarn', factor: 3, originalMaxPositionEmbeddings: 48, truncate: false });
    assert.throws(() => read({}, 48), /LlamaConfig: rope_scaling.factor must be a number, got undefined/);
    assert.throws(() => read({ original_max_position_embeddings: 64 }, 32), /yarn's factor is max_position_embeddings \/ original_max_position_embeddings = 32 \/ 64 = 0.5, which must be >= 1/);
    assert.throws(() => read({ factor: 2, truncate: 'yes' }, 32), /rope_scaling.truncate must be a boolean, got "yes"/);
    // a LLaMA config.json that leaves the factor implicit loads
    const c = LlamaConfig.fromDict({ hidden_size: 32, num_attention_heads: 4, intermediate_size: 48, num_hidden_layers: 1, vocab_size: 16, max_position_embeddings: 128, rope_scaling: { type: 'yarn', original_max_position_embeddings: 32 } });
    assert.equal(c.ropeScaling?.factor, 4);
  });

  it('yarn truncate false keeps the fractional correction range (other frequencies than the rounded one)', () => {
    const scaling = { type: 'yarn', factor: 3, originalMaxPositionEmbeddings: 48 } as const;
    const rounded = ropeInvFreq({ dim: 32, scaling }).invFreq;
    const exact = ropeInvFreq({ dim: 32, scaling: { ...scaling, truncate: false } }).invFreq;
    assert.ok(rounded.some((f, i) => Math.abs(f - exact[i]!) > 1e-6 * f));
  });

  it('linear scaling is position interpolation: position p with factor f has the angles of p / f', () => {
    const scaled = ropeAngles([0, 4, 8], { dim: 8, scaling: { type: 'linear', factor: 4 } });
    const plain = ropeAngles([0, 1, 2], { dim: 8 });
    assertClose(scaled.cos, plain.cos.toTypedArray(), { atol: 1e-6, rtol: 0 }, 'cos');
    assertClose(scaled.sin, plain.sin.toTypedArray(), { atol: 1e-6, rtol: 0 }, 'sin');
  });

  it('dynamic scaling is plain RoPE up to max_position_embeddings and grows the base beyond it', () => {
    const scaling = { type: 'dynamic', factor: 2, maxPositionEmbeddings: 16 } as const;
    const short = ropeInvFreq({ dim: 8, scaling, seqLen: 16 }).invFreq;
    assert.deepEqual([...short], [...ropeInvFreq({ dim: 8 }).invFreq]);
    const long = ropeInvFreq({ dim: 8, scaling, seqLen: 32 }).invFreq;
    // base' = 10000 * (2 * 32 / 16 - 1)^(8 / 6)
    const base = 10000 * 3 ** (8 / 6);
    assertClose(long, [1, base ** -0.25, base ** -0.5, base ** -0.75], { atol: 0, rtol: 1e-6 }, 'dynamic inv_freq');
  });
});
