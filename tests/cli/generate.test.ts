/**
 * `attn generate` and `attn chat` on a tiny random LLaMA folder written by the test (config.json,
 * model.safetensors, and a byte-level BPE tokenizer.json trained on a paragraph, eos = its
 * <|endoftext|>): the command's ids and text equal the library's generation in-process for the same
 * settings; --no-cache and the default cache agree; --window and --kv int8 select those caches;
 * a seed reproduces a sampled run; the JSON has every documented field; streaming prints the text;
 * errors exit 2 with a message; several prompts (--prompt repeated, --prompts-file, --prompt-ids
 * repeated) run as one batch whose JSON lines equal each prompt generated alone; chat streams
 * replies that equal a fresh generation over the whole conversation, in the folder's chat template
 * when tokenizer_config.json has one, else in the plain "User:/Assistant:" format, and says which.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  Generator, InferenceSession, LlamaConfig, LlamaForCausalLM, generateAll, generativeModel, loadChatTemplate, loadModel, loadTokenizerJson,
  readHfFolder, toHfExport, trainBpe, trainedTokenizerJson, writeHfFolder, type ChatMessage, type GenerateOptions,
} from '../../src/index.js';
import { PLAIN_CHAT, chatFormat, renderPlainChat, reuseSession } from '../../src/cli/commands/chat.js';
import { loadForGeneration } from '../../src/cli/generation.js';
import { FIXTURES } from '../helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, ...(input !== undefined ? { input } : {}) });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const CORPUS = `The cache keeps the keys and values of every token the model has seen, so each new token
costs one pass over the cache instead of a pass over the whole sequence. Hello world, hello cache,
hello tokens: the quick brown fox jumps over the lazy dog while the model writes text.`;

let dir: string;
/** The same model with a tokenizer_config.json holding a ChatML chat template. */
let chatDir: string;
/** ... and with a tokenizer_config.json that has no chat template. */
let noTemplateDir: string;
let work: string;

const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
  + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

before(() => {
  work = mkdtempSync(join(tmpdir(), 'attn-generate-'));
  dir = join(work, 'tiny-llama');
  const trained = trainBpe([CORPUS.repeat(3)], { vocabSize: 300 });
  const tokJson = trainedTokenizerJson(trained, { specialTokens: ['<|endoftext|>'] });
  const vocab = 301;
  const config = LlamaConfig.fromDict({
    vocab_size: vocab, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 256, tie_word_embeddings: false,
  });
  const model = new LlamaForCausalLM(config, { generator: new Generator(3) });
  const exp = toHfExport(model);
  const tokPath = join(work, 'tokenizer.json');
  writeFileSync(tokPath, JSON.stringify(tokJson));
  writeHfFolder(dir, { config: { ...exp.config, eos_token_id: 300 }, tensors: exp.tensors, copyFiles: [tokPath] });
  chatDir = join(work, 'tiny-llama-chat');
  const tokConfig = join(work, 'tokenizer_config.json');
  writeFileSync(tokConfig, JSON.stringify({ eos_token: '<|endoftext|>', chat_template: CHATML }));
  writeHfFolder(chatDir, { config: { ...exp.config, eos_token_id: 300 }, tensors: exp.tensors, copyFiles: [tokPath, tokConfig] });
  noTemplateDir = join(work, 'tiny-llama-no-template');
  mkdirSync(join(work, 'no-template'));
  const plainConfig = join(work, 'no-template', 'tokenizer_config.json');
  writeFileSync(plainConfig, JSON.stringify({ eos_token: '<|endoftext|>' }));
  writeHfFolder(noTemplateDir, { config: { ...exp.config, eos_token_id: 300 }, tensors: exp.tensors, copyFiles: [tokPath, plainConfig] });
});

after(() => rmSync(work, { recursive: true, force: true }));

interface GenerateJson {
  text: string; ids: number[]; finish_reason: string; prompt_tokens: number; generated_tokens: number;
  ttft_ms: number; tpot_ms: number; tokens_per_s: number; prefill_tokens_per_s: number; decode_tokens_per_s: number;
  cache: Record<string, unknown>; peak_rss_bytes: number;
}

function runJson(...args: string[]): GenerateJson {
  const r = attn(['generate', '--model', dir, '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as GenerateJson;
}

function library() {
  const f = readHfFolder(dir);
  return { model: generativeModel(loadModel(f), { config: f.config }), tok: loadTokenizerJson(join(dir, 'tokenizer.json')) };
}

describe('attn generate', () => {
  it('--json: every field, and the same ids and text as the library for the same settings', async () => {
    const out = runJson('--prompt', 'hello world', '--max-tokens', '12');
    for (const k of ['ttft_ms', 'tpot_ms', 'tokens_per_s', 'prefill_tokens_per_s', 'decode_tokens_per_s', 'peak_rss_bytes', 'prompt_tokens', 'generated_tokens']) {
      assert.equal(typeof out[k as keyof GenerateJson], 'number', k);
      assert.ok((out[k as keyof GenerateJson] as number) >= 0, k);
    }
    assert.ok(out.peak_rss_bytes > 10 * 2 ** 20);
    assert.deepEqual(out.cache, { kind: 'dense' });
    const { model, tok } = library();
    const want = await generateAll(model, tok, 'hello world', { maxTokens: 12 });
    assert.deepEqual(out.ids, want.ids);
    assert.equal(out.text, want.text);
    assert.equal(out.finish_reason, want.finishReason);
    assert.equal(out.prompt_tokens, tok.encode('hello world').length);
    console.log(`# attn generate: ${JSON.stringify(out.text)} (${out.generated_tokens} tokens, ttft ${out.ttft_ms.toFixed(2)} ms, tpot ${out.tpot_ms.toFixed(2)} ms)`);
  });

  it('--no-cache recomputes and agrees; --window and --kv int8 select those caches', async () => {
    const base = runJson('--prompt', 'the cache keeps', '--max-tokens', '10');
    const none = runJson('--prompt', 'the cache keeps', '--max-tokens', '10', '--no-cache');
    assert.deepEqual(none.ids, base.ids);
    assert.deepEqual(none.cache, { kind: 'none' });
    const windowed = runJson('--prompt', 'the cache keeps', '--max-tokens', '10', '--window', '4');
    assert.deepEqual(windowed.cache, { kind: 'sliding-window', window: 4, dtype: 'float32' });
    const { model, tok } = library();
    const opts: GenerateOptions = { maxTokens: 10, cache: { kind: 'sliding-window', window: 4 } };
    assert.deepEqual(windowed.ids, (await generateAll(model, tok, 'the cache keeps', opts)).ids);
    const int8 = runJson('--prompt', 'the cache keeps', '--max-tokens', '10', '--kv', 'int8');
    assert.deepEqual(int8.cache, { kind: 'dense', dtype: 'int8' });
    assert.deepEqual(int8.ids, (await generateAll(model, tok, 'the cache keeps', { maxTokens: 10, cache: { kind: 'dense', dtype: 'int8' } })).ids);
    const sinks = runJson('--prompt', 'the cache keeps', '--max-tokens', '6', '--window', '4', '--sinks', '2');
    assert.deepEqual(sinks.cache, { kind: 'sinks', sinks: 2, window: 4, dtype: 'float32' });
  });

  it('a seed reproduces a sampled run', () => {
    const args = ['--prompt', 'hello', '--max-tokens', '10', '--temperature', '1.5', '--top-k', '50', '--seed', '77'];
    assert.deepEqual(runJson(...args).ids, runJson(...args).ids);
  });

  it('streams the text to stdout and the timings to stderr', () => {
    const r = attn(['generate', '--model', dir, '--prompt', 'hello world', '--max-tokens', '12']);
    assert.equal(r.code, 0, r.stderr);
    const j = runJson('--prompt', 'hello world', '--max-tokens', '12');
    assert.equal(r.stdout, `${j.text}\n`);
    assert.match(r.stderr, /prompt tokens, 12 generated \(length\); ttft [\d.]+ ms, tpot [\d.]+ ms, [\d.]+ tokens\/s/);
  });

  it('--prompt-ids on a folder without a tokenizer prints ids', () => {
    const r = attn(['generate', '--model', join(FIXTURES, 'models-gpt2'), '--prompt-ids', '1,2,3', '--max-tokens', '4']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+ \d+ \d+ \d+\n$/);
  });

  it('errors exit 2 with a message that names the problem', () => {
    const cases: [string[], RegExp][] = [
      [['generate', '--model', dir], /give exactly one of --prompt TEXT \(or --prompts-file FILE\) or --prompt-ids 1,2,3/],
      [['generate', '--model', dir, '--prompt', 'x', '--prompt-ids', '1,2'], /give exactly one of --prompt TEXT/],
      [['generate', '--model', dir, '--prompts-file', join(work, 'nope.txt')], /--prompts-file: no such file/],
      [['generate', '--model', dir, '--prompt', 'x', '--prompt', 'y', '--window', '4', '--sinks', '2'], /a 'sinks' cache cannot hold a padded batch of several prompts/],
      [['generate', '--model', join(FIXTURES, 'models-t5'), '--prompt-ids', '1,2', '--prompt-ids', '3'], /several prompts run as one batch, which needs a decoder-only model; t5 is an encoder-decoder/],
      [['generate', '--model', dir, '--prompt', 'x', '--no-cache', '--kv', 'int8'], /--kv configures the KV cache; it cannot be combined with --no-cache/],
      [['generate', '--model', dir, '--prompt', 'x', '--kv', 'int4'], /--kv: expected f32 or int8, got 'int4'/],
      [['generate', '--model', dir, '--prompt', 'x', '--sinks', '2'], /--sinks needs --window W/],
      [['generate', '--model', dir, '--prompt', 'x', '--top-p', '1.5'], /--top-p: expected a number in \(0, 1\], got '1.5'/],
      [['generate', '--model', join(FIXTURES, 'models-gpt2'), '--prompt', 'x'], /has no tokenizer.json or tokenizer.model; give --prompt-ids instead/],
      [['generate', '--model', join(work, 'nope'), '--prompt', 'x'], /--model: no such folder/],
    ];
    for (const [args, re] of cases) {
      const r = attn(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});

describe('attn generate: several prompts as one batch', () => {
  const PROMPTS = ['hello world', 'the quick brown fox jumps over', 'cache'];

  function runLines(...args: string[]): (GenerateJson & { prompt_index: number; batch: Record<string, number> })[] {
    const r = attn(['generate', '--model', dir, '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  }

  it('--prompt repeated: one JSON object per prompt, each equal to that prompt generated alone', async () => {
    const lines = runLines(...PROMPTS.flatMap((p) => ['--prompt', p]), '--max-tokens', '9');
    assert.equal(lines.length, 3);
    const { model, tok } = library();
    for (const [i, p] of PROMPTS.entries()) {
      const line = lines[i]!;
      assert.equal(line.prompt_index, i);
      const want = await generateAll(model, tok, p, { maxTokens: 9 });
      assert.deepEqual(line.ids, want.ids, `prompt ${i} ids`);
      assert.equal(line.text, want.text, `prompt ${i} text`);
      assert.equal(line.finish_reason, want.finishReason);
      assert.equal(line.prompt_tokens, tok.encode(p).length);
      for (const k of ['ttft_ms', 'tpot_ms', 'tokens_per_s', 'prefill_tokens_per_s', 'decode_tokens_per_s', 'generated_tokens']) {
        assert.equal(typeof line[k as keyof GenerateJson], 'number', k);
      }
      assert.deepEqual(line.cache, { kind: 'dense' });
      assert.equal(line.batch['size'], 3);
      assert.equal(line.batch['prompt_tokens'], PROMPTS.reduce((s, q) => s + tok.encode(q).length, 0));
    }
    console.log(`# attn generate batch: ${lines.map((l) => JSON.stringify(l.text)).join(', ')}`);
  });

  it('--prompts-file and repeated --prompt-ids give the same batch; a seeded sampled batch reproduces', () => {
    const file = join(work, 'prompts.txt');
    writeFileSync(file, `${PROMPTS.join('\n')}\n\n`);
    const fromFile = runLines('--prompts-file', file, '--max-tokens', '6').map((l) => l.ids);
    assert.deepEqual(fromFile, runLines(...PROMPTS.flatMap((p) => ['--prompt', p]), '--max-tokens', '6').map((l) => l.ids));
    const { tok } = library();
    const byIds = runLines(...PROMPTS.flatMap((p) => ['--prompt-ids', tok.encode(p).join(',')]), '--max-tokens', '6').map((l) => l.ids);
    assert.deepEqual(byIds, fromFile);
    const sampled = ['--prompts-file', file, '--max-tokens', '8', '--temperature', '1.3', '--seed', '5'];
    assert.deepEqual(runLines(...sampled).map((l) => l.ids), runLines(...sampled).map((l) => l.ids));
  });

  it('without --json each output follows a "=== prompt N of M ===" line; timings per prompt and for the batch go to stderr', () => {
    const r = attn(['generate', '--model', dir, '--prompt', PROMPTS[0]!, '--prompt', PROMPTS[1]!, '--max-tokens', '5']);
    assert.equal(r.code, 0, r.stderr);
    const lines = runLines('--prompt', PROMPTS[0]!, '--prompt', PROMPTS[1]!, '--max-tokens', '5');
    assert.equal(r.stdout, `=== prompt 1 of 2 ===\n${lines[0]!.text}\n=== prompt 2 of 2 ===\n${lines[1]!.text}\n`);
    assert.match(r.stderr, /\[prompt 1: \d+ prompt tokens, 5 generated \(length\)/);
    assert.match(r.stderr, /\[batch of 2: \d+ prompt tokens, 10 generated in 4 decode steps/);
  });
});

describe('attn chat', () => {
  it("uses tokenizer_config.json's chat template; each reply equals a fresh generation over the templated conversation", async () => {
    const r = attn(['chat', '--model', chatDir, '--max-tokens', '8', '--system', 'be brief'], 'hello\nthe quick fox\n/exit\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /using the chat template of tokenizer_config\.json \(replies end at <\|endoftext\|>\)/);
    const { model, tok } = library();
    const template = loadChatTemplate(chatDir);
    const opts = { maxTokens: 8, stopIds: [300] };
    const turn1: ChatMessage[] = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }];
    const ids1 = template.encodeChat(tok, turn1, { addGenerationPrompt: true });
    assert.ok(tok.decode(ids1).endsWith('<|im_start|>assistant\n'), 'the prompt ends with the generation prompt');
    const first = await generateAll(model, tok, ids1, opts);
    const turn2: ChatMessage[] = [...turn1, { role: 'assistant', content: first.text }, { role: 'user', content: 'the quick fox' }];
    const second = await generateAll(model, tok, template.encodeChat(tok, turn2, { addGenerationPrompt: true }), opts);
    assert.equal(r.stdout, `${first.text}\n${second.text}\n`);
  });


  it('streams replies in the plain User:/Assistant: format; each reply equals a fresh generation over the whole conversation', async () => {
    const r = attn(['chat', '--model', dir, '--max-tokens', '8'], 'hello\nthe quick fox\n/exit\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no tokenizer_config\.json, so no chat template; using a plain "User:\/Assistant:" format/);
    const { model, tok } = library();
    const turn1 = PLAIN_CHAT.first('hello', null);
    const first = await generateAll(model, tok, turn1, { maxTokens: 8, stop: PLAIN_CHAT.stop });
    const turn2 = turn1 + first.text + PLAIN_CHAT.next('the quick fox');
    const second = await generateAll(model, tok, turn2, { maxTokens: 8, stop: PLAIN_CHAT.stop });
    assert.equal(r.stdout, `${first.text}\n${second.text}\n`);
  });

  it('falls back to the plain format, saying why, when tokenizer_config.json has no chat template', () => {
    const format = chatFormat(loadForGeneration(noTemplateDir));
    assert.equal(format.kind, 'plain');
    assert.match(format.notice, /no usable chat template in tokenizer_config\.json \(.*has no chat_template.*\); using a plain "User:\/Assistant:" format/);
    assert.equal(format.kind, chatFormat(loadForGeneration(dir)).kind);
    assert.equal(chatFormat(loadForGeneration(chatDir)).kind, 'template');
    const msgs: ChatMessage[] = [{ role: 'system', content: 's' }, { role: 'user', content: 'a' }, { role: 'assistant', content: ' b' }, { role: 'user', content: 'c' }];
    assert.equal(renderPlainChat(msgs), `${PLAIN_CHAT.first('a', 's')} b${PLAIN_CHAT.next('c')}`);
  });

  it('reuseSession keeps the common prefix, trims the rest, or starts over when the cache cannot trim', () => {
    const { model } = library();
    const s = new InferenceSession(model);
    s.feed([5, 6, 7, 8, 9]);
    let r = reuseSession(s, [5, 6, 7, 1, 2], () => assert.fail('a dense cache can trim'));
    assert.equal(r.session, s);
    assert.deepEqual(r.feed, [1, 2]);
    assert.deepEqual(s.tokens, [5, 6, 7]);
    r = reuseSession(s, [5, 6, 7], () => assert.fail('no new session needed'));
    assert.deepEqual(r.feed, [7], 'the last token is run again for its logits');
    s.dispose();
    const ring = new InferenceSession(model, { cache: { kind: 'sliding-window', window: 2 } });
    ring.feed([1, 2, 3, 4]);
    const fresh = new InferenceSession(model, { cache: { kind: 'sliding-window', window: 2 } });
    r = reuseSession(ring, [1, 2, 9], () => fresh);
    assert.equal(r.session, fresh);
    assert.deepEqual(r.feed, [1, 2, 9]);
    fresh.dispose();
  });

  it('refuses an encoder-decoder', () => {
    const r = attn(['chat', '--model', join(FIXTURES, 'models-t5')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /chat needs a decoder-only model; t5 is an encoder-decoder/);
  });
});
