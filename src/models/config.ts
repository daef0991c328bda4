/**
 * Typed model configs read from Hugging Face `config.json` dictionaries. Config fields keep the
 * config.json names verbatim (`vocab_size`, `num_key_value_heads`), as checkpoint tensor names do,
 * so a field can be found in both by the same string. Unknown keys are ignored (configs carry
 * `architectures`, `torch_dtype`, ...); a known key with the wrong type is an error naming it.
 */
import { fail } from '../tensor/index.js';
import type { RopeScaling } from '../nn/index.js';

/** Copies the keys of `dict` that `target` declares (with a default) into `target`, type-checked. */
export function assignKnown<T extends object>(target: T, dict: Readonly<Record<string, unknown>>, what: string): T {
  const fields = target as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!Object.prototype.hasOwnProperty.call(dict, key)) continue;
    const value = dict[key];
    const current = fields[key];
    if (value === undefined) continue;
    const ok = current === null ? true : value === null ? false : typeof value === typeof current;
    if (!ok) fail(what, `${key} must be ${typeof current}, got ${JSON.stringify(value)}`);
    if (typeof value === 'number' && Number.isInteger(current) && typeof current === 'number' && !Number.isInteger(value) && INTEGER_FIELDS.has(key)) {
      fail(what, `${key} must be an integer, got ${value}`);
    }
    fields[key] = value;
  }
  return target;
}

const INTEGER_FIELDS = new Set([
  'vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'n_inner', 'hidden_size', 'intermediate_size',
  'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'max_position_embeddings', 'sliding_window',
]);

/**
 * The inverse of assignKnown: a config's own fields as a config.json dictionary (HF field names,
 * `model_type` included; getters such as `headDim` are not fields and are left out). Values are
 * copied, so editing the dictionary does not change the config.
 */
export function configToDict(config: object): Record<string, unknown> {
  return structuredClone({ ...config }) as Record<string, unknown>;
}

/** Fails naming the field unless `value` is a positive integer. */
export function requirePositiveInt(what: string, field: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) fail(what, `${field} must be a positive integer, got ${value}`);
}

/** Fails naming the field unless `value` is a dropout probability in [0, 1). */
export function requireProbability(what: string, field: string, value: number): void {
  if (!(value >= 0 && value < 1)) fail(what, `${field} must be a probability in [0, 1), got ${value}`);
}

/**
 * config.json's `rope_scaling` as a RopeScaling (transformers' `rope_config_validation` and the
 * ROPE_INIT_FUNCTIONS keys): `rope_type`, or the legacy `type`, is 'linear', 'dynamic', 'yarn' or
 * 'llama3' ('default' and null mean none). Unsupported types ('longrope', 'su') and missing or
 * ill-typed fields are errors naming the field.
 *
 * YaRN follows transformers' `_compute_yarn_parameters`: with original_max_position_embeddings
 * (the pre-YaRN context) the factor is max_position_embeddings / original_max_position_embeddings
 * (the post-YaRN context over the pre-YaRN one), so `factor` may be left out, and a stated factor
 * that disagrees is overridden as transformers overrides it (its validator only warns); without
 * it, max_position_embeddings is taken as the pre-YaRN context and `factor` is required.
 * `truncate` (default true) rounds the correction range to whole dimensions.
 */
export function ropeScalingFromConfig(what: string, raw: unknown, maxPositionEmbeddings: number): RopeScaling | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(what, `rope_scaling must be an object or null, got ${JSON.stringify(raw)}`);
  const d = raw as Record<string, unknown>;
  const type = d.rope_type ?? d.type;
  const num = (key: string, fallback?: number): number => {
    const v = d[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(what, `rope_scaling.${key} must be a number, got ${JSON.stringify(d[key])}`);
    return v;
  };
  const optNum = (key: string): number | undefined => (d[key] === undefined || d[key] === null ? undefined : num(key));
  const factor = (): number => {
    const f = num('factor');
    if (!(f >= 1)) fail(what, `rope_scaling.factor must be >= 1, got ${f}`);
    return f;
  };
  switch (type) {
    case 'default': return null;
    case 'linear': return { type, factor: factor() };
    case 'dynamic': return { type, factor: factor(), maxPositionEmbeddings };
    case 'yarn': {
      const original = optNum('original_max_position_embeddings');
      let s: RopeScaling;
      if (original === undefined) {
        s = { type, factor: factor(), originalMaxPositionEmbeddings: maxPositionEmbeddings };
      } else {
        if (!(original > 0)) fail(what, `rope_scaling.original_max_position_embeddings must be positive, got ${original}`);
        const derived = maxPositionEmbeddings / original;
        if (!(derived >= 1)) {
          fail(what, `rope_scaling: yarn's factor is max_position_embeddings / original_max_position_embeddings = ${maxPositionEmbeddings} / ${original} = ${derived}, which must be >= 1`);
        }
        if (d['factor'] !== undefined && d['factor'] !== null) factor(); // a stated factor must still be a number >= 1
        s = { type, factor: derived, originalMaxPositionEmbeddings: original };
      }
      if (d['truncate'] !== undefined && typeof d['truncate'] !== 'boolean') fail(what, `rope_scaling.truncate must be a boolean, got ${JSON.stringify(d['truncate'])}`);
      const opt = {
        betaFast: optNum('beta_fast'), betaSlow: optNum('beta_slow'), attentionFactor: optNum('attention_factor'), mscale: optNum('mscale'),
        mscaleAllDim: optNum('mscale_all_dim'), truncate: d['truncate'] as boolean | undefined,
      };
      for (const [k, v] of Object.entries(opt)) if (v !== undefined) (s as Record<string, unknown>)[k] = v;
      return s;
    }
    case 'llama3': {
      const s = { type, factor: factor(), lowFreqFactor: num('low_freq_factor'), highFreqFactor: num('high_freq_factor'), originalMaxPositionEmbeddings: num('original_max_position_embeddings') } as const;
      if (!(s.highFreqFactor > s.lowFreqFactor)) fail(what, `rope_scaling.high_freq_factor ${s.highFreqFactor} must exceed low_freq_factor ${s.lowFreqFactor}`);
      return s;
    }
    default:
      return fail(what, `rope_scaling type ${JSON.stringify(type)} is not supported (linear, dynamic, yarn, llama3)`);
  }
}
