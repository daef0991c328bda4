/**
 * llm.c-style step-by-step check: a tiny GPT-2 trained 10 AdamW steps (warmup + cosine, weight
 * decay on matrices only, clipping at 1.0, 2 accumulated micro-batches) by attn's Trainer gives
 * PyTorch's loss at every step (relative difference <= 1e-4) and PyTorch's gradients at step 0
 * (tests/fixtures/train-gpt2.json from scripts/reference/train_gpt2.py).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyOverrides, causalLmLoss, fromTypedArray, loadPretrained, readHfFolder, tidy, Trainer, TRAIN_DEFAULTS,
  type CausalLMBatch,
} from '../../src/index.js';
import { assertClose, FIXTURES, loadFixture } from '../helpers.js';

interface Micro { input_ids: number[][]; labels: number[][] }
const doc = loadFixture<never>('train-gpt2.json') as ReturnType<typeof loadFixture<never>> & {
  recipe: Record<string, unknown>;
  batches: Micro[][];
  losses: number[];
  grad_norms: number[];
  lrs: number[];
  grads_step0: Record<string, number[]>;
};

function toBatch(m: Micro): CausalLMBatch {
  const b = m.input_ids.length;
  const t = m.input_ids[0]!.length;
  return {
    inputIds: fromTypedArray(Int32Array.from(m.input_ids.flat()), [b, t]),
    labels: fromTypedArray(Int32Array.from(m.labels.flat()), [b, t]),
    tokens: b * t,
  };
}

/** Replays the fixture's micro-batches in order. */
function replay(): { next(): CausalLMBatch; state: unknown } {
  const all = doc.batches.flat();
  let i = 0;
  return {
    next: () => toBatch(all[i++]!),
    get state() { return i; },
    set state(v: unknown) { i = v as number; },
  };
}

function model() {
  const m = loadPretrained(readHfFolder(join(FIXTURES, 'train-gpt2')));
  m.train();
  return m;
}

describe(`training step by step vs PyTorch ${doc.versions.torch} (${doc.generator})`, () => {
  it('gradients at step 0 equal PyTorch (2 accumulated micro-batches)', () => {
    const m = model();
    for (const micro of doc.batches[0]!) {
      tidy(() => {
        const b = toBatch(micro);
        causalLmLoss(m, b).mul(0.5).backward();
      });
    }
    const names = Object.keys(doc.grads_step0);
    assert.equal(names.length, m.namedParameters().length);
    for (const [name, p] of m.namedParameters()) {
      assert.ok(p.grad, `${name} has a gradient`);
      assertClose(p.grad, doc.grads_step0[name]!, { atol: 1e-5, rtol: 1e-4 }, `grad ${name}`);
    }
  });

  it('10 AdamW steps: the same loss, gradient norm and learning rate at every step', () => {
    const out = mkdtempSync(join(tmpdir(), 'attn-ref-'));
    try {
      const config = applyOverrides(TRAIN_DEFAULTS, { ...doc.recipe, outDir: out, evalEvery: 0, saveEvery: 0, logEvery: 1 });
      const m = model();
      const trainer = new Trainer({ model: m, modelConfig: {}, config, loss: causalLmLoss, train: replay() });
      for (let s = 0; s < doc.losses.length; s++) {
        const r = trainer.trainStep();
        const rel = Math.abs(r.loss - doc.losses[s]!) / Math.abs(doc.losses[s]!);
        assert.ok(rel <= 1e-4, `step ${s}: loss ${r.loss} vs PyTorch ${doc.losses[s]} (relative ${rel.toExponential(2)})`);
        assert.ok(Math.abs(r.gradNorm - doc.grad_norms[s]!) <= 1e-4 * doc.grad_norms[s]!, `step ${s}: grad norm ${r.gradNorm} vs ${doc.grad_norms[s]}`);
        assert.ok(Math.abs(r.lr - doc.lrs[s]!) <= 1e-12, `step ${s}: lr ${r.lr} vs ${doc.lrs[s]}`);
      }
      // the run learned something: the last losses are below the first
      assert.ok(doc.losses.at(-1)! < doc.losses[0]!);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
