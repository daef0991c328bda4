/**
 * Typed model configs read from Hugging Face `config.json` dictionaries. Config fields keep the
 * config.json names verbatim (`vocab_size`, `num_key_value_heads`), as checkpoint tensor names do,
 * so a field can be found in both by the same string. Unknown keys are ignored (configs carry
 * `architectures`, `torch_dtype`, ...); a known key with the wrong type is an error naming it.
 */
import { fail } from '../tensor/index.js';

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

/** Fails naming the field unless `value` is a positive integer. */
export function requirePositiveInt(what: string, field: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) fail(what, `${field} must be a positive integer, got ${value}`);
}
