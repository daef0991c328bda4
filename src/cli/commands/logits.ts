import { parseArgs } from 'node:util';
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fromTypedArray, loadPretrained, noGrad, readHfFolder } from '../../index.js';
import { UsageError, type Command } from '../command.js';

/** "1,2,3" -> [1, 2, 3]; every entry an integer in [0, vocab). */
function parseIds(raw: string, vocab: number | null): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((s) => s === '')) throw new UsageError(`--ids: expected comma-separated integers like 1,2,3, got '${raw}'`);
  return parts.map((s) => {
    const v = Number(s);
    if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(v)) throw new UsageError(`--ids: '${s}' is not an integer`);
    if (v < 0 || (vocab !== null && v >= vocab)) throw new UsageError(`--ids: ${v} is outside the vocabulary [0, ${vocab ?? '?'})`);
    return v;
  });
}

/** Little-endian float32 bytes whatever the host's byte order. */
function float32LE(values: ArrayLike<number>): Buffer {
  const buf = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i]!, i * 4);
  return buf;
}

export const logits: Command = {
  name: 'logits',
  summary: 'run token ids through a Hugging Face model folder and write or show the logits',
  usage: `attn logits --model DIR --ids 1,2,3 [--out FILE]

Loads a Hugging Face folder (config.json + model.safetensors or a sharded index) of a
decoder-only family attn has (gpt2, llama, mistral, qwen2), runs one sequence of ids and
computes the logits [seq, vocab].

Options:
  --model DIR   the model folder
  --ids LIST    comma-separated token ids, each in [0, vocab_size)
  --out FILE    write the logits as raw float32 little-endian, row-major [seq, vocab]
                (written to a temporary file, then renamed into place); without it, print the
                shape and the first values of each row`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, ids: { type: 'string' }, out: { type: 'string' } },
      strict: true,
    });
    if (values.model === undefined) throw new UsageError('--model DIR is required');
    if (values.ids === undefined) throw new UsageError('--ids is required (e.g. --ids 1,2,3)');
    if (!existsSync(values.model) || !statSync(values.model).isDirectory()) throw new UsageError(`--model: no such folder '${values.model}'`);
    const folder = readHfFolder(values.model);
    const vocab = folder.config['vocab_size'];
    const ids = parseIds(values.ids, typeof vocab === 'number' ? vocab : null);
    const model = loadPretrained(folder);
    const out = noGrad(() => model.forward(fromTypedArray(Int32Array.from(ids), [1, ids.length]))); // [1, T, V]
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
        console.log(`${String(t).padStart(4)} (id ${ids[t]}): ${row}${v > show ? ' ...' : ''}`);
      }
    }
  },
};
