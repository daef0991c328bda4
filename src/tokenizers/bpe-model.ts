/**
 * The BPE model of Hugging Face tokenizer.json files (tokenizers `src/models/bpe/model.rs`): a
 * vocabulary, an ordered list of merges, and the options GPT-2, RoBERTa, Llama and others use
 * (`continuing_subword_prefix`, `end_of_word_suffix`, `unk_token` with `fuse_unk`,
 * `byte_fallback` to `<0xXX>` tokens, `ignore_merges`). The merge loop is `mergeSymbols` in bpe.ts.
 */
import { mergeSymbols, pairKey, type Merge } from './bpe.js';
import { TokenizerError } from './errors.js';
import { vocabTables, type TokenizerModel } from './model.js';

export interface BpeModelOptions {
  vocab: Record<string, number>;
  /** `"a b"` strings (older files) or `["a", "b"]` pairs, highest priority first. */
  merges: (string | [string, string])[];
  unkToken?: string | null;
  continuingSubwordPrefix?: string | null;
  endOfWordSuffix?: string | null;
  fuseUnk?: boolean;
  byteFallback?: boolean;
  ignoreMerges?: boolean;
}

/** Words at most this long (UTF-16 units) are cached, as tokenizers does for every word. */
const CACHE_MAX_WORD = 64;
const CACHE_MAX_ENTRIES = 1 << 17;

export class BpeModel implements TokenizerModel {
  readonly vocabSize: number;
  private readonly toId: Map<string, number>;
  private readonly toToken: string[];
  private readonly merges = new Map<number, Merge>();
  readonly unkId: number | undefined;
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly options: BpeModelOptions) {
    ({ toId: this.toId, toToken: this.toToken } = vocabTables(options.vocab));
    this.vocabSize = this.toToken.length;
    const prefixLength = options.continuingSubwordPrefix?.length ?? 0;
    options.merges.forEach((merge, rank) => {
      const [a, b] = typeof merge === 'string' ? splitMerge(merge, rank) : merge;
      const left = this.toId.get(a);
      const right = this.toId.get(b);
      // The merged token drops the right part's continuing prefix: "un" + "##able" -> "unable".
      const merged = this.toId.get(a + b.slice(prefixLength));
      if (left === undefined || right === undefined || merged === undefined) {
        throw new TokenizerError('tokenizer.json', `BPE merge ${rank} (${JSON.stringify(a)}, ${JSON.stringify(b)}) uses a token missing from the vocabulary`);
      }
      this.merges.set(pairKey(left, right), { rank, id: merged });
    });
    if (options.unkToken != null) {
      this.unkId = this.toId.get(options.unkToken);
      if (this.unkId === undefined) throw new TokenizerError('tokenizer.json', `BPE unk_token ${JSON.stringify(options.unkToken)} is not in the vocabulary`);
    }
  }

  tokenToId(token: string): number | undefined {
    return this.toId.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.toToken[id];
  }

  tokenize(word: string): number[] {
    if (word === '') return [];
    const cached = this.cache.get(word);
    if (cached) return cached;
    let ids: number[];
    const whole = this.options.ignoreMerges ? this.toId.get(word) : undefined;
    if (whole !== undefined) ids = [whole];
    else ids = mergeSymbols(this.initialSymbols(word), this.merges);
    if (word.length <= CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  /** One symbol per character (`Word` construction in `merge_word`), with prefix/suffix, byte fallback and unknowns. */
  private initialSymbols(word: string): number[] {
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, byteFallback, fuseUnk } = this.options;
    const chars = Array.from(word);
    const out: number[] = [];
    let previousUnk = false;
    chars.forEach((c, i) => {
      let s = c;
      if (i > 0 && prefix) s = prefix + s;
      if (i === chars.length - 1 && suffix) s = s + suffix;
      const id = this.toId.get(s);
      if (id !== undefined) {
        out.push(id);
        previousUnk = false;
        return;
      }
      if (byteFallback) {
        const bytes = Array.from(new TextEncoder().encode(c), (b) => this.toId.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
        if (bytes.every((b) => b !== undefined)) {
          out.push(...(bytes as number[]));
          previousUnk = false;
          return;
        }
      }
      if (this.unkId === undefined) {
        throw new TokenizerError('encode', `${JSON.stringify(c)} is not in the BPE vocabulary and the model has no unk_token`);
      }
      if (!(fuseUnk && previousUnk)) out.push(this.unkId);
      previousUnk = true;
    });
    return out;
  }
}

function splitMerge(merge: string, rank: number): [string, string] {
  const parts = merge.split(' ');
  if (parts.length !== 2) throw new TokenizerError('tokenizer.json', `BPE merge ${rank} ${JSON.stringify(merge)} is not two tokens separated by one space`);
  return parts as [string, string];
}
