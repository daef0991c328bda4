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
