/**
 * Chat templates from tokenizer_config.json files (tests/fixtures/chat-templates: the LLaMA-2,
 * Zephyr and ChatML templates as their models publish them) against the exact prompt strings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { applyChatTemplate, ChatTemplate, loadChatTemplate, tokenizerFromJson, trainBpe, trainedTokenizerJson, TokenizerError } from '../../src/index.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { englishProse } from './corpus.js';

const dir = join(FIXTURES, 'chat-templates');
const conversation = [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi there' },
  { role: 'user', content: ' How are you? ' },
];

describe('chat templates', () => {
  it('LLaMA-2: [INST] turns, <<SYS>> folded into the first, bos_token read from an AddedToken dict', () => {
    const t = loadChatTemplate(join(dir, 'llama-2.json'));
    assert.equal(
      t.applyChatTemplate(conversation),
      '<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] How are you? [/INST]',
    );
    assert.equal(t.applyChatTemplate(conversation.slice(1, 2)), '<s>[INST] Hello [/INST]');
  });

  it("LLaMA-2: the template's raise_exception becomes a TokenizerError with its message", () => {
    const t = loadChatTemplate(join(dir, 'llama-2.json'));
    assert.throws(
      () => t.applyChatTemplate([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }]),
      (e: unknown) => e instanceof TokenizerError && /Conversation roles must alternate user\/assistant\/user\/assistant\/\.\.\./.test(e.message),
    );
  });

  it('Zephyr: trim_blocks removes the newlines after block tags, not after expressions', () => {
    const t = loadChatTemplate(join(dir, 'zephyr.json'));
    const expected = '<|system|>\nYou are helpful.</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|user|>\n How are you? </s>\n';
    assert.equal(t.applyChatTemplate(conversation), expected);
    assert.equal(t.applyChatTemplate(conversation, { addGenerationPrompt: true }), expected + '<|assistant|>\n');
  });

  it('ChatML: a default system prompt, the generation prompt, and named templates', () => {
    const t = loadChatTemplate(join(dir, 'chatml.json'));
    assert.deepEqual(t.names, ['default', 'tool_use']);
    assert.equal(
      t.applyChatTemplate([{ role: 'user', content: 'Hello' }], { addGenerationPrompt: true }),
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    );
    assert.equal(
      t.applyChatTemplate(conversation.slice(0, 2)),
      '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n',
    );
    // Tools select the 'tool_use' template when the config has one.
    assert.equal(t.applyChatTemplate([{ role: 'user', content: 'x' }], { tools: [{ name: 'a' }, { name: 'b' }] }), 'TOOLS:2\nuser: x\n');
    assert.throws(() => t.applyChatTemplate([], { templateName: 'rag' }), /has no chat template named 'rag' \(it has: default, tool_use\)/);
  });

  it('encodeChat: the rendered prompt with added tokens as single ids and no extra post-processor tokens', () => {
    const trained = trainBpe(englishProse(100_000), { vocabSize: 600 });
    const tok = tokenizerFromJson(trainedTokenizerJson(trained, { specialTokens: ['<|im_start|>', '<|im_end|>'] }));
    const t = loadChatTemplate(join(dir, 'chatml.json'));
    const ids = t.encodeChat(tok, [{ role: 'user', content: 'Hello' }], { addGenerationPrompt: true });
    const start = tok.tokenToId('<|im_start|>')!;
    const end = tok.tokenToId('<|im_end|>')!;
    assert.deepEqual([ids.filter((i) => i === start).length, ids.filter((i) => i === end).length], [3, 2]);
    assert.equal(ids[0], start);
    assert.equal(tok.decode(ids), t.applyChatTemplate([{ role: 'user', content: 'Hello' }], { addGenerationPrompt: true }));
  });

  it('template strings, extra variables, and clear errors for configs without a template', () => {
    assert.equal(applyChatTemplate("{{ bos_token }}{% for m in messages %}{{ m.role|upper }}={{ m.content }};{% endfor %}{{ today }}", [{ role: 'user', content: 'x' }], { variables: { today: '2024-01-01' } }), 'USER=x;2024-01-01');
    assert.equal(ChatTemplate.fromString('{{ bos_token }}|', { bos_token: '<s>' }).applyChatTemplate([]), '<s>|');
    const d = tempDir('attn-chat-');
    writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>' }));
    assert.throws(() => loadChatTemplate(d), /tokenizer_config.json has no chat_template/);
    assert.throws(() => loadChatTemplate(join(d, 'missing.json')), /cannot read '.*missing.json'/);
    assert.throws(() => applyChatTemplate('{% for %}', []), /does not parse/);
    assert.throws(() => applyChatTemplate('{{ x }}', [{ content: 'no role' } as never]), /message 0 has no string 'role'/);
  });
});
