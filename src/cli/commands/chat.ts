import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { InferenceSession, generate } from '../../index.js';
import { UsageError, type Command } from '../command.js';
import { SAMPLING_OPTIONS, SAMPLING_USAGE, cacheFromArgs, chatTemplate, loadForGeneration, samplingFromArgs } from '../generation.js';

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
already holds go through the model, so the KV cache carries the conversation. Chat templates
(tokenizer_config.json's chat_template, Jinja) are not applied yet: the conversation uses a plain
"User: ... / Assistant: ..." format, and the command says so.
Commands: /reset starts a new conversation, /exit (or end of input) quits.

Options:
  --model P               the model folder or .gguf file (decoder-only: gpt2, llama, mistral, qwen2)
  --system TEXT           a system line at the start of the conversation
${SAMPLING_USAGE}`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, system: { type: 'string' }, ...SAMPLING_OPTIONS }, strict: true });
    const { maxTokens, stop, ...sampling } = samplingFromArgs(values);
    const loaded = loadForGeneration(values.model);
    const { model, tokenizer } = loaded;
    if (model.kind !== 'decoder-only') throw new UsageError(`chat needs a decoder-only model; ${model.modelType} is an encoder-decoder (use attn generate)`);
    if (!tokenizer) throw new UsageError(`${loaded.dir} has no tokenizer.json or tokenizer.model`);
    const cache = cacheFromArgs(values, model);
    const template = chatTemplate(loaded.dir);
    console.error(template
      ? 'attn chat: tokenizer_config.json has a chat template, but templates are not applied yet; using a plain "User:/Assistant:" format'
      : 'attn chat: no chat template in tokenizer_config.json; using a plain "User:/Assistant:" format');
    const tty = Boolean(process.stdin.isTTY);
    const rl = createInterface({ input: process.stdin, terminal: tty });
    const fresh = () => new InferenceSession(model, cache ? { cache } : {});
    let session = fresh();
    let conversation = '';
    if (tty) process.stdout.write('> ');
    try {
      for await (const line of rl) {
        const user = line.trim();
        if (user === '/exit' || user === '/quit') break;
        if (user === '/reset') {
          session.dispose();
          session = fresh();
          conversation = '';
          console.error('[conversation reset]');
        } else if (user !== '') {
          const prompt = conversation + (conversation === '' ? PLAIN_CHAT.first(user, values.system ?? null) : PLAIN_CHAT.next(user));
          const reused = reuseSession(session, tokenizer.encode(prompt, loaded.encode), fresh);
          session = reused.session;
          const it = generate(model, tokenizer, reused.feed, { ...sampling, maxTokens, stop: [...PLAIN_CHAT.stop, ...stop], session });
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
          conversation = prompt + reply;
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
