/**
 * Regex pre-tokenization: the patterns that split text into the pieces BPE merges within.
 *
 * tiktoken's `pat_str`s (openai_public.py) are written for Rust's `fancy_regex`. JavaScript's
 * regex engine is also a backtracking, leftmost-first engine, so the same pattern finds the same
 * pieces once three differences are translated (`tiktokenPatternToJs`):
 *  - `\s` in Rust's Unicode mode is `\p{White_Space}`; JS's `\s` is a different set (it adds U+FEFF
 *    and lacks U+0085 NEL), so `\s`/`\S` become `\p{White_Space}`/`\P{White_Space}`.
 *  - `(?i:...)` groups are not supported by Node 20; their letters become explicit classes using
 *    Unicode simple case folding as Rust does, so `s` also matches U+017F LATIN SMALL LETTER LONG S
 *    and `k` the KELVIN SIGN U+212A.
 *  - `\p{..}` needs the `u` flag, which also makes the engine step over code points, not UTF-16 units.
 * Possessive quantifiers (`++`) are rejected: the patterns shipped with tiktoken's npm package
 * (our reference) do not use them.
 */

/** Letters whose Unicode simple case folding adds a non-ASCII member (Rust regex `(?i)`). */
const EXTRA_FOLDS: Record<string, string> = { s: '\u017f', k: '\u212a' };

function caseInsensitiveLetters(body: string): string {
  if (/[\\[\](){}*+?]/.test(body.replace(/\\[\\'"]/g, ''))) {
    throw new Error(`pre-tokenizer: (?i:${body}) holds more than literals and '|'; only those can be translated`);
  }
  return body.replace(/[a-zA-Z]/g, (c) => {
    const lo = c.toLowerCase();
    return `[${lo}${lo.toUpperCase()}${EXTRA_FOLDS[lo] ?? ''}]`;
  });
}

/** Translates a tiktoken (fancy_regex) pattern into an equivalent JS pattern source (use with the `u` flag). */
export function tiktokenPatternToJs(pattern: string): string {
  // Property escapes (\p{L}) and escaped characters first, so that `\p{L}+` is not read as `}+`.
  if (/[+*?}]\+/.test(pattern.replace(/\\[pP]\{[^}]*\}|\\./g, 'x'))) {
    throw new Error(`pre-tokenizer: possessive quantifiers are not supported in ${JSON.stringify(pattern)}`);
  }
  // (?i:...) groups: tiktoken's contain only literal alternatives, so no nested parentheses.
  let out = pattern.replace(/\(\?i:([^()]*)\)/g, (_, body: string) => `(?:${caseInsensitiveLetters(body)})`);
  if (out.includes('(?i')) throw new Error(`pre-tokenizer: unsupported inline flag group in ${JSON.stringify(pattern)}`);
  out = out.replace(/\\(.)/g, (m, c: string) => (c === 's' ? '\\p{White_Space}' : c === 'S' ? '\\P{White_Space}' : m));
  return out;
}

/** Splits text into pre-tokens with a global, Unicode regex (every character lands in some piece for tiktoken's patterns). */
export function splitWithRegex(text: string, regex: RegExp): string[] {
  if (!regex.global || !regex.unicode) throw new Error(`pre-tokenizer: the regex ${regex} needs the 'g' and 'u' flags`);
  return text.match(regex) ?? [];
}
