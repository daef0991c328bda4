/**
 * RoPE scaling (linear, dynamic NTK, yarn, llama3) against tests/fixtures/rope-scaling.json
 * (scripts/reference/rope_scaling.py, a torch re-implementation of transformers'
 * modeling_rope_utils): inv_freq and the cos/sin tables within 1e-6, config dicts read through
 * ropeScalingFromConfig as LlamaConfig reads them. Model logits with yarn and dynamic scaling are
 * in tests/models/families.test.ts (models-llama-yarn, models-llama-dynamic).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ropeAngles, ropeInvFreq, ropeScalingFromConfig } from '../../src/index.js';
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
