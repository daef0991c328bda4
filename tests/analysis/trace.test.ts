/**
 * Named intermediates and traces: the names, blocks and shapes one forward pass records for GPT-2
 * and LLaMA, recorded tensors that are the model's own (result_output is the logits; l_out of the
 * last block feeds result_norm), recorders that leave no trace once removed, and the tiny
 * same-structure config for presets too large to instantiate.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  LlamaConfig, PRESETS, RMSNorm, loadPretrained, modelFromConfig, named, noGrad, readHfFolder, tensor, traceConfig,
  traceForward, traceInput, withRecorder, type NamedIntermediate,
} from '../../src/index.js';
import { FIXTURES } from '../helpers.js';

const BLOCK = ['attn_norm', 'attn_out', 'ffn_inp', 'ffn_norm', 'ffn_out', 'l_out'];

function expectedNames(layers: number): string[] {
  return ['-:inp_embd', ...Array.from({ length: layers }, (_, l) => BLOCK.map((n) => `${l}:${n}`)).flat(), '-:result_norm', '-:result_output'];
}

describe('named intermediates', () => {
  it('named() returns its tensor and shows it only to installed recorders, nested ones included', () => {
    const t = tensor([1, 2]);
    const outer: string[] = [];
    const inner: string[] = [];
    assert.equal(named(t, 'before'), t);
    withRecorder((x) => outer.push(x.name), () => {
      named(t, 'a', 0);
      withRecorder((x) => inner.push(`${x.name}@${x.layer}`), () => named(t, 'b', 3));
      named(t, 'c');
    });
    named(t, 'after');
    assert.deepEqual(outer, ['a', 'b', 'c']);
    assert.deepEqual(inner, ['b@3']);
  });

  for (const name of ['gpt2', 'llama']) {
    it(`${name}: every block's intermediates in execution order, with shapes; result_output is the logits`, () => {
      const model = loadPretrained(readHfFolder(join(FIXTURES, `models-${name}`)));
      const ids = traceInput(5, 64);
      const entries = traceForward(model, ids);
      assert.deepEqual(entries.map((e) => `${e.layer ?? '-'}:${e.name}`), expectedNames(2));
      for (const e of entries) assert.deepEqual(e.shape, e.name === 'result_output' ? [1, 5, 64] : [1, 5, 32], `${e.name} shape`);
      const seen: NamedIntermediate[] = [];
      const logits = noGrad(() => withRecorder((x) => seen.push(x), () => model.forward(ids)));
      assert.deepEqual(seen.at(-1)!.tensor.toTypedArray(), logits.toTypedArray());
      if (name === 'llama') {
        // result_norm = model.norm(l_out of the last block): the recorded tensors are the ones used
        const lastOut = seen.find((x) => x.name === 'l_out' && x.layer === 1)!.tensor;
        const norm = (model as unknown as { model: { norm: RMSNorm } }).model.norm;
        assert.deepEqual(noGrad(() => norm.forward(lastOut)).toTypedArray(), seen.find((x) => x.name === 'result_norm')!.tensor.toTypedArray());
      }
    });
  }

  it('traceConfig keeps small configs and shrinks large ones keeping head counts and GQA grouping', () => {
    const small = { model_type: 'llama', vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4 };
    assert.deepEqual(traceConfig(small), { config: small, shrunk: false });
    const big = PRESETS['llama-2-70b']!.config;
    const { config, shrunk } = traceConfig(big);
    assert.ok(shrunk);
    const c = LlamaConfig.fromDict(config);
    assert.equal(c.num_attention_heads, big['num_attention_heads']);
    assert.equal(c.numKeyValueHeads, big['num_key_value_heads']);
    assert.equal(c.headDim, 8);
    assert.equal(c.num_hidden_layers, 2);
    const entries = traceForward(modelFromConfig(config), traceInput(3, c.vocab_size));
    assert.deepEqual(entries.map((e) => `${e.layer ?? '-'}:${e.name}`), expectedNames(2));
    assert.throws(() => modelFromConfig(PRESETS['bert-base']!.config), /model_type "bert" has no named intermediates/);
  });
});
