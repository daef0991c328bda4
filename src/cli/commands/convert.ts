import { parseArgs } from 'node:util';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  GGUF_FILE_TYPES, ggufTokenizerMetadata, loadModelFile, toGgufExport, toHfExport, tokenizerJsonFromGguf, ggufTokenizerModel,
  writeGguf, writeHfFolder, type GgufFileType, type GgufMetadataValue, type HfWeightDType, type LoadedModelFile,
} from '../../index.js';
import { UsageError, type Command } from '../command.js';

const DTYPES: Record<string, HfWeightDType> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/** Files besides the weights that a model folder carries and a converted folder should keep. */
const KEPT_FILES = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json', 'generation_config.json',
  'vocab.json', 'merges.txt', 'vocab.txt', 'tokenizer.model',
];

export const convert: Command = {
  name: 'convert',
  summary: 'rewrite a model: Hugging Face folder or .gguf in, Hugging Face folder (f32/f16/bf16) or .gguf (f32/f16/q8_0/q4_0) out',
  usage: `attn convert --model DIR|FILE.gguf --out DIR|FILE.gguf [--dtype T] [--force]

Loads a model with attn and writes it back.

To a Hugging Face folder (--out DIR): config.json (the typed config with its HF field names, keys
attn does not model kept as they were, architectures naming the attn class, torch_dtype) and one
model.safetensors with the checkpoint tensor names, for every family attn has (gpt2, llama,
mistral, qwen2, bert, t5, transformer). Tied copies are not written (no lm_head.weight when
tie_word_embeddings, no T5 embed_tokens copies of shared.weight), as transformers' save_pretrained
does; tensors attn does not load (BERT's pooler and next-sentence head) are not either. The
original Transformer (model_type transformer), which transformers lacks, is written with
torch.nn.Transformer's state-dict names plus embedding.weight and a config.json of
nn.Transformer's arguments, which attn reads back. attn's GPT-2 variants (position_embedding_type
or norm_position not GPT-2's) are refused: transformers cannot run them. Tokenizer and generation
files are copied; from a .gguf with a byte-level BPE vocabulary a tokenizer.json is written. The
folder is written to a temporary sibling and renamed into place.

To a GGUF file (--out FILE.gguf, LLaMA-family models: llama, mistral without a binding sliding
window, qwen2): llama.cpp's metadata and tensor names, q/k rows permuted as llama.cpp's
convert_hf_to_gguf.py does, and the tokenizer: a byte-level BPE tokenizer.json in the model
folder becomes tokenizer.ggml.* metadata (model gpt2), a .gguf source keeps its own. Tensor types:
norms and biases F32; matrices in --dtype, F16 where a row is not a multiple of 32 (q8_0, q4_0),
and for q4_0 the output matrix (or the tied embedding table) in Q8_0. Written atomically.

From a GGUF file (--model FILE.gguf): llama and qwen2 architectures, F32/F16/BF16/Q8_0/Q4_0
tensors (dequantized as ggml does when written to a folder).

Options:
  --model P     a Hugging Face model folder or a .gguf file
  --out P       the folder to write (an existing non-empty one is refused unless --force), or a
                file ending in .gguf (an existing one is refused unless --force)
  --dtype T     folder: f32 (default), f16 or bf16; .gguf: f32 (default), f16, q8_0 or q4_0
  --force       replace an existing --out`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, force: { type: 'boolean' } },
      strict: true,
    });
    if (values.model === undefined) throw new UsageError('--model DIR|FILE.gguf is required');
    if (values.out === undefined) throw new UsageError('--out DIR|FILE.gguf is required');
    if (!existsSync(values.model)) throw new UsageError(`--model: no such folder or file '${values.model}'`);
    const fromGguf = !statSync(values.model).isDirectory();
    if (fromGguf && !/\.gguf$/i.test(values.model)) throw new UsageError(`--model: '${values.model}' is neither a model folder nor a .gguf file`);
    if (/\.gguf$/i.test(values.out)) {
      const fileType = (values.dtype ?? 'f32') as GgufFileType;
      if (!GGUF_FILE_TYPES.includes(fileType)) throw new UsageError(`--dtype: a .gguf is written as ${GGUF_FILE_TYPES.join(', ')}, got '${values.dtype}'`);
      if (existsSync(values.out) && !values.force) throw new UsageError(`--out: '${values.out}' exists (pass --force to replace it)`);
      if (existsSync(values.out) && statSync(values.out).isDirectory()) throw new UsageError(`--out: '${values.out}' is a folder`);
      writeGgufFrom(values.model, values.out, fileType);
      return;
    }
    const dtype = DTYPES[values.dtype ?? 'f32'];
    if (!dtype) throw new UsageError(`--dtype: a folder is written as f32, f16 or bf16, got '${values.dtype}' (q8_0 and q4_0: write a .gguf)`);
    if (existsSync(values.out)) {
      if (!statSync(values.out).isDirectory()) throw new UsageError(`--out: '${values.out}' exists and is not a folder`);
      if (readdirSync(values.out).length > 0 && !values.force) throw new UsageError(`--out: '${values.out}' exists and is not empty (pass --force to replace it)`);
    }
    // a folder holds float weights: GGUF's quantized Linear weights are dequantized as ggml does
    const loaded = loadModelFile(values.model, { keepQuantized: false });
    const exported = toHfExport(loaded.model);
    // Keys the typed config does not model (bos_token_id, transformers_version, ...) are kept;
    // the typed fields, normalised by fromDict, replace the originals.
    const { architectures: _a, torch_dtype: _t, ...rest } = loaded.config;
    const config: Record<string, unknown> = { architectures: exported.config['architectures'], ...rest, ...exported.config };
    const copyFiles = fromGguf ? [] : KEPT_FILES.map((f) => join(values.model!, f)).filter((f) => existsSync(f));
    const files = new Map<string, string>();
    let note = '';
    if (loaded.gguf) {
      const meta = loaded.gguf.plainMetadata();
      const kind = ggufTokenizerModel(meta);
      if (kind === 'gpt2') files.set('tokenizer.json', `${JSON.stringify(tokenizerJsonFromGguf(meta), null, 2)}\n`);
      else if (kind !== null) note = `; its ${kind} vocabulary (SentencePiece) is not written: attn cannot write tokenizer.model files`;
    }
    writeHfFolder(values.out, { config, tensors: exported.tensors, dtype, overwrite: values.force ?? false, copyFiles, files });
    let params = 0;
    for (const t of exported.tensors.values()) params += t.size;
    const extra = copyFiles.length ? `, copied ${copyFiles.length} tokenizer/generation files` : files.size ? ', tokenizer.json from the GGUF vocabulary' : '';
    console.log(`wrote ${values.out}: ${exported.config['architectures']} (${config['model_type']}), ${exported.tensors.size} tensors, ${params} parameters, ${dtype}${extra}${note}`);
  },
};

/** The model (folder or .gguf) at `model` written as a GGUF file with its tokenizer. */
function writeGgufFrom(model: string, out: string, fileType: GgufFileType): void {
  // keep stored formats: a Q8_0 source written as q8_0 is copied block for block
  const loaded: LoadedModelFile = loadModelFile(model);
  const exp = toGgufExport(loaded.model, { fileType, name: nameOf(loaded.config, model) });
  const metadata: [string, GgufMetadataValue][] = [...exp.metadata];
  let tokenizerNote: string;
  if (loaded.gguf) {
    const own = [...loaded.gguf.metadata].filter(([k]) => k.startsWith('tokenizer.'));
    metadata.push(...own);
    tokenizerNote = own.length ? 'tokenizer metadata copied from the source' : 'no tokenizer (the source has none)';
  } else {
    const path = join(model, 'tokenizer.json');
    if (!existsSync(path)) {
      tokenizerNote = 'no tokenizer.json in the folder: llama.cpp cannot run a GGUF without a vocabulary';
    } else {
      const json = JSON.parse(readFileSync(path, 'utf8')) as { added_tokens?: { id: number; content: string; special?: boolean }[] };
      const id = (k: string) => (typeof loaded.config[k] === 'number' ? loaded.config[k] as number : null);
      // without an eos_token_id in config.json, GPT-2's convention: <|endoftext|> ends a text
      const endOfText = json.added_tokens?.find((t) => t.special && t.content === '<|endoftext|>')?.id ?? null;
      const meta = ggufTokenizerMetadata(json, {
        vocabSize: Number(loaded.config['vocab_size']), bosTokenId: id('bos_token_id'), eosTokenId: id('eos_token_id') ?? endOfText, padTokenId: id('pad_token_id'),
      });
      metadata.push(...(meta as [string, GgufMetadataValue][]));
      tokenizerNote = `tokenizer.json as ${String(meta.find(([k]) => k === 'tokenizer.ggml.pre')![1].value)} BPE`;
    }
  }
  const bytes = writeGguf(out, { metadata, tensors: exp.tensors });
  const counts = new Map<string, number>();
  for (const t of exp.types) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
  const notes = [...new Set(exp.types.filter((t) => t.note).map((t) => `${t.name}: ${t.note}`))];
  console.log(`wrote ${out}: ${String(exp.metadata[0]![1].value)} ${fileType}, ${exp.tensors.length} tensors (${[...counts].map(([t, n]) => `${n} ${t}`).join(', ')}), ${(bytes / 1e6).toFixed(2)} MB; ${tokenizerNote}`);
  for (const n of notes) console.log(`  ${n}`);
}

function nameOf(config: Readonly<Record<string, unknown>>, path: string): string {
  const n = config['_name_or_path'];
  return typeof n === 'string' && n ? n : path.replace(/\/+$/, '').split('/').pop()!;
}
