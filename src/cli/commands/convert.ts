import { parseArgs } from 'node:util';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, readHfFolder, toHfExport, writeHfFolder, type HfWeightDType } from '../../index.js';
import { UsageError, type Command } from '../command.js';

const DTYPES: Record<string, HfWeightDType> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/** Files besides the weights that a model folder carries and a converted folder should keep. */
const KEPT_FILES = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json', 'generation_config.json',
  'vocab.json', 'merges.txt', 'vocab.txt', 'tokenizer.model',
];

export const convert: Command = {
  name: 'convert',
  summary: 'load a Hugging Face model folder with attn and write it back (one model.safetensors, f32/f16/bf16)',
  usage: `attn convert --model DIR --out DIR [--dtype f32|f16|bf16] [--force]

Loads a Hugging Face folder (config.json + model.safetensors or a sharded index) of a family
attn has (gpt2, llama, mistral, qwen2, bert, t5, transformer) and writes it as a Hugging Face
folder that transformers loads: config.json (the typed config with its HF field names, keys attn
does not model kept as they were, architectures naming the attn class, torch_dtype) and one
model.safetensors with the checkpoint tensor names. Tied copies are not written (no lm_head.weight
when tie_word_embeddings, no T5 embed_tokens copies of shared.weight), as transformers'
save_pretrained does; tensors attn does not load (BERT's pooler and next-sentence head) are not
either. The original Transformer (model_type transformer), which transformers lacks, is written
with torch.nn.Transformer's state-dict names plus embedding.weight and a config.json of
nn.Transformer's arguments, which attn reads back. attn's GPT-2 variants (position_embedding_type
or norm_position not GPT-2's) are refused: transformers cannot run them. Tokenizer and
generation files are copied. The folder is written to a temporary sibling and renamed into place.

Options:
  --model DIR   the model folder
  --out DIR     the folder to write; an existing non-empty one is refused unless --force
  --dtype T     f32 (default), f16 or bf16 for the floating-point tensors
  --force       replace a non-empty --out`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, force: { type: 'boolean' } },
      strict: true,
    });
    if (values.model === undefined) throw new UsageError('--model DIR is required');
    if (values.out === undefined) throw new UsageError('--out DIR is required');
    const dtype = DTYPES[values.dtype ?? 'f32'];
    if (!dtype) throw new UsageError(`--dtype: expected f32, f16 or bf16, got '${values.dtype}'`);
    if (!existsSync(values.model) || !statSync(values.model).isDirectory()) throw new UsageError(`--model: no such folder '${values.model}'`);
    if (existsSync(values.out)) {
      if (!statSync(values.out).isDirectory()) throw new UsageError(`--out: '${values.out}' exists and is not a folder`);
      if (readdirSync(values.out).length > 0 && !values.force) throw new UsageError(`--out: '${values.out}' exists and is not empty (pass --force to replace it)`);
    }
    const folder = readHfFolder(values.model);
    const { model } = loadModel(folder);
    const exported = toHfExport(model);
    // Keys the typed config does not model (bos_token_id, transformers_version, ...) are kept;
    // the typed fields, normalised by fromDict, replace the originals.
    const { architectures: _a, torch_dtype: _t, ...rest } = folder.config;
    const config: Record<string, unknown> = { architectures: exported.config['architectures'], ...rest, ...exported.config };
    const copyFiles = KEPT_FILES.map((f) => join(values.model!, f)).filter((f) => existsSync(f));
    writeHfFolder(values.out, { config, tensors: exported.tensors, dtype, overwrite: values.force ?? false, copyFiles });
    let params = 0;
    for (const t of exported.tensors.values()) params += t.size;
    console.log(`wrote ${values.out}: ${exported.config['architectures']} (${config['model_type']}), ${exported.tensors.size} tensors, ${params} parameters, ${dtype}${copyFiles.length ? `, copied ${copyFiles.length} tokenizer/generation files` : ''}`);
  },
};
