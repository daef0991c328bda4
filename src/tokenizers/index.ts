/**
 * Tokenizers: byte-level BPE with regex pre-tokenization (tiktoken encodings). This entry is
 * browser-safe; the loaders that read vocabularies from node_modules are in *-node.ts files and are
 * re-exported by the Node entry of the package (src/index.ts).
 */
export type { EncodeOptions, Tokenizer } from './tokenizer.js';
export { TokenizerError } from './errors.js';
export { bytePairMerge, bytePairMergeReference, type Ranks } from './bpe.js';
export { splitWithRegex, tiktokenPatternToJs } from './pre-tokenizers.js';
export { parseTiktokenFile, parseTiktokenNpmRanks } from './vocab-files.js';
export {
  BytePairEncoding,
  bytePairEncodingFromTiktokenJson,
  toWellFormed,
  utf8ByteString,
  type BytePairEncodingOptions,
  type TiktokenNpmEncoderJson,
} from './tiktoken.js';
export { BYTE_TO_CHAR, toByteLevel, fromByteLevel } from './byte-level.js';
export { mergeSymbols, pairKey, type Merge } from './bpe.js';
export { BpeModel, type BpeModelOptions } from './bpe-model.js';
export { WordPieceModel, type WordPieceOptions } from './wordpiece.js';
export { UnigramModel, type UnigramOptions } from './unigram.js';
export type { TokenizerModel } from './model.js';
export { bertNormalizer, lowercase, stripAccents, normalizerFromJson, type Normalizer, type BertNormalizerOptions } from './normalizers.js';
export {
  GPT2_PATTERN,
  splitPieces,
  byteLevelPreTokenizer,
  metaspacePreTokenizer,
  bertPreTokenizer,
  preTokenizerFromJson,
  type Piece,
  type PreTokenizer,
  type SplitBehavior,
} from './pre-tokenizers.js';
export { postProcessorFromJson, type PostProcessor, type Processed } from './post-processors.js';
export { decoderFromJson, byteLevelDecoder, byteFallbackDecoder, wordPieceCleanup, type Decoder } from './decoders.js';
export { HfTokenizer, tokenizerFromJson, truncateSequences, type AddedToken, type HfEncodeOptions, type HfTokenizerParts, type Truncation, type Padding, type EncodingWithMask } from './tokenizer-json.js';
export {
  trainBpe,
  trainBpeReference,
  bpeWordCounts,
  learnMerges,
  bytePairEncodingFromTraining,
  trainedTokenizerJson,
  CL100K_PATTERN,
  type BpeTrainOptions,
  type BpeTrainResult,
  type TrainProgress,
  type Word,
  type MergeLoop,
} from './bpe-trainer.js';
export { trainWordPiece, wordPieceWordCounts, wordPieceTokenizerJson, type WordPieceTrainOptions, type WordPieceTrainResult } from './wordpiece-trainer.js';
export { trainUnigram, unigramWordCounts, unigramTokenizerJson, type UnigramTrainOptions, type UnigramTrainResult } from './unigram-trainer.js';
export { WordCounts, TextSegmenter, SEGMENT_CHARS, MAX_SEGMENT_CHARS, type WordCountOptions, type SegmentRule } from './word-counts.js';
export {
  SentencePieceTokenizer,
  PrecompiledCharsmap,
  PieceType,
  parseSentencePieceModel,
  sentencePieceFromBytes,
  jsNormalizer,
  type SentencePiece,
  type SentencePieceOptions,
  type SentencePieceModelProto,
  type SentencePieceEncodeOptions,
  type TrainerSpec,
  type NormalizerSpec,
} from './sentencepiece.js';
export { TokenizerStatsCounter, plainEncoder, unknownId, segmentRuleFor, type TokenizerStats } from './stats.js';
export { ChatTemplate, applyChatTemplate, type ChatMessage, type ChatTemplateOptions, type TokenizerConfig } from './chat-template.js';
export {
  tokenizerFromGguf,
  tokenizerJsonFromGguf,
  sentencePieceProtoFromGguf,
  ggufTokenizerMetadata,
  ggufTokenizerModel,
  GGUF_TOKEN_TYPE,
  QWEN2_PATTERN,
  type GgufTokenizer,
  type GgufTokenizerOptions,
  type GgufTokenizerValue,
} from './gguf-vocab.js';
