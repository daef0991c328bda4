import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HfTokenizer, InferenceSession, generate, loadChatTemplate, type ChatMessage, type ChatTemplate } from '../../index.js';
import { UsageError, type Command } from '../command.js';
import { SAMPLING_OPTIONS, SAMPLING_USAGE, cacheFromArgs, loadForGeneration, samplingFromArgs, type LoadedForGeneration } from '../generation.js';

/**
 * The plain conversation format used when the folder has no chat template we can apply:
 *   System: ...\nUser: ...\nAssistant: ...\nUser: ...\nAssistant:
 */
export const PLAIN_CHAT = {
  first: (user: string, system: string | null) => `${system ? `System: ${system}\n` : ''}User: ${user}\nAssistant:`,
  next: (user: string) => `\nUser: ${user}\nAssistant:`,
  /** Where the model starts writing the user's part: the end of its turn. */
  stop: ['\nUser:'],
};

/** The plain format of a whole conversation (system, then user/assistant turns), ending with "Assistant:" after a user turn. */
export function renderPlainChat(messages: readonly ChatMessage[]): string {
  let text = '';
  let system: string | null = null;
  for (const m of messages) {
    if (m.role === 'system') system = m.content;
    else if (m.role === 'user') text += text === '' ? PLAIN_CHAT.first(m.content, system) : PLAIN_CHAT.next(m.content);
    else text += m.content; // the assistant's reply follows "Assistant:" as the model wrote it
  }
  return text;
}

/** How a conversation becomes prompt ids, and what ends a reply. */
export interface ChatFormat {
  /** 'template' (tokenizer_config.json's chat_template) or 'plain' (PLAIN_CHAT). */
  kind: 'template' | 'plain';
  /** What the command says at the start: the format and, for the plain one, why. */
  notice: string;
  /** The ids of the whole conversation, ending where the assistant's reply starts. */
  encode(messages: readonly ChatMessage[]): number[];
  /** Stop strings that end a reply. */
  stop: string[];
  /** Stop ids (the model's eos ids, and the template's eos_token); undefined: the model's. */
  stopIds?: number[];
}

/**
 * The folder's chat template when tokenizer_config.json has one and the tokenizer is a
 * tokenizer.json (whose added tokens the rendered text names, as transformers'
 * apply_chat_template(tokenize=True)); the plain "User:/Assistant:" format otherwise, saying why.
 */
export function chatFormat(loaded: LoadedForGeneration): ChatFormat {
  const tokenizer = loaded.tokenizer!;
  const plain = (why: string): ChatFormat => ({
    kind: 'plain', notice: `attn chat: ${why}; using a plain "User:/Assistant:" format`,
    encode: (messages) => tokenizer.encode(renderPlainChat(messages), loaded.encode), stop: PLAIN_CHAT.stop,
  });
  const configPath = join(loaded.dir, 'tokenizer_config.json');
  if (!existsSync(configPath)) return plain('no tokenizer_config.json, so no chat template');
  let template: ChatTemplate;
  try {
    template = loadChatTemplate(configPath);
  } catch (e) {
    return plain(`no usable chat template in tokenizer_config.json (${(e as Error).message})`);
  }
  if (!template.names.includes('default')) return plain(`tokenizer_config.json's chat templates are named ${template.names.join(', ')}, none 'default'`);
  if (!(tokenizer instanceof HfTokenizer)) return plain('tokenizer_config.json has a chat template, but it needs tokenizer.json (this folder has tokenizer.model)');
  const hf = tokenizer;
  const eosText = template.specialTokens['eos_token'];
  const eosId = eosText === undefined ? undefined : hf.tokenToId(eosText);
  const stopIds = [...new Set([...loaded.model.eosTokenIds, ...(eosId !== undefined ? [eosId] : [])])];
  return {
    kind: 'template',
    notice: `attn chat: using the chat template of tokenizer_config.json${eosId !== undefined ? ` (replies end at ${eosText})` : ''}`,
    encode: (messages) => template.encodeChat(hf, messages, { addGenerationPrompt: true }),
    stop: [],
    stopIds,
  };
}

/** Length of the common prefix of two id lists. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * Prepares a session to continue a conversation whose full token ids are `ids` (llama.cpp
 * server's prompt cache): keeps the longest prefix the session already ran, trims the rest, and
 * returns the ids still to feed (at least one, whose logits start the reply). A session whose
 * cache cannot trim is replaced by a new one.
 */
export function reuseSession(session: InferenceSession, ids: readonly number[], fresh: () => InferenceSession): { session: InferenceSession; feed: number[] } {
  session.discardDeferred();
  const keep = Math.min(commonPrefix(ids, session.tokens), ids.length - 1);
  const drop = session.tokens.length - keep;
  if (drop === 0) return { session, feed: ids.slice(keep) };
  if ((session.layerCaches ?? []).every((c) => c.isTrimmable())) {
    session.trim(drop);
    return { session, feed: ids.slice(keep) };
  }
  session.dispose();
  return { session: fresh(), feed: [...ids] };
}

export const chat: Command = {
  name: 'chat',
  summary: 'a streaming chat REPL over a Hugging Face model folder (the conversation stays in the KV cache)',
  usage: `attn chat --model DIR|FILE.gguf [--system TEXT] [options]

Reads one user message per line from standard input and streams the model's reply. The
conversation is re-tokenized each turn and only the tokens past the longest prefix the session
already holds go through the model, so the KV cache carries the conversation.
The conversation is formatted with the folder's chat template (tokenizer_config.json's
chat_template, Jinja, rendered as transformers' apply_chat_template with add_generation_prompt;
replies end at the model's eos ids and the template's eos_token). Without one (or with a
tokenizer.model or .gguf file instead of tokenizer.json) it falls back to a plain
"User: ... / Assistant: ..." format, ending a reply at the next "User:", and says so.
Commands: /reset starts a new conversation, /exit (or end of input) quits.

Options:
  --model P               the model folder or .gguf file (decoder-only: gpt2, llama, mistral, qwen2)
  --system TEXT           a system message at the start of the conversation
${SAMPLING_USAGE}`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, system: { type: 'string' }, ...SAMPLING_OPTIONS }, strict: true });
    const { maxTokens, stop, ...sampling } = samplingFromArgs(values);
    const loaded = loadForGeneration(values.model, values.activations);
    const { model, tokenizer } = loaded;
    if (model.kind !== 'decoder-only') throw new UsageError(`chat needs a decoder-only model; ${model.modelType} is an encoder-decoder (use attn generate)`);
    if (!tokenizer) throw new UsageError(`${loaded.dir} has no tokenizer.json or tokenizer.model`);
    const cache = cacheFromArgs(values, model);
    const format = chatFormat(loaded);
    console.error(format.notice);
    const tty = Boolean(process.stdin.isTTY);
    const rl = createInterface({ input: process.stdin, terminal: tty });
    const fresh = () => new InferenceSession(model, cache ? { cache } : {});
    let session = fresh();
    const start = (): ChatMessage[] => (values.system !== undefined ? [{ role: 'system', content: values.system }] : []);
    let messages = start();
    if (tty) process.stdout.write('> ');
    try {
      for await (const line of rl) {
        const user = line.trim();
        if (user === '/exit' || user === '/quit') break;
        if (user === '/reset') {
          session.dispose();
          session = fresh();
          messages = start();
          console.error('[conversation reset]');
        } else if (user !== '') {
          const turn: ChatMessage[] = [...messages, { role: 'user', content: user }];
          const reused = reuseSession(session, format.encode(turn), fresh);
          session = reused.session;
          const it = generate(model, tokenizer, reused.feed, {
            ...sampling, maxTokens, stop: [...format.stop, ...stop], session, ...(format.stopIds ? { stopIds: format.stopIds } : {}),
          });
          let reply = '';
          for (;;) {
            const r = await it.next();
            if (r.done) {
              const s = r.value.stats;
              if (tty) console.error(`[${s.generatedTokens} tokens, ttft ${s.ttftMs.toFixed(0)} ms, ${s.decodeTokensPerS.toFixed(1)} tokens/s]`);
              break;
            }
            reply += r.value.text;
            process.stdout.write(r.value.text);
          }
          messages = [...turn, { role: 'assistant', content: reply }];
          process.stdout.write('\n');
        }
        if (tty) process.stdout.write('> ');
      }
    } finally {
      rl.close();
      session.dispose();
    }
  },
};
