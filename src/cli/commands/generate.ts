import { parseArgs } from 'node:util';
import { generate, type GenerationResult } from '../../index.js';
import { UsageError, type Command } from '../command.js';
import { SAMPLING_OPTIONS, SAMPLING_USAGE, cacheFromArgs, loadForGeneration, peakRssBytes, samplingFromArgs } from '../generation.js';

/** "1,2,3" -> ids */
function parseIds(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  return parts.map((s) => {
    if (!/^\d+$/.test(s)) throw new UsageError(`--prompt-ids: '${s}' is not a token id (expected comma-separated non-negative integers)`);
    return Number(s);
  });
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate text from a prompt with a Hugging Face model folder (KV cache, sampling, streaming)',
  usage: `attn generate --model DIR|FILE.gguf (--prompt TEXT | --prompt-ids 1,2,3) [options] [--json]

Loads a Hugging Face folder (config.json + safetensors + tokenizer.json or tokenizer.model) and
generates: decoder-only models (gpt2, llama, mistral, qwen2) continue the prompt; encoder-decoders
(t5, transformer) read it with the encoder and decode from their start token. Text streams to
standard output as it is generated; timings go to standard error.

Options:
  --model P               the model folder or .gguf file (its Linear weights run as stored: f16, q8_0, q4_0)
  --prompt TEXT           the prompt, encoded with the folder's tokenizer
  --prompt-ids LIST       the prompt as token ids instead (a folder without a tokenizer then
                          prints ids only)
${SAMPLING_USAGE}
  --json                  print one JSON object at the end instead of streaming: text, ids,
                          finish_reason, prompt_tokens, generated_tokens, ttft_ms, tpot_ms,
                          tokens_per_s (generated tokens per second, TTFT included),
                          prefill_tokens_per_s, decode_tokens_per_s, cache (policy and bytes),
                          peak_rss_bytes`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, prompt: { type: 'string' }, 'prompt-ids': { type: 'string' }, json: { type: 'boolean' }, ...SAMPLING_OPTIONS },
      strict: true,
    });
    if ((values.prompt === undefined) === (values['prompt-ids'] === undefined)) throw new UsageError('give exactly one of --prompt TEXT or --prompt-ids 1,2,3');
    const sampling = samplingFromArgs(values);
    const loaded = loadForGeneration(values.model);
    const { model, tokenizer } = loaded;
    const cache = cacheFromArgs(values, model);
    let prompt: string | number[];
    if (values.prompt !== undefined) {
      if (!tokenizer) throw new UsageError(`--prompt: ${loaded.dir} has no tokenizer.json or tokenizer.model; give --prompt-ids instead`);
      prompt = values.prompt;
    } else {
      prompt = parseIds(values['prompt-ids']!);
    }
    const { maxTokens, stop, ...samplingOptions } = sampling;
    const it = generate(model, tokenizer, prompt, { ...samplingOptions, maxTokens, stop, encode: loaded.encode, ...(cache ? { cache } : {}) });
    const stream = !values.json && tokenizer !== null;
    let result: GenerationResult;
    for (;;) {
      const r = await it.next();
      if (r.done) {
        result = r.value;
        break;
      }
      if (stream) process.stdout.write(r.value.text);
    }
    const s = result.stats;
    const cacheInfo = cache === 'none' ? { kind: 'none' } : { ...(cache ?? (model.geometry.slidingWindow ? { kind: 'sliding-window', window: model.geometry.slidingWindow } : { kind: 'dense' })) };
    if (values.json) {
      console.log(JSON.stringify({
        text: result.text, ids: result.ids, finish_reason: result.finishReason,
        prompt_tokens: s.promptTokens, generated_tokens: s.generatedTokens,
        ttft_ms: s.ttftMs, tpot_ms: s.tpotMs, tokens_per_s: s.tokensPerS,
        prefill_tokens_per_s: s.prefillTokensPerS, decode_tokens_per_s: s.decodeTokensPerS,
        cache: cacheInfo, peak_rss_bytes: peakRssBytes(),
      }));
      return;
    }
    if (stream) process.stdout.write('\n');
    else console.log(result.ids.join(' '));
    console.error(`[${s.promptTokens} prompt tokens, ${s.generatedTokens} generated (${result.finishReason}); ttft ${s.ttftMs.toFixed(1)} ms, `
      + `tpot ${s.tpotMs.toFixed(1)} ms, ${s.tokensPerS.toFixed(1)} tokens/s; cache ${JSON.stringify(cacheInfo)}; peak RSS ${(peakRssBytes() / 2 ** 20).toFixed(0)} MiB]`);
  },
};
