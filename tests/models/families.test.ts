/**
 * GPT-2, LLaMA (also with yarn and dynamic rope_scaling), Mistral and Qwen2 against tests/fixtures/models-*.json (scripts/reference/models.py,
 * a torch re-implementation of transformers' modeling code): the weights are loaded from the
 * fixture's Hugging Face folder (config.json + safetensors, sharded for llama); logits must match
 * within max |diff| <= 1e-4, and the gradient of the mean cross-entropy w.r.t. every parameter
 * must match.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, crossEntropy, fromTypedArray,
  loadPretrained, readHfFolder, type CausalLM,
} from '../../src/index.js';
import { FIXTURES, assertClose, loadFixture, maxAbsDiff } from '../helpers.js';

interface ModelFixture {
  reference: string;
  folder: string;
  config: Record<string, unknown>;
  input_ids: number[][];
  targets: number[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
}

const EXPECTED_CLASS: Record<string, Function> = {
  gpt2: GPT2LMHeadModel, llama: LlamaForCausalLM, 'llama-bias': LlamaForCausalLM, mistral: MistralForCausalLM, qwen2: Qwen2ForCausalLM,
  'llama-yarn': LlamaForCausalLM, 'llama-dynamic': LlamaForCausalLM,
};

function ids(rows: number[][]) {
  return fromTypedArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
}

for (const name of Object.keys(EXPECTED_CLASS)) {
  const doc = loadFixture<never>(`models-${name}.json`) as unknown as ModelFixture & { versions: Record<string, string> };
  describe(`${name} vs ${doc.reference}, torch ${doc.versions.torch}`, () => {
    const model: CausalLM = loadPretrained(readHfFolder(join(FIXTURES, doc.folder)));

    it(`loads the Hugging Face folder into a ${EXPECTED_CLASS[name]!.name} with every checkpoint tensor`, () => {
      assert.ok(model instanceof EXPECTED_CLASS[name]!);
      const own = new Set(model.stateDict().keys());
      assert.deepEqual([...own].sort(), Object.keys(doc.grads).sort(), 'parameter names = checkpoint names');
    });

    it('logits match within max |diff| <= 1e-4, and the loss matches', () => {
      model.zeroGrad();
      const logits = model.forward(ids(doc.input_ids));
      assert.deepEqual([...logits.shape], doc.logits_shape);
      const diff = maxAbsDiff(logits.toTypedArray(), doc.logits);
      assert.ok(diff <= 1e-4, `${name}: max |logits diff| ${diff}`);
      const v = logits.shape[2]!;
      const loss = crossEntropy(logits.reshape(-1, v), ids(doc.targets).reshape(-1));
      assert.ok(Math.abs(loss.item() - doc.loss) <= 1e-5 * Math.abs(doc.loss), `${name}: loss ${loss.item()} vs ${doc.loss}`);
    });

    it('the gradient of the mean cross-entropy w.r.t. every parameter matches', () => {
      model.zeroGrad();
      const logits = model.forward(ids(doc.input_ids));
      const v = logits.shape[2]!;
      crossEntropy(logits.reshape(-1, v), ids(doc.targets).reshape(-1)).backward();
      const params = model.stateDict();
      for (const [pname, expected] of Object.entries(doc.grads)) {
        const p = params.get(pname);
        assert.ok(p, `${pname}: no such parameter`);
        assert.ok(p.grad, `${pname}: no gradient`);
        assertClose(p.grad, expected, { atol: 1e-5, rtol: 1e-3 }, `${name} grad ${pname}`);
      }
    });
  });
}
