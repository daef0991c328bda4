import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { generate, generateBatchStream, type BatchGenerationResult, type GenerationResult, type GenerationStats } from '../../index.js';
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

/** --prompts-file: one prompt per line (blank lines skipped; a trailing carriage return is dropped). */
function readPromptsFile(path: string): string[] {
  if (!existsSync(path)) throw new UsageError(`--prompts-file: no such file '${path}'`);
  const prompts = readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (prompts.length === 0) throw new UsageError(`--prompts-file: '${path}' has no prompts (one per line)`);
  return prompts;
}

/** The per-request fields of --json (snake_case, as printed). */
function statsJson(s: GenerationStats): Record<string, number> {
  return {
    prompt_tokens: s.promptTokens, generated_tokens: s.generatedTokens,
    ttft_ms: s.ttftMs, tpot_ms: s.tpotMs, tokens_per_s: s.tokensPerS,
    prefill_tokens_per_s: s.prefillTokensPerS, decode_tokens_per_s: s.decodeTokensPerS,
  };
}

function statsLine(r: GenerationResult): string {
  const s = r.stats;
  return `${s.promptTokens} prompt tokens, ${s.generatedTokens} generated (${r.finishReason}); ttft ${s.ttftMs.toFixed(1)} ms, `
    + `tpot ${s.tpotMs.toFixed(1)} ms, ${s.tokensPerS.toFixed(1)} tokens/s`;
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate text from a prompt, or a batch of prompts, with a Hugging Face model folder (KV cache, sampling, streaming)',
  usage: `attn generate --model DIR|FILE.gguf (--prompt TEXT ... | --prompts-file FILE | --prompt-ids 1,2,3 ...) [options] [--json]

Loads a Hugging Face folder (config.json + safetensors + tokenizer.json or tokenizer.model) and
generates: decoder-only models (gpt2, llama, mistral, qwen2) continue the prompt; encoder-decoders
(t5, transformer) read it with the encoder and decode from their start token. Text streams to
standard output as it is generated; timings go to standard error.

Several prompts (--prompt repeated, --prompts-file, or --prompt-ids repeated) run as one batch:
left-padded to the longest, one forward pass per step for all of them, each with its own sampler
(the same --seed for every prompt, so each output equals that prompt generated alone); a prompt
that finishes leaves the batch. Decoder-only models with the dense or --window cache (or
--no-cache) only. The outputs are printed when the batch ends, each after a line
"=== prompt N of M ===" (or, with --json, one JSON object per line, in prompt order).

Options:
  --model P               the model folder or .gguf file (its Linear weights run as stored: f16, q8_0, q4_0)
  --prompt TEXT           the prompt, encoded with the folder's tokenizer (repeatable: a batch)
  --prompts-file FILE     prompts one per line (blank lines skipped), added after any --prompt
  --prompt-ids LIST       the prompt as token ids instead (repeatable; a folder without a
                          tokenizer then prints ids only)
${SAMPLING_USAGE}
  --json                  print one JSON object per prompt at the end instead of streaming:
                          text, ids, finish_reason, prompt_tokens, generated_tokens, ttft_ms,
                          tpot_ms, tokens_per_s (generated tokens per second, TTFT included),
                          prefill_tokens_per_s, decode_tokens_per_s, cache (the policy),
                          peak_rss_bytes; a batch adds prompt_index and batch (size,
                          prompt_tokens, generated_tokens, decode_steps, prefill_ms,
                          tokens_per_s over all prompts, total_ms). In a batch TTFT includes
                          the whole batch's prefill.`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, prompt: { type: 'string', multiple: true }, 'prompts-file': { type: 'string' },
        'prompt-ids': { type: 'string', multiple: true }, json: { type: 'boolean' }, ...SAMPLING_OPTIONS,
      },
      strict: true,
    });
    const texts = [...(values.prompt ?? []), ...(values['prompts-file'] !== undefined ? readPromptsFile(values['prompts-file']) : [])];
    const idLists = values['prompt-ids'] ?? [];
    if ((texts.length === 0) === (idLists.length === 0)) {
      throw new UsageError('give exactly one of --prompt TEXT (or --prompts-file FILE) or --prompt-ids 1,2,3 (each repeatable for a batch)');
    }
    const sampling = samplingFromArgs(values);
    const loaded = loadForGeneration(values.model, values.activations);
    const { model, tokenizer } = loaded;
    const cache = cacheFromArgs(values, model);
    let prompts: (string | number[])[];
    if (texts.length > 0) {
      if (!tokenizer) throw new UsageError(`--prompt: ${loaded.dir} has no tokenizer.json or tokenizer.model; give --prompt-ids instead`);
      prompts = texts;
    } else {
      prompts = idLists.map(parseIds);
    }
    const cacheInfo = cache === 'none' ? { kind: 'none' } : { ...(cache ?? (model.geometry.slidingWindow ? { kind: 'sliding-window', window: model.geometry.slidingWindow } : { kind: 'dense' })) };
    if (prompts.length > 1) {
      await runBatch(prompts, { loaded, cache, cacheInfo, sampling, json: Boolean(values.json) });
      return;
    }
    const prompt = prompts[0]!;
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
    if (values.json) {
      console.log(JSON.stringify({
        text: result.text, ids: result.ids, finish_reason: result.finishReason, ...statsJson(result.stats),
        cache: cacheInfo, peak_rss_bytes: peakRssBytes(),
      }));
      return;
    }
    if (stream) process.stdout.write('\n');
    else console.log(result.ids.join(' '));
    console.error(`[${statsLine(result)}; cache ${JSON.stringify(cacheInfo)}; peak RSS ${(peakRssBytes() / 2 ** 20).toFixed(0)} MiB]`);
  },
};

/** Several prompts as one batch (generateBatchStream); outputs printed at the end, in prompt order. */
async function runBatch(prompts: (string | number[])[], ctx: {
  loaded: ReturnType<typeof loadForGeneration>; cache: ReturnType<typeof cacheFromArgs>; cacheInfo: Record<string, unknown>;
  sampling: ReturnType<typeof samplingFromArgs>; json: boolean;
}): Promise<void> {
  const { loaded: { model, tokenizer, encode }, cache, cacheInfo, sampling } = ctx;
  if (model.kind !== 'decoder-only') throw new UsageError(`several prompts run as one batch, which needs a decoder-only model; ${model.modelType} is an encoder-decoder (give one prompt)`);
  if (cache !== undefined && cache !== 'none' && cache.kind !== 'dense' && cache.kind !== 'sliding-window') {
    throw new UsageError(`a '${cache.kind}' cache cannot hold a padded batch of several prompts (rows would keep different positions); use --window alone, the dense default or --no-cache, or give one prompt`);
  }
  const { maxTokens, stop, ...samplingOptions } = sampling;
  const it = generateBatchStream(model, tokenizer, prompts, { ...samplingOptions, maxTokens, stop, encode, ...(cache ? { cache } : {}) });
  let batch: BatchGenerationResult;
  for (;;) {
    const r = await it.next();
    if (r.done) {
      batch = r.value;
      break;
    }
  }
  const b = batch.stats;
  const batchJson = {
    size: b.batchSize, prompt_tokens: b.promptTokens, generated_tokens: b.generatedTokens, decode_steps: b.decodeSteps,
    prefill_ms: b.prefillMs, tokens_per_s: b.tokensPerS, total_ms: b.totalMs,
  };
  batch.results.forEach((result, i) => {
    if (ctx.json) {
      console.log(JSON.stringify({
        prompt_index: i, text: result.text, ids: result.ids, finish_reason: result.finishReason, ...statsJson(result.stats),
        cache: cacheInfo, peak_rss_bytes: peakRssBytes(), batch: batchJson,
      }));
      return;
    }
    console.log(`=== prompt ${i + 1} of ${b.batchSize} ===`);
    console.log(tokenizer ? result.text : result.ids.join(' '));
    console.error(`[prompt ${i + 1}: ${statsLine(result)}]`);
  });
  if (!ctx.json) {
    console.error(`[batch of ${b.batchSize}: ${b.promptTokens} prompt tokens, ${b.generatedTokens} generated in ${b.decodeSteps} decode steps; `
      + `prefill ${b.prefillMs.toFixed(1)} ms, ${b.tokensPerS.toFixed(1)} tokens/s over all prompts; cache ${JSON.stringify(cacheInfo)}; peak RSS ${(peakRssBytes() / 2 ** 20).toFixed(0)} MiB]`);
  }
}
