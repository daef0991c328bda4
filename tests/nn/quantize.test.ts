/**
 * Weight quantization for inference (quantizeModel: int8 per channel, q8_0, q4_0).
 * - Each weight is within the scheme's bound of its float value (half a step for int8 / q8_0,
 *   a step for q4_0, plus the rounding of a half-precision scale), so each Linear output is within
 *   sum_k bound_ik |x_k| of the float output.
 * - A quantized model's logits (the fused kernel dequantising in registers) equal those of the
 *   same model with the dequantized weights in float32, within float rounding; with the fused
 *   kernel switched off they are identical.
 * - KL and perplexity against the float32 model are printed for models-llama.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  Generator, Linear, LlamaForCausalLM, QUANT_SCHEMES, compareLogits, createModel, fromTypedArray, int4At, linear, loadPretrained, noGrad,
  perplexityOfLogits, quantizationErrorBound, quantizeModel, quantizeWeight, randn, readHfFolder, withoutFused, type CausalLM, type Tensor,
} from '../../src/index.js';
import { FIXTURES, loadFixture, maxAbsDiff } from '../helpers.js';

const fixture = loadFixture<never>('models-llama.json') as unknown as { input_ids: number[][]; targets: number[][] };
const ids = fromTypedArray(Int32Array.from(fixture.input_ids.flat()), [2, 8]);

/** Stored integer value of element i of a quantized weight. */
function qValue(w: Tensor, i: number): number {
  return w.dtype === 'int4' ? int4At(w.storage.data, i, w.storage.quant!.blockSize) : w.storage.data[i]!;
}

/** A copy of `model` whose quantized Linear weights are replaced by their float32 values. */
function dequantizedCopy(model: CausalLM, folder: string): CausalLM {
  const copy = loadPretrained(readHfFolder(join(FIXTURES, folder)));
  const weights = new Map(model.namedModules().filter(([, m]) => m instanceof Linear).map(([p, m]) => [p, (m as Linear).weight]));
  noGrad(() => {
    for (const [path, m] of copy.namedModules()) {
      const w = weights.get(path);
      if (m instanceof Linear && w && w.dtype !== 'float32') m.setWeight(w.to('float32'));
    }
  });
  return copy;
}

describe('weight quantization', () => {
  it('every weight is within the scheme\'s bound; each Linear output within sum_k bound_ik |x_k|', () => {
    const g = new Generator(11);
    const w = randn([48, 96], { generator: g });
    const x = randn([3, 96], { generator: g });
    const wf = w.toTypedArray();
    const y = linear(x, w).toTypedArray();
    const xs = x.toTypedArray();
    for (const scheme of QUANT_SCHEMES) {
      const q = quantizeWeight(w, scheme);
      const { scales, blockSize } = q.storage.quant!;
      const back = q.to('float32').toTypedArray();
      const rowBound = new Float64Array(48 * 96);
      for (let i = 0; i < wf.length; i++) {
        const s = scales[Math.floor(i / blockSize)]!;
        rowBound[i] = quantizationErrorBound(scheme, s);
        assert.ok(Math.abs(back[i]! - wf[i]!) <= rowBound[i]!, `${scheme}: element ${i} off by ${Math.abs(back[i]! - wf[i]!)} > ${rowBound[i]}`);
        assert.ok(Math.abs(qValue(q, i)) <= (scheme === 'q4_0' ? 8 : 127));
      }
      const yq = linear(x, q).toTypedArray();
      for (let m = 0; m < 3; m++) {
        for (let n = 0; n < 48; n++) {
          let bound = 0;
          let mag = 0;
          for (let k = 0; k < 96; k++) {
            bound += rowBound[n * 96 + k]! * Math.abs(xs[m * 96 + k]!);
            mag += Math.abs(wf[n * 96 + k]! * xs[m * 96 + k]!);
          }
          const err = Math.abs(yq[m * 48 + n]! - y[m * 48 + n]!);
          assert.ok(err <= bound + 96 * 2 ** -23 * mag, `${scheme}: y[${m},${n}] off by ${err} > ${bound}`);
        }
      }
    }
  });

  it('q4_0 uses the whole 4-bit range: the largest-magnitude element is exactly -8 d', () => {
    const w = randn([4, 64], { generator: new Generator(12) });
    const q = quantizeWeight(w, 'q4_0');
    const wf = w.toTypedArray();
    for (let b = 0; b < 8; b++) {
      let arg = b * 32;
      for (let i = b * 32; i < (b + 1) * 32; i++) if (Math.abs(wf[i]!) > Math.abs(wf[arg]!)) arg = i;
      assert.equal(qValue(q, arg), -8, `block ${b}`);
    }
  });

  it('quantizeModel replaces Linear weights only, reports skipped layers and the bytes saved', () => {
    const model = loadPretrained(readHfFolder(join(FIXTURES, 'models-llama')));
    const embed = (model as LlamaForCausalLM).model.embedTokens.weight;
    const r = quantizeModel(model, { scheme: 'q8_0', exclude: (p) => p === 'lm_head' });
    assert.equal(r.quantized.length, 2 * 6, 'q, k, v, o, gate, up per layer');
    assert.deepEqual(r.skipped.map((s) => s.path), ['model.layers.0.mlp.down_proj', 'model.layers.1.mlp.down_proj', 'lm_head']);
    assert.match(r.skipped[0]!.reason, /input size 48 is not a multiple of the block size 32/);
    assert.equal(r.skipped[2]!.reason, 'excluded');
    assert.equal(r.bytesAfter / r.bytesBefore, 36 / 128, 'q8_0 in memory: 32 int8 values and a float32 scale per 32 weights, instead of 128 bytes');
    assert.equal((model as LlamaForCausalLM).model.embedTokens.weight, embed, 'embeddings untouched');
    assert.equal((model as LlamaForCausalLM).model.norm.weight.dtype, 'float32');
    const again = quantizeModel(model, { scheme: 'q4_0' });
    assert.ok(again.skipped.some((s) => /already int8/.test(s.reason)));
    assert.throws(() => quantizeModel(model, { scheme: 'q2' as never }), /quantizeModel: unknown scheme 'q2' \(int8, q8_0, q4_0\)/);
  });

  it('quantized logits equal the dequantized float32 model\'s: within float rounding (fused), identically (composed)', () => {
    for (const scheme of QUANT_SCHEMES) {
      const model = loadPretrained(readHfFolder(join(FIXTURES, 'models-llama')));
      quantizeModel(model, { scheme });
      const reference = dequantizedCopy(model, 'models-llama');
      const expected = reference.forward(ids).toTypedArray();
      const fused = model.forward(ids).toTypedArray();
      const scale = Math.max(...Array.from(expected, Math.abs));
      assert.ok(maxAbsDiff(fused, expected) <= 1e-5 * scale, `${scheme}: fused kernel off by ${maxAbsDiff(fused, expected)}`);
      assert.equal(maxAbsDiff(withoutFused(() => model.forward(ids).toTypedArray()), withoutFused(() => reference.forward(ids).toTypedArray())), 0, `${scheme}: composed`);
    }
  });

  it('KL and perplexity vs float32 (models-llama and a 64-wide LLaMA where every layer quantizes)', () => {
    const targets = fixture.targets.flat();
    const makers: [string, () => CausalLM][] = [
      ['models-llama', () => loadPretrained(readHfFolder(join(FIXTURES, 'models-llama')))],
      ['llama-64', () => createModel({ model_type: 'llama', vocab_size: 64, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, initializer_range: 0.2 }, { seed: 3 }) as CausalLM],
    ];
    for (const [name, make] of makers) {
      const base = make();
      const f32 = base.forward(ids);
      const kls: Record<string, number> = {};
      for (const scheme of QUANT_SCHEMES) {
        const m = make();
        quantizeModel(m, { scheme });
        const logits = m.forward(ids);
        const c = compareLogits(f32, logits);
        kls[scheme] = c.klMean;
        console.log(`# ${name} ${scheme}: KL mean ${c.klMean.toExponential(3)} max ${c.klMax.toExponential(3)}, top-1 ${c.top1Agreement.toFixed(3)}, perplexity ${perplexityOfLogits(logits, targets).toFixed(4)} (f32 ${perplexityOfLogits(f32, targets).toFixed(4)})`);
      }
      assert.ok(kls['q8_0']! < kls['q4_0']!, `${name}: q8_0 KL ${kls['q8_0']} should be below q4_0's ${kls['q4_0']}`);
      assert.ok(kls['q8_0']! < 1e-2 && kls['int8']! < 1e-2, `${name}: 8-bit KL ${kls['q8_0']}, ${kls['int8']}`);
    }
  });
});
