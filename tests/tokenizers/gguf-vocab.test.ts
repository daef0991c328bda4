/**
 * Tokenizers in GGUF metadata.
 * - 'llama' (SentencePiece): a vocabulary-only GGUF made by scripts/reference/gguf_files.py from the
 *   sentencepiece fixture bpe.model (tokens, scores, types as convert_hf_to_gguf.py reads them)
 *   gives sentencepiece 0.1.97's ids on every fixture line whose whitespace sentencepiece would not
 *   change (llama.cpp, like the GGUF tokenizer, does not collapse or trim spaces).
 * - 'gpt2' (byte-level BPE): tokenizer.json -> GGUF metadata -> file -> tokenizer gives the same
 *   ids as the tokenizer.json itself (GPT-2's ByteLevel regex, a Llama-3 style Split with a BOS
 *   template, a BPE trained by attn), on prose, source code and generated Unicode.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GgufFile, HfTokenizer, SentencePieceTokenizer, readGguf, serializeGguf, tokenizerFromGguf, tokenizerFromJson, ggufTokenizerMetadata,
  tokenizerJsonFromGguf, trainBpe, trainedTokenizerJson, CL100K_PATTERN, type GgufMetadataValue,
} from '../../src/index.js';
import { FIXTURES } from '../helpers.js';
import { englishProse, generatedUnicode, sourceCode } from './corpus.js';
import { gpt2TokenizerJson, llama3StyleTokenizerJson } from './tokenizer-json-builders.js';

const SP = JSON.parse(readFileSync(join(FIXTURES, 'sentencepiece', 'expected.json'), 'utf8')) as { lines: string[]; models: Record<string, { ids: string[]; decoded: Record<string, string> }> };

const TEXTS = [...englishProse(60_000), ...sourceCode(30_000), ...generatedUnicode(20_000, 3)];

/** tokenizer.json -> GGUF metadata -> bytes -> parsed file -> tokenizer. */
function throughGguf(json: Record<string, unknown>, vocabSize: number, ids: { bos?: number; eos?: number } = {}) {
  const meta = ggufTokenizerMetadata(json, { vocabSize, bosTokenId: ids.bos ?? null, eosTokenId: ids.eos ?? null });
  const file = new GgufFile(serializeGguf({ metadata: [['general.architecture', { type: 'string', value: 'llama' }], ...(meta as [string, GgufMetadataValue][])], tensors: [] }), 'vocab.gguf');
  return { file, ...tokenizerFromGguf(file.plainMetadata(), 'vocab.gguf') };
}

function assertSameIds(a: HfTokenizer, b: HfTokenizer, what: string): void {
  let tokens = 0;
  for (const [i, text] of TEXTS.entries()) {
    const expected = a.encode(text);
    assert.deepEqual(b.encode(text), expected, `${what}: document ${i}`);
    tokens += expected.length;
  }
  assert.ok(tokens > 10_000, `${what}: only ${tokens} tokens compared`);
}

describe("GGUF 'llama' vocabulary (SentencePiece)", () => {
  const { tokenizer, addBos, addEos } = tokenizerFromGguf(readGguf(join(FIXTURES, 'gguf', 'spm-vocab.gguf')).plainMetadata());

  it('becomes a BPE SentencePieceTokenizer with byte fallback and the special pieces', () => {
    assert.ok(tokenizer instanceof SentencePieceTokenizer);
    assert.equal(tokenizer.modelType, 'BPE');
    assert.equal(tokenizer.vocabSize, 1000);
    assert.equal(tokenizer.proto.trainerSpec.byteFallback, true);
    assert.deepEqual(tokenizer.specialTokens, new Map([['<unk>', 0], ['<s>', 1], ['</s>', 2]]));
    assert.deepEqual([addBos, addEos], [true, false]);
  });

  it("gives sentencepiece's ids on every line sentencepiece's whitespace handling leaves alone", () => {
    let compared = 0;
    SP.lines.forEach((line, i) => {
      if (line !== line.trim() || /\s\s/.test(line) || /[^\S ]/.test(line)) return;
      const expected = SP.models['bpe']!.ids[i] === '' ? [] : SP.models['bpe']!.ids[i]!.split(' ').map(Number);
      assert.deepEqual(tokenizer.encode(line), expected, `line ${i}: ${JSON.stringify(line)}`);
      assert.equal(tokenizer.decode(expected), SP.models['bpe']!.decoded[String(i)] ?? line, `line ${i} decoded`);
      compared++;
    });
    assert.ok(compared >= 120, `only ${compared} lines compared`);
  });

  it('keeps runs of spaces as llama.cpp does (sentencepiece would collapse them)', () => {
    const ids = tokenizer.encode('a  b');
    assert.equal(tokenizer.decode(ids), 'a  b');
  });
});

describe("GGUF 'gpt2' vocabulary (byte-level BPE) <-> tokenizer.json", () => {
  it("GPT-2 (ByteLevel's regex, 'gpt-2'): same ids, tokens and types in the metadata", () => {
    const json = gpt2TokenizerJson();
    const original = tokenizerFromJson(json);
    const { file, tokenizer, addBos } = throughGguf(json, 50257, { bos: 50256, eos: 50256 });
    assert.equal(file.value('tokenizer.ggml.pre'), 'gpt-2');
    const tokens = file.value('tokenizer.ggml.tokens') as string[];
    const types = file.value('tokenizer.ggml.token_type') as number[];
    assert.equal(tokens.length, 50257);
    assert.deepEqual([tokens[50256], types[50256], tokens[220], types[220]], ['<|endoftext|>', 3, 'Ġ', 1]);
    assert.equal((file.value('tokenizer.ggml.merges') as string[]).length, 50000);
    assert.equal(addBos, false, 'no BOS: the tokenizer.json adds none');
    assert.ok(tokenizer instanceof HfTokenizer);
    assertSameIds(original, tokenizer as HfTokenizer, 'gpt2');
  });

  it("Llama-3 style (cl100k Split, ignore_merges, BOS template; 'llama-bpe'): same ids, BOS included", () => {
    const json = llama3StyleTokenizerJson();
    const original = tokenizerFromJson(json);
    const { file, tokenizer, addBos } = throughGguf(json, 100256 + 5, { bos: 100256 });
    assert.equal(file.value('tokenizer.ggml.pre'), 'llama-bpe');
    assert.equal(file.value('tokenizer.ggml.add_bos_token'), true);
    assert.equal(addBos, true);
    assert.equal(tokenizer.encode('hi')[0], 100256);
    assertSameIds(original, tokenizer as HfTokenizer, 'llama3');
  });

  it('a BPE trained by attn round-trips; ids the tokenizer lacks become [PAD<id>] UNUSED tokens', () => {
    const trained = trainBpe(englishProse(40_000), { vocabSize: 600, pattern: CL100K_PATTERN });
    const json = trainedTokenizerJson(trained, { specialTokens: ['<|endoftext|>'] });
    const { file, tokenizer } = throughGguf(json, 604);
    const tokens = file.value('tokenizer.ggml.tokens') as string[];
    const types = file.value('tokenizer.ggml.token_type') as number[];
    assert.deepEqual([tokens[602], types[602], tokens[600], types[600]], ['[PAD602]', 5, '<|endoftext|>', 3]);
    assertSameIds(tokenizerFromJson(json), tokenizer as HfTokenizer, 'trained');
    // and the tokenizer.json made from the metadata reads back to the same metadata
    const again = ggufTokenizerMetadata(tokenizerJsonFromGguf(file.plainMetadata()), { vocabSize: 604 });
    assert.deepEqual(again.find(([k]) => k === 'tokenizer.ggml.merges')![1].value, file.value('tokenizer.ggml.merges'));
  });

  it('refuses tokenizers llama.cpp cannot express, naming what is wrong', () => {
    const json = gpt2TokenizerJson();
    assert.throws(() => ggufTokenizerMetadata({ ...json, normalizer: { type: 'NFC' } }, { vocabSize: 50257 }), /normalizer has no llama.cpp equivalent/);
    assert.throws(() => ggufTokenizerMetadata({ ...json, pre_tokenizer: { type: 'Whitespace' } }, { vocabSize: 50257 }), /pre_tokenizer \{"type":"Whitespace"\} has no llama.cpp equivalent/);
    assert.throws(() => ggufTokenizerMetadata(json, { vocabSize: 1000 }), /token .* has id \d+, outside the model's vocabulary of 1000/);
    assert.throws(() => ggufTokenizerMetadata({ model: { type: 'WordPiece' } }, { vocabSize: 10 }), /only byte-level BPE tokenizer.json files are written to GGUF \(model type "WordPiece"\)/);
    assert.throws(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.merges': [] }), /tokenizer.ggml.pre is missing/);
    assert.throws(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.merges': [], 'tokenizer.ggml.pre': 'deepseek-llm' }), /tokenizer.ggml.pre 'deepseek-llm' is not supported/);
    assert.throws(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'rwkv' }), /tokenizer.ggml.model 'rwkv' is not supported \(gpt2, llama\)/);
    assert.throws(() => tokenizerFromGguf({}), /the file has no vocabulary/);
  });
});
