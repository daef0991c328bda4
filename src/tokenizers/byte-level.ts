/**
 * GPT-2's byte-to-unicode alphabet (openai/gpt-2 `encoder.py` `bytes_to_unicode`, Hugging Face
 * `pre_tokenizers/byte_level.rs`): every byte gets a printable character so that byte-level BPE
 * vocabularies can be stored as JSON strings. Printable latin1 bytes map to themselves; the other
 * 68 (controls, space, 0x7F-0xA0, 0xAD) map to U+0100 onwards in byte order, so space is `Ġ` (U+0120).
 */
import { TokenizerError } from './errors.js';

function buildAlphabet(): string[] {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = new Array(256);
  let next = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCharCode(printable(b) ? b : 256 + next++);
  return chars;
}

/** BYTE_TO_CHAR[b] is the character standing for byte b. */
export const BYTE_TO_CHAR: readonly string[] = buildAlphabet();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The byte-level form of a string: its UTF-8 bytes, each written as its alphabet character. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** The bytes a byte-level string stands for; characters outside the alphabet are an error. */
export function fromByteLevel(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const b = CHAR_TO_BYTE.get(text[i]!);
    if (b === undefined) throw new TokenizerError('byte-level', `${JSON.stringify(text[i])} (U+${text.charCodeAt(i).toString(16).toUpperCase()}) is not in the byte-level alphabet`);
    out[i] = b;
  }
  return out;
}
