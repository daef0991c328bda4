/**
 * Decoders of tokenizer.json files (tokenizers `src/decoders/*.rs`): a chain of functions over the
 * list of token strings whose concatenation is the text (`Decoder::decode_chain`).
 */
import { BYTE_TO_CHAR } from './byte-level.js';
import { TokenizerError } from './errors.js';
import { patternRegex } from './normalizers.js';

export type Decoder = (tokens: string[]) => string[];
type Json = Record<string, unknown>;

const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
const utf8Lossy = (bytes: number[]): string => new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(new Uint8Array(bytes));

/** Byte-level tokens back to bytes, then UTF-8 (invalid sequences become U+FFFD). Tokens with characters outside the alphabet count as their own UTF-8. */
export const byteLevelDecoder: Decoder = (tokens) => {
  const bytes: number[] = [];
  for (const t of tokens) {
    const mapped = Array.from(t, (c) => CHAR_TO_BYTE.get(c));
    if (mapped.every((b) => b !== undefined)) bytes.push(...(mapped as number[]));
    else bytes.push(...new TextEncoder().encode(t));
  }
  return [utf8Lossy(bytes)];
};

/** BERT's detokenization cleanup (tokenizers `decoders/wordpiece.rs` `cleanup`). */
export function wordPieceCleanup(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** `<0xXX>` runs become their UTF-8 text, or one U+FFFD per byte if the run is not valid UTF-8. */
export const byteFallbackDecoder: Decoder = (tokens) => {
  const out: string[] = [];
  let run: number[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    try {
      out.push(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(new Uint8Array(run)));
    } catch {
      for (let i = 0; i < run.length; i++) out.push('\ufffd');
    }
    run = [];
  };
  for (const t of tokens) {
    const m = BYTE_TOKEN.exec(t);
    if (m) run.push(parseInt(m[1]!, 16));
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
};

export function decoderFromJson(json: Json | null | undefined, translate: (p: string) => string): Decoder | null {
  if (!json) return null;
  switch (json.type) {
    case 'ByteLevel':
      return byteLevelDecoder;
    case 'WordPiece': {
      const prefix = (json.prefix as string) ?? '##';
      const cleanup = json.cleanup !== false;
      return (tokens) =>
        tokens.map((t, i) => {
          if (i !== 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : ' ' + t;
          return cleanup ? wordPieceCleanup(t) : t;
        });
    }
    case 'Metaspace': {
      const replacement = (json.replacement as string) ?? '\u2581';
      const legacy = json.add_prefix_space === false ? 'never' : 'always';
      const scheme = (json.prepend_scheme as string) ?? legacy;
      return (tokens) =>
        tokens.map((t, i) => {
          const s = t.replaceAll(replacement, ' ');
          // The space the pre-tokenizer prepended is dropped from the first token.
          return i === 0 && scheme !== 'never' && s.startsWith(' ') ? s.slice(1) : s;
        });
    }
    case 'ByteFallback':
      return byteFallbackDecoder;
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'Strip': {
      const content = json.content as string;
      const start = json.start as number;
      const stop = json.stop as number;
      return (tokens) =>
        tokens.map((t) => {
          const cs = Array.from(t);
          let a = 0;
          let b = cs.length;
          while (a < Math.min(start, cs.length) && cs[a] === content) a++;
          while (cs.length - b < stop && b > a && cs[b - 1] === content) b--;
          return cs.slice(a, b).join('');
        });
    }
    case 'Replace': {
      const re = patternRegex(json.pattern, 'Replace decoder', translate);
      const content = String(json.content);
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    case 'BPEDecoder': {
      const suffix = (json.suffix as string) ?? '</w>';
      return (tokens) => tokens.map((t, i) => t.replaceAll(suffix, i === tokens.length - 1 ? '' : ' '));
    }
    case 'Sequence': {
      const steps = (json.decoders as Json[]).map((d) => decoderFromJson(d, translate)).filter((d): d is Decoder => d !== null);
      return (tokens) => steps.reduce((ts, step) => step(ts), tokens);
    }
    default:
      throw new TokenizerError('tokenizer.json', `decoder type '${String(json.type)}' is not supported (supported: ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence)`);
  }
}
