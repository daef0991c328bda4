/**
 * The error tokenizers raise. Messages start with the operation and name what was wrong, e.g.
 * `decode: id 100300 is outside the vocabulary (size 100277)`. Its own class (not the tensor
 * core's AttnError) because src/tokenizers depends on nothing else in src/.
 */
export class TokenizerError extends Error {
  constructor(readonly op: string, detail: string) {
    super(`${op}: ${detail}`);
    this.name = 'TokenizerError';
  }
}
