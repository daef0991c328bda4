import { parseArgs } from 'node:util';
import { PRESETS, calcModel, readHfConfig, type CalcReport, type DType } from '../../index.js';
import { UsageError, intOption, type Command } from '../command.js';

const DTYPES: Readonly<Record<string, DType>> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16', int8: 'int8' };

/** The context length a config names (n_positions, max_position_embeddings), else 512. */
function contextLength(config: Readonly<Record<string, unknown>>): number {
  for (const key of ['n_positions', 'max_position_embeddings']) {
    const v = config[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  return 512;
}

const group = (n: number) => Math.round(n).toLocaleString('en-US');
const si = (n: number) => {
  const units: [number, string][] = [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  const [scale, unit] = units.find(([s]) => n >= s) ?? [1, ''];
  return `${(n / scale).toFixed(2)} ${unit}`;
};
const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

function text(name: string, description: string | null, r: CalcReport, dtypeName: string): string {
  const p = r.params;
  const pct = (n: number) => `${((100 * n) / p.total).toFixed(1).padStart(5)}%`;
  const row = (label: string, value: string, extra = '') => `  ${label.padEnd(18)}${value.padStart(22)}${extra}`;
  const f = r.flops;
  const lines = [
    `${name} (model_type ${r.modelType})${description ? `: ${description}` : ''}`,
    '',
    `parameters ${group(p.total)} (${si(p.total)})`,
    ...(['embeddings', 'attention', 'ffn', 'norms', 'head'] as const).map((k) => row(k, group(p[k]), `  ${pct(p[k])}`)),
    '',
    `forward FLOPs, seq ${f.seq}, batch ${f.batch} (multiply-add = 2 FLOPs; matmuls only)`,
    row('weight matmuls', group(f.matmul), `  (${si(f.matmulPerToken)}FLOP per token)`),
    row('attention QK^T', group(f.attentionScores)),
    row('attention AV', group(f.attentionValues)),
    row('total', group(f.total), `  (${si(f.total)}FLOP)`),
    row('per token', group(f.perToken)),
    `training FLOPs (3 x forward): ${group(f.training)} (${si(f.training)}FLOP)`,
    '',
  ];
  const kv = r.kvCache;
  if (!kv) lines.push('KV cache: none (encoder-only model)');
  else {
    const held = kv.crossTokens ? `${kv.selfTokens} self + ${kv.crossTokens} cross positions` : `${kv.selfTokens} positions`;
    lines.push(`KV cache, ${dtypeName}, batch ${f.batch}, ${held}: ${group(kv.bytes)} bytes (${gib(kv.bytes)})`);
    if (kv.selfTokens < f.seq) lines.push(`  (sliding window: a rolling buffer of ${kv.selfTokens} positions per layer)`);
    if (dtypeName === 'int8') lines.push('  (int8: one float32 scale per cached head vector)');
  }
  return lines.join('\n');
}

export const calc: Command = {
  name: 'calc',
  summary: 'parameters by component, forward/training FLOPs and KV-cache bytes of a model or preset',
  usage: `attn calc (--model DIR | --preset NAME) [--seq N] [--batch B] [--dtype f32|f16|bf16|int8] [--json]

Computes from a config alone (no weights are read): parameters by component (embeddings,
attention, FFN, norms, head), forward FLOPs for a sequence (weight matmuls, attention QK^T and
AV separately; a multiply-add counts 2 FLOPs), training FLOPs (3 x forward) and KV-cache bytes.
Encoder-decoders take --seq source and --seq target tokens.

Options:
  --model DIR     a Hugging Face model folder (only its config.json is read)
  --preset NAME   one of: ${Object.keys(PRESETS).join(', ')}
  --seq N         tokens per sequence (default: the config's context length, else 512)
  --batch B       sequences (default 1)
  --dtype D       KV-cache element type: f32, f16, bf16 or int8 (default f16; int8 adds one
                  float32 scale per cached head vector)
  --json          print one JSON object instead of text`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, preset: { type: 'string' }, seq: { type: 'string' }, batch: { type: 'string' }, dtype: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
    });
    if ((values.model === undefined) === (values.preset === undefined)) throw new UsageError('give exactly one of --model DIR or --preset NAME');
    let config: Readonly<Record<string, unknown>>;
    let description: string | null = null;
    if (values.preset !== undefined) {
      const preset = PRESETS[values.preset];
      if (!preset) throw new UsageError(`--preset: unknown preset '${values.preset}' (${Object.keys(PRESETS).join(', ')})`);
      ({ config, description } = preset);
    } else {
      config = readHfConfig(values.model!, 'calc');
    }
    const seq = intOption('seq', values.seq, contextLength(config), 1);
    const batch = intOption('batch', values.batch, 1, 1);
    const dtypeName = values.dtype ?? 'f16';
    const dtype = DTYPES[dtypeName];
    if (!dtype) throw new UsageError(`--dtype: expected f32, f16, bf16 or int8, got '${dtypeName}'`);
    const r = calcModel(config, { seq, batch, dtype });
    const name = values.preset ?? values.model!;
    if (values.json) {
      console.log(JSON.stringify({
        ...(values.preset !== undefined ? { preset: values.preset } : { model: values.model }),
        modelType: r.modelType, family: r.family, seq, batch, dtype: dtypeName,
        params: r.params, flops: r.flops, kvCacheBytes: r.kvCache?.bytes ?? null, kvCache: r.kvCache,
      }));
    } else {
      console.log(text(name, description, r, dtypeName));
    }
  },
};
