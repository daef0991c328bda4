import { parseArgs } from 'node:util';
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fromTypedArray, loadModelFile, noGrad, readModelConfig, MODEL_KINDS, type Tensor } from '../../index.js';
import { UsageError, type Command } from '../command.js';

/** "1,2,3" -> [1, 2, 3]; every entry an integer in [0, limit) ("the vocabulary" or what `range` names). */
function parseIds(flag: string, raw: string, limit: number | null, range = 'the vocabulary'): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((s) => s === '')) throw new UsageError(`${flag}: expected comma-separated integers like 1,2,3, got '${raw}'`);
  return parts.map((s) => {
    const v = Number(s);
    if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(v)) throw new UsageError(`${flag}: '${s}' is not an integer`);
    if (v < 0 || (limit !== null && v >= limit)) throw new UsageError(`${flag}: ${v} is outside ${range} [0, ${limit ?? '?'})`);
    return v;
  });
}

function intField(config: Readonly<Record<string, unknown>>, key: string): number | null {
  const v = config[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

/** ids -> int32 [1, T] */
function row(ids: number[]): Tensor {
  return fromTypedArray(Int32Array.from(ids), [1, ids.length]);
}

/** Little-endian float32 bytes whatever the host's byte order. */
function float32LE(values: ArrayLike<number>): Buffer {
  const buf = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i]!, i * 4);
  return buf;
}

export const logits: Command = {
  name: 'logits',
  summary: 'run token ids through a model (Hugging Face folder or .gguf) and write or show the logits',
  usage: `attn logits --model DIR|FILE.gguf --ids 1,2,3 [--decoder-ids 0,5] [--token-type-ids 0,0,1] [--out FILE]

Loads a Hugging Face folder (config.json + model.safetensors or a sharded index) or a llama.cpp
.gguf file (llama, qwen2; quantized Linear weights run as stored), picks the model by
model_type, runs one sequence (batch 1, no padding) and computes the logits:
  decoder-only (gpt2, llama, mistral, qwen2)   --ids                  -> [seq, vocab]
  encoder-only (bert, masked LM)               --ids                  -> [seq, vocab]
  encoder-decoder (t5, transformer)            --ids + --decoder-ids  -> [decoder seq, vocab]

Options:
  --model P               the model folder or .gguf file
  --ids LIST              comma-separated token ids, each in [0, vocab_size); the encoder's
                          input for encoder-decoder models
  --decoder-ids LIST      the decoder's input ids (required for encoder-decoder models,
                          refused for the others), e.g. decoder_start_token_id then targets
  --token-type-ids LIST   bert only: segment ids, one per --ids entry, each in
                          [0, type_vocab_size); default all 0
  --out FILE              write the logits as raw float32 little-endian, row-major [seq, vocab]
                (written to a temporary file, then renamed into place); without it, print the
                shape and the first values of each row`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, ids: { type: 'string' }, 'decoder-ids': { type: 'string' },
        'token-type-ids': { type: 'string' }, out: { type: 'string' },
      },
      strict: true,
    });
    if (values.model === undefined) throw new UsageError('--model DIR|FILE.gguf is required');
    if (values.ids === undefined) throw new UsageError('--ids is required (e.g. --ids 1,2,3)');
    if (!existsSync(values.model)) throw new UsageError(`--model: no such folder or file '${values.model}'`);
    if (!statSync(values.model).isDirectory() && !/\.gguf$/i.test(values.model)) throw new UsageError(`--model: '${values.model}' is neither a model folder nor a .gguf file`);
    const folder = { config: readModelConfig(values.model) };
    const vocab = folder.config['vocab_size'];
    const type = folder.config['model_type'];
    const kind = typeof type === 'string' ? MODEL_KINDS[type] : undefined;
    if (kind === undefined) throw new UsageError(`--model: model_type ${JSON.stringify(type)} is not supported (${Object.keys(MODEL_KINDS).join(', ')})`);
    const ids = parseIds('--ids', values.ids, typeof vocab === 'number' ? vocab : null);
    const decoderIds = values['decoder-ids'] === undefined ? null : parseIds('--decoder-ids', values['decoder-ids'], typeof vocab === 'number' ? vocab : null);
    if (kind === 'encoder-decoder' && decoderIds === null) {
      throw new UsageError(`--decoder-ids is required for the encoder-decoder model_type '${type}' (--ids feed the encoder, --decoder-ids the decoder)`);
    }
    if (kind !== 'encoder-decoder' && decoderIds !== null) throw new UsageError(`--decoder-ids: model_type '${type}' is ${kind}, it has no decoder input to feed`);
    let tokenTypes: number[] | null = null;
    if (values['token-type-ids'] !== undefined) {
      if (kind !== 'encoder-only') throw new UsageError(`--token-type-ids: only encoder-only models (bert) take token types, model_type '${type}' is ${kind}`);
      tokenTypes = parseIds('--token-type-ids', values['token-type-ids'], intField(folder.config, 'type_vocab_size') ?? 2, 'type_vocab_size');
      if (tokenTypes.length !== ids.length) throw new UsageError(`--token-type-ids: ${tokenTypes.length} entries for ${ids.length} --ids; give one per id`);
    }
    if (kind === 'encoder-only') {
      const maxPos = intField(folder.config, 'max_position_embeddings');
      if (maxPos !== null && ids.length > maxPos) throw new UsageError(`--ids: ${ids.length} ids exceed max_position_embeddings ${maxPos}`);
    }
    const loaded = loadModelFile(values.model);
    const out = noGrad(() => {
      switch (loaded.kind) {
        case 'decoder-only': return loaded.model.forward(row(ids)); // [1, T, V]
        case 'encoder-only': return loaded.model.forward(row(ids), tokenTypes ? { tokenTypeIds: row(tokenTypes) } : {}); // [1, T, V]
        case 'encoder-decoder': return loaded.model.forward(row(ids), row(decoderIds!)); // [1, T_dec, V]
      }
    });
    const shownIds = decoderIds ?? ids;
    const [, seq, v] = out.shape as [number, number, number];
    const data = out.toTypedArray();
    if (values.out !== undefined) {
      const tmp = `${values.out}.tmp-${process.pid}`;
      try {
        writeFileSync(tmp, float32LE(data));
        renameSync(tmp, values.out);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw new UsageError(`--out: cannot write '${values.out}' (${(e as Error).message})`);
      }
      console.log(`wrote logits [${seq}, ${v}] float32 little-endian to ${values.out}`);
    } else {
      console.log(`logits [${seq}, ${v}]`);
      const show = Math.min(v, 8);
      for (let t = 0; t < seq; t++) {
        const row = Array.from(data.subarray(t * v, t * v + show), (x) => Number(x).toFixed(4)).join(' ');
        console.log(`${String(t).padStart(4)} (id ${shownIds[t]}): ${row}${v > show ? ' ...' : ''}`);
      }
    }
  },
};
