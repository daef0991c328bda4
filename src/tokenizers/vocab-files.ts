/**
 * Parsers for the vocabulary formats byte-level BPE ships in. Pure string -> Map functions, so
 * they run in browsers; reading the files from node_modules is in tiktoken-node.ts.
 *
 *  - `.tiktoken` files (tiktoken `load.py` `load_tiktoken_bpe`): one `base64(token) rank` per line.
 *  - The `bpe_ranks` string in the `tiktoken` npm package's `encoders/*.json` (its `lib.rs`
 *    constructor): lines of `<label> <first rank> base64(token) base64(token) ...`, the tokens
 *    taking consecutive ranks from the first one; the label is ignored.
 * Ranks map byte strings (char code = byte, see bpe.ts) to token ids.
 */
import { TokenizerError } from './errors.js';

function decodeBase64(b64: string, where: string): string {
  try {
    return atob(b64);
  } catch {
    throw new TokenizerError('vocab', `${where}: '${b64}' is not valid base64`);
  }
}

function addRank(ranks: Map<string, number>, token: string, rank: number, where: string): void {
  if (ranks.has(token)) throw new TokenizerError('vocab', `${where}: token ${JSON.stringify(token)} appears twice (ranks ${ranks.get(token)} and ${rank})`);
  ranks.set(token, rank);
}

/** Parses a `.tiktoken` file: `base64 rank` per line. */
export function parseTiktokenFile(contents: string): Map<string, number> {
  const ranks = new Map<string, number>();
  const lines = contents.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const [b64, rank, extra] = line.split(' ');
    const r = Number(rank);
    if (b64 === undefined || extra !== undefined || !Number.isInteger(r) || r < 0) {
      throw new TokenizerError('vocab', `line ${i + 1}: expected 'base64 rank', got ${JSON.stringify(line.slice(0, 80))}`);
    }
    addRank(ranks, decodeBase64(b64, `line ${i + 1}`), r, `line ${i + 1}`);
  }
  return ranks;
}

/** Parses the compressed `bpe_ranks` string of the tiktoken npm package's encoder JSON files. */
export function parseTiktokenNpmRanks(bpeRanks: string): Map<string, number> {
  const ranks = new Map<string, number>();
  const lines = bpeRanks.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const fields = lines[i]!.split(' ');
    const first = Number(fields[1]);
    if (fields.length < 2 || !Number.isInteger(first) || first < 0) {
      throw new TokenizerError('vocab', `bpe_ranks line ${i + 1}: expected '<label> <first rank> base64...', got ${JSON.stringify(lines[i]!.slice(0, 80))}`);
    }
    for (let j = 2; j < fields.length; j++) addRank(ranks, decodeBase64(fields[j]!, `bpe_ranks line ${i + 1}`), first + j - 2, `bpe_ranks line ${i + 1}`);
  }
  return ranks;
}
