/**
 * The packaged default model (models/attn-tiny): a LLaMA-recipe model under 10M parameters in
 * f16 safetensors with its BPE tokenizer, that has learned English: its loss on a held-out
 * passage is far below the uniform ln(8193) = 9.01 and below a unigram model's (about 6.5 nats
 * per token for English BPE at this vocabulary), and `attn generate` uses it when no --model is given.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { causalLmLoss, fromTypedArray, LlamaForCausalLM, loadModel, loadTokenizerJson, noGrad, readHfFolder, tidy } from '../../src/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIR = join(ROOT, 'models', 'attn-tiny');
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

// A sentence written for this test (not in the corpus), and the same words in a shuffled order.
const UNSEEN = 'The committee will report to the Congress on the state of the public schools and the cost of the new roads before the end of the year.';

describe('models/attn-tiny', () => {
  const folder = readHfFolder(DIR);
  const loaded = loadModel(folder);
  const tok = loadTokenizerJson(join(DIR, 'tokenizer.json'));

  it('is a LLaMA-recipe model (RMSNorm, RoPE, SwiGLU, GQA) under 10M parameters, f16, under 20 MB', () => {
    assert.equal(loaded.kind, 'decoder-only');
    const m = loaded.model as LlamaForCausalLM;
    assert.ok(m instanceof LlamaForCausalLM);
    assert.ok(m.config.numKeyValueHeads < m.config.num_attention_heads, 'grouped-query attention');
    assert.ok(m.numParameters() <= 10_000_000, `${m.numParameters()} parameters`);
    assert.equal(folder.config['torch_dtype'], 'float16');
    assert.ok(statSync(join(DIR, 'model.safetensors')).size <= 20 * 2 ** 20);
    assert.equal(tok.vocabSize, m.config.vocab_size);
    assert.equal(tok.decode(tok.encode(UNSEEN)), UNSEEN);
  });

  it('has learned English: held-out loss far below uniform and unigram levels', () => {
    const loss = (text: string): number => tidy(() => noGrad(() => {
      const ids = tok.encode(text);
      const x = fromTypedArray(Int32Array.from(ids.slice(0, -1)), [1, ids.length - 1]);
      const y = fromTypedArray(Int32Array.from(ids.slice(1)), [1, ids.length - 1]);
      return causalLmLoss(loaded.model, { inputIds: x, labels: y, tokens: ids.length - 1 }).item();
    }));
    const unseen = loss(UNSEEN);
    const words = UNSEEN.slice(0, -1).split(' ');
    const shuffled = words.map((_, i) => words[(i * 7) % words.length]).join(' ') + '.'; // 7 is coprime to the 27 words
    const scrambled = loss(shuffled);
    assert.ok(unseen < 6.0, `held-out loss ${unseen.toFixed(3)}`);
    // word order matters to it: the same words shuffled cost at least one nat per token more
    assert.ok(scrambled > unseen + 1, `shuffled ${scrambled.toFixed(3)} vs ordered ${unseen.toFixed(3)}`);
  });

  it('attn generate uses it by default', () => {
    const r = spawnSync(process.execPath, [MAIN, 'generate', '--prompt', 'The Congress', '--max-tokens', '12', '--seed', '1', '--json'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { text: string; ids: number[] };
    assert.equal(out.ids.length, 12);
    assert.equal(out.text, tok.decode(out.ids));
  });
});
