/**
 * One step of beam search as a pure function (Graves 2012; HF's BeamSearchScorer): extend every
 * live beam by every token, keep the best `width` extensions by total log-probability. The driver
 * (inference/beam-search.ts) runs the model and keeps finished hypotheses.
 */
import { fail } from '../../tensor/index.js';

export interface BeamCandidate {
  /** Index of the beam extended. */
  parent: number;
  tokenId: number;
  /** The parent's score plus log p(token). */
  score: number;
  logprob: number;
}

/**
 * The `width` best (parent, token) extensions of beams with scores `scores` and next-token
 * log-probabilities `logprobs[parent]` ([V] each). Ties: lower parent, then lower token id.
 */
export function beamCandidates(scores: readonly number[], logprobs: readonly ArrayLike<number>[], width: number): BeamCandidate[] {
  if (scores.length !== logprobs.length) fail('beamCandidates', `${scores.length} beam scores for ${logprobs.length} distributions`);
  if (!(Number.isInteger(width) && width >= 1)) fail('beamCandidates', `width must be a positive integer, got ${width}`);
  const out: BeamCandidate[] = [];
  const better = (a: BeamCandidate, b: BeamCandidate) => a.score > b.score || (a.score === b.score && (a.parent < b.parent || (a.parent === b.parent && a.tokenId < b.tokenId)));
  // keep a sorted list of at most `width`: V * beams candidates, few kept
  scores.forEach((s, parent) => {
    const lp = logprobs[parent]!;
    for (let tokenId = 0; tokenId < lp.length; tokenId++) {
      const c = { parent, tokenId, score: s + lp[tokenId]!, logprob: lp[tokenId]! };
      if (!(c.score > -Infinity)) continue;
      if (out.length === width && !better(c, out[width - 1]!)) continue;
      let i = out.length;
      while (i > 0 && better(c, out[i - 1]!)) i--;
      out.splice(i, 0, c);
      if (out.length > width) out.pop();
    }
  });
  return out;
}

/** HF's length normalisation: score / length^lengthPenalty (lengthPenalty 0 ranks by raw log-probability). */
export function normalizedScore(score: number, length: number, lengthPenalty: number): number {
  return score / Math.pow(Math.max(length, 1), lengthPenalty);
}
