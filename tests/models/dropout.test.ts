/**
 * Dropout inside the model forward passes.
 *
 * Against tests/fixtures/dropout.json (scripts/reference/dropout.py): each family in training
 * mode, with the eval fixtures' weights and inputs and torch's dropout replaced by a bit-exact
 * replay of attn's generator, so the reference draws the very masks attn draws from
 * `model.dropoutGenerator` seeded with the case's seed. Logits within max |diff| <= 1e-4, the loss
 * within 1e-5 relative, every gradient within atol 1e-5 / rtol 1e-3: this pins where each family
 * applies dropout, with which probability, in which order, and the inverted 1 / (1 - p) scaling.
 *
 * Also: loaded models are in evaluation mode and give the eval fixtures' outputs bit for bit
 * whatever the dropout rates; the same seed gives the same output, a saved generator state replays
 * the same masks; the fused attention kernel runs in evaluation (and with p = 0 in training), the
 * composed path only when attention-weight dropout is active; the Dropout module keeps each value
 * exactly scaled by 1 / (1 - p) or zeroes it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BertForMaskedLM, BertForSequenceClassification, Dropout, GPT2LMHeadModel, Generator, LlamaForCausalLM, Module,
  T5ForConditionalGeneration, Transformer, crossEntropy, fromTypedArray, getBackend, loadModel, noGrad, readHfFolder,
  shareDropoutGenerator, zeros, type Tensor,
} from '../../src/index.js';
import { FIXTURES, assertClose, loadFixture, maxAbsDiff } from '../helpers.js';

interface DropoutCase {
  name: string;
  folder: string;
  cls_folder?: string;
  dropout: Record<string, number>;
  seed: number;
  cls_seed?: number;
  input_ids?: number[][];
  targets?: number[][];
  token_type_ids?: number[][];
  attention_mask?: number[][];
  labels?: number[][];
  decoder_input_ids?: number[][];
  src_ids?: number[][];
  tgt_ids?: number[][];
  src_key_padding_mask?: boolean[][];
  tgt_key_padding_mask?: boolean[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
  cls_logits?: number[];
}

const doc = loadFixture<DropoutCase>('dropout.json') as ReturnType<typeof loadFixture<DropoutCase>> & { reference: string };

function ints(rows: number[][]): Tensor {
  return fromTypedArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
}

/** torch's key_padding_mask (true = padding) -> attn's padding mask (1 = token). */
function tokens(pad: boolean[][]): Tensor {
  return ints(pad.map((row) => row.map((p) => (p ? 0 : 1))));
}

function folder(name: string, overrides: Record<string, number> = {}) {
  const f = readHfFolder(join(FIXTURES, name));
  return { config: { ...f.config, ...overrides }, weights: f.weights };
}

interface Runner {
  model: Module & { dropoutGenerator: Generator };
  /** The forward pass and the loss of the case. */
  run(): { logits: Tensor; loss: Tensor };
}

/** The model of a case (dropout rates from the case) and how to run it on the case's inputs. */
function runnerFor(c: DropoutCase, overrides: Record<string, number> = c.dropout): Runner {
  const lm = (model: Module & { dropoutGenerator: Generator; forward(ids: Tensor): Tensor }): Runner => ({
    model,
    run() {
      const logits = model.forward(ints(c.input_ids!));
      return { logits, loss: crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(c.targets!).reshape(-1)) };
    },
  });
  switch (c.name) {
    case 'gpt2': return lm(GPT2LMHeadModel.fromPretrained(folder(c.folder, overrides)));
    case 'llama': return lm(LlamaForCausalLM.fromPretrained(folder(c.folder, overrides)));
    case 'bert': {
      const model = BertForMaskedLM.fromPretrained(folder(c.folder, overrides));
      return {
        model,
        run() {
          const logits = model.forward(ints(c.input_ids!), { tokenTypeIds: ints(c.token_type_ids!), attentionMask: ints(c.attention_mask!) });
          return { logits, loss: crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(c.labels!).reshape(-1)) };
        },
      };
    }
    case 'transformer': {
      const model = Transformer.fromPretrained(folder(c.folder, overrides));
      return {
        model,
        run() {
          const logits = model.forward(ints(c.src_ids!), ints(c.tgt_ids!), { srcMask: tokens(c.src_key_padding_mask!), tgtMask: tokens(c.tgt_key_padding_mask!) });
          return { logits, loss: crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(c.targets!).reshape(-1)) };
        },
      };
    }
    default: {
      const model = T5ForConditionalGeneration.fromPretrained(folder(c.folder, overrides));
      return {
        model,
        run() {
          const logits = model.forward(ints(c.input_ids!), ints(c.decoder_input_ids!), { attentionMask: ints(c.attention_mask!) });
          return { logits, loss: crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(c.labels!).reshape(-1)) };
        },
      };
    }
  }
}

for (const c of doc.cases) {
  describe(`${c.name} in training mode (${Object.entries(c.dropout).map(([k, v]) => `${k} ${v}`).join(', ')}) vs ${doc.generator}, torch ${doc.versions.torch}`, () => {
    const { model, run } = runnerFor(c);

    it('logits and loss match the reference with the same masks', () => {
      model.train();
      model.dropoutGenerator.manualSeed(c.seed);
      const { logits, loss } = noGrad(run);
      assert.deepEqual([...logits.shape], c.logits_shape);
      const diff = maxAbsDiff(logits.toTypedArray(), c.logits);
      assert.ok(diff <= 1e-4, `${c.name}: max |logits diff| ${diff}`);
      assert.ok(Math.abs(loss.item() - c.loss) <= 1e-5 * Math.abs(c.loss), `${c.name}: loss ${loss.item()} vs ${c.loss}`);
    });

    if (Object.keys(c.grads).length > 0) {
      it('the gradient of the loss w.r.t. every parameter matches', () => {
        model.train();
        model.zeroGrad();
        model.dropoutGenerator.manualSeed(c.seed);
        run().loss.backward();
        const params = model.stateDict();
        assert.deepEqual([...params.keys()].sort(), Object.keys(c.grads).sort());
        for (const [name, expected] of Object.entries(c.grads)) {
          assertClose(params.get(name)!.grad!, expected, { atol: 1e-5, rtol: 1e-3 }, `${c.name} grad ${name}`);
        }
      });
    }

    it('in evaluation mode the rates do not matter: the same logits as with every rate 0, bit for bit', () => {
      model.eval();
      const { logits } = noGrad(run);
      const zero = Object.fromEntries(Object.keys(c.dropout).map((k) => [k, 0]));
      const plain = runnerFor(c, zero);
      plain.model.train(); // p = 0 in training mode is the identity too
      const { logits: reference } = noGrad(plain.run);
      assert.deepEqual(logits.toTypedArray(), reference.toTypedArray());
    });
  });
}

describe('BertForSequenceClassification in training mode: classifier_dropout on the pooled state', () => {
  const c = doc.cases.find((x) => x.name === 'bert')!;
  it('logits match the reference with the same masks', () => {
    const model = BertForSequenceClassification.fromPretrained(folder(c.cls_folder!, c.dropout)).train();
    model.dropoutGenerator.manualSeed(c.cls_seed!);
    const logits = noGrad(() => model.forward(ints(c.input_ids!), { tokenTypeIds: ints(c.token_type_ids!), attentionMask: ints(c.attention_mask!) }));
    const diff = maxAbsDiff(logits.toTypedArray(), c.cls_logits!);
    assert.ok(diff <= 1e-4, `max |cls logits diff| ${diff}`);
  });
});

describe('training and evaluation modes', () => {
  const gpt2 = doc.cases.find((x) => x.name === 'gpt2')!;

  it('models start and load in evaluation mode, every module; train() and eval() set the whole tree', () => {
    for (const name of ['models-gpt2', 'models-llama', 'models-bert', 'models-t5', 'models-transformer']) {
      const { model } = loadModel(readHfFolder(join(FIXTURES, name)));
      assert.ok([...model.modules()].every((m) => !m.training), `${name}: loaded in evaluation mode`);
      model.train();
      assert.ok([...model.modules()].every((m) => m.training), `${name}: train() reaches every module`);
      model.eval();
      assert.ok([...model.modules()].every((m) => !m.training), `${name}: eval() reaches every module`);
    }
  });

  it('the loaded GPT-2 fixture (resid/embd/attn_pdrop 0.1 in its config.json) gives identical logits on every call', () => {
    const { model, run } = runnerFor(gpt2, {});
    assert.equal(model.training, false);
    const a = noGrad(run).logits.toTypedArray();
    const b = noGrad(run).logits.toTypedArray();
    assert.deepEqual(a, b);
  });

  it('the same seed gives the same output, another seed another; a saved generator state replays the same masks', () => {
    const { model, run } = runnerFor(gpt2);
    model.train();
    const out = () => noGrad(run).logits.toTypedArray();
    model.dropoutGenerator.manualSeed(5);
    const first = out();
    model.dropoutGenerator.manualSeed(5);
    assert.deepEqual(out(), first);
    model.dropoutGenerator.manualSeed(6);
    assert.ok(maxAbsDiff(out(), first) > 1e-3, 'another seed draws other masks');
    // a checkpoint saves the state between steps; restoring it gives the next step's masks again
    model.dropoutGenerator.manualSeed(7);
    out();
    const state = model.dropoutGenerator.getState();
    const next = out();
    assert.notDeepEqual(next, first);
    model.dropoutGenerator.setState(state);
    assert.deepEqual(out(), next);
  });

  it('every Dropout of a model draws from its dropoutGenerator (one shared generator; a given one is used)', () => {
    const g = new Generator(3);
    const model = GPT2LMHeadModel.fromPretrained(folder(gpt2.folder));
    const drops = [...model.modules()].filter((m): m is Dropout => m instanceof Dropout);
    assert.equal(drops.length, 1 + 2 * 3, 'drop + (attn_dropout, resid_dropout, mlp.dropout) per block');
    assert.ok(drops.every((d) => d.generator === model.dropoutGenerator));
    assert.equal(shareDropoutGenerator(model, g), g);
    assert.ok(drops.every((d) => d.generator === g));
  });
});

describe('fused attention kernel and attention-weight dropout', () => {
  /** Counts calls of the backend's fused attention forward while `fn` runs. */
  function fusedCalls(fn: () => void): number {
    const kernel = getBackend().fused.attention;
    assert.ok(kernel, 'the default backend has a fused attention kernel');
    const original = kernel.forward;
    let calls = 0;
    kernel.forward = (...args: Parameters<typeof original>) => { calls++; return original.apply(kernel, args); };
    try {
      fn();
    } finally {
      kernel.forward = original;
    }
    return calls;
  }

  const gpt2 = doc.cases.find((x) => x.name === 'gpt2')!;

  it('evaluation mode uses the fused kernel in every block despite attn_pdrop > 0', () => {
    const { model, run } = runnerFor(gpt2);
    model.eval();
    assert.equal(fusedCalls(() => noGrad(run)), 2);
  });

  it('training mode with attn_pdrop 0 keeps the fused kernel (only embedding and residual dropout)', () => {
    const { model, run } = runnerFor(gpt2, { ...gpt2.dropout, attn_pdrop: 0 });
    model.train();
    assert.equal(fusedCalls(() => noGrad(run)), 2);
  });

  it('training mode with attn_pdrop > 0 takes the composed path (the weights must exist to be dropped)', () => {
    const { model, run } = runnerFor(gpt2);
    model.train();
    assert.equal(fusedCalls(() => noGrad(run)), 0);
  });
});

describe('Dropout module', () => {
  it('keeps each value scaled by exactly 1 / (1 - p) (float32) or zeroes it; about 1 - p are kept', () => {
    const p = 0.3;
    const n = 20000;
    const x = zeros([n]);
    const data = x.storage.data as Float32Array;
    for (let i = 0; i < n; i++) data[i] = 1 + (i % 17) / 7;
    const d = new Dropout(p).train();
    d.generator = new Generator(1);
    const y = d.forward(x).toTypedArray();
    const scale = Math.fround(1 / (1 - p));
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (y[i] === 0) continue;
      kept++;
      assert.equal(y[i], Math.fround(data[i]! * scale), `element ${i}`);
    }
    // binomial(20000, 0.7): mean 14000, sd 65; 6 sd either side
    assert.ok(Math.abs(kept - n * (1 - p)) < 6 * Math.sqrt(n * p * (1 - p)), `kept ${kept} of ${n}`);
  });

  it('is the identity in evaluation mode and draws nothing there', () => {
    const d = new Dropout(0.5);
    d.generator = new Generator(2);
    const before = d.generator.getState();
    const x = fromTypedArray(Float32Array.from([1, 2, 3]), [3]);
    assert.equal(d.forward(x), x);
    assert.deepEqual(d.generator.getState(), before);
  });

  it('refuses a probability outside [0, 1)', () => {
    assert.throws(() => new Dropout(1), /Dropout: probability must be in \[0, 1\), got 1/);
    assert.throws(() => new Dropout(-0.1), /probability must be in \[0, 1\)/);
    assert.throws(() => GPT2LMHeadModel.fromPretrained(folder('models-gpt2', { attn_pdrop: 1.5 })), /GPT2Config: attn_pdrop must be a probability in \[0, 1\), got 1.5/);
  });
});
