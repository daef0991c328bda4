import { parseArgs } from 'node:util';
import {
  PRESETS, TRACE_MAX_PARAMS, TRACEABLE_MODEL_TYPES, calcModel, isEncoderDecoder, loadModelFile, modelFromConfig, readModelConfig,
  traceConfig, traceForward, traceInput, type TraceableModel,
} from '../../index.js';
import { UsageError, intOption, type Command } from '../command.js';

const SHAPE_KEYS = [
  'n_embd', 'n_inner', 'n_layer', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'd_model', 'd_kv', 'd_ff', 'num_layers',
  'dim_feedforward', 'num_encoder_layers', 'num_decoder_layers', 'vocab_size',
];

export const trace: Command = {
  name: 'trace',
  summary: 'walk one forward pass and print every named intermediate with its shape',
  usage: `attn trace (--model DIR|FILE.gguf | --preset NAME) [--seq N] [--decoder-seq N]

Runs one forward pass on token ids 0..N-1 and prints each named intermediate (llama.cpp's names:
inp_embd, attn_norm, attn_out, ffn_inp, ffn_norm, ffn_out, l_out, result_norm, result_output;
BERT adds inp_norm; encoder-decoder models prefix the stack, enc_ and dec_, and name the
cross-attention) with its block index, shape and dtype, in execution order. Model types:
${TRACEABLE_MODEL_TYPES.join(', ')}; t5 and transformer also run the decoder, on ids 0..M-1.
A config with more than ${TRACE_MAX_PARAMS.toLocaleString('en-US')} parameters is not instantiated: a tiny config with the
same structure (head counts, GQA grouping, at most 2 blocks, head dim 8, vocabulary 256) is
traced instead, with random weights, and the output says so.

Options:
  --model P       a Hugging Face model folder or .gguf file (weights are loaded when the model is small enough)
  --preset NAME   one of: ${Object.keys(PRESETS).join(', ')}
  --seq N         tokens in the sequence (the encoder's, for encoder-decoder models; default 8)
  --decoder-seq N decoder tokens of an encoder-decoder model (default: --seq)`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, preset: { type: 'string' }, seq: { type: 'string' }, 'decoder-seq': { type: 'string' } },
      strict: true,
    });
    if ((values.model === undefined) === (values.preset === undefined)) throw new UsageError('give exactly one of --model DIR or --preset NAME');
    const seq = intOption('seq', values.seq, 8, 1);
    const decoderSeq = intOption('decoder-seq', values['decoder-seq'], seq, 1);
    let config: Readonly<Record<string, unknown>>;
    if (values.preset !== undefined) {
      const preset = PRESETS[values.preset];
      if (!preset) throw new UsageError(`--preset: unknown preset '${values.preset}' (${Object.keys(PRESETS).join(', ')})`);
      config = preset.config;
    } else {
      config = readModelConfig(values.model!);
    }
    const type = config['model_type'];
    if (typeof type !== 'string' || !TRACEABLE_MODEL_TYPES.includes(type)) {
      throw new UsageError(`model_type ${JSON.stringify(type)} has no named intermediates yet (${TRACEABLE_MODEL_TYPES.join(', ')} do)`);
    }
    if (values['decoder-seq'] !== undefined && !isEncoderDecoder(type)) throw new UsageError(`--decoder-seq: model_type '${type}' has no decoder input (only t5 and transformer do)`);
    const { config: traced, shrunk } = traceConfig(config);
    let model: TraceableModel;
    const lines: string[] = [];
    const name = values.preset !== undefined ? `preset ${values.preset}` : values.model!;
    if (shrunk) {
      const total = calcModel(config, { seq: 1 }).params.total;
      const changed = SHAPE_KEYS.filter((k) => k in config && traced[k] !== config[k]).map((k) => `${k} ${String(config[k])} -> ${String(traced[k])}`);
      lines.push(`${name}: ${(total / 1e6).toFixed(1)}M parameters are too many to instantiate here; tracing a tiny config with the same structure (random weights): ${changed.join(', ')}`);
      model = modelFromConfig(traced);
    } else if (values.model !== undefined) {
      lines.push(`${name}: weights loaded`);
      model = loadModelFile(values.model).model as TraceableModel;
    } else {
      lines.push(`${name}: random weights`);
      model = modelFromConfig(traced);
    }
    const vocab = (traced['vocab_size'] as number | undefined) ?? 256;
    const encoderDecoder = isEncoderDecoder(type);
    const entries = traceForward(model, traceInput(seq, vocab), encoderDecoder ? { decoderInputIds: traceInput(decoderSeq, vocab) } : {});
    lines.push(`input_ids [1, ${seq}] int32`);
    if (encoderDecoder) lines.push(`decoder_input_ids [1, ${decoderSeq}] int32`);
    lines.push('');
    const width = Math.max(...entries.map((e) => e.name.length));
    lines.push(`${'layer'.padEnd(6)}${'name'.padEnd(width + 2)}shape`);
    for (const e of entries) lines.push(`${(e.layer === null ? '-' : String(e.layer)).padEnd(6)}${e.name.padEnd(width + 2)}[${e.shape.join(', ')}] ${e.dtype}`);
    console.log(lines.join('\n'));
  },
};

