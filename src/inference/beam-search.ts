/**
 * Beam search over sessions (HF's BeamSearchScorer, without its batch machinery): at each step
 * every live beam is extended by every token, the 2 * numBeams best extensions are ranked, those
 * ending in a stop id become finished hypotheses (if they rank among the first numBeams) and the
 * best numBeams others continue. A beam chosen by several children is forked: copied caches, or
 * shared blocks with a paged cache. Hypotheses are ranked by score / length^lengthPenalty, the
 * length counting the generated tokens (a final stop id included). The search ends when numBeams
 * hypotheses are finished and no live beam can still beat the worst of them (its normalised
 * score, HF's early_stopping=False heuristic), or after maxTokens.
 */
import { fail } from '../tensor/index.js';
import { beamCandidates, logSoftmax64, normalizedScore } from './sampling/index.js';
import { InferenceSession, type SessionCache } from './session.js';
import type { GenerativeModel } from './generative-model.js';

export interface BeamSearchOptions {
  numBeams: number;
  maxTokens: number;
  /** Exponent of the length normalisation (HF default 1; 0 ranks by total log-probability). */
  lengthPenalty?: number;
  /** Default: the model's eos ids. */
  stopIds?: readonly number[];
  cache?: SessionCache;
  /** Encoder input of an encoder-decoder (the prompt then starts the decoder: usually [start id]). */
  encoderIds?: readonly number[];
}

export interface BeamHypothesis {
  /** Generated ids (a final stop id included). */
  ids: number[];
  /** Sum of the tokens' log-probabilities. */
  score: number;
  normalizedScore: number;
  finished: boolean;
}

interface LiveBeam {
  session: InferenceSession;
  ids: number[];
  score: number;
  logprobs: Float64Array;
}

/** The best hypotheses, best first (numBeams of them). */
export function beamSearch(model: GenerativeModel, prompt: readonly number[], opts: BeamSearchOptions): BeamHypothesis[] {
  const { numBeams, maxTokens } = opts;
  if (!(Number.isInteger(numBeams) && numBeams >= 1)) fail('beamSearch', `numBeams must be a positive integer, got ${numBeams}`);
  if (!(Number.isInteger(maxTokens) && maxTokens >= 1)) fail('beamSearch', `maxTokens must be a positive integer, got ${maxTokens}`);
  if (prompt.length === 0) fail('beamSearch', 'the prompt is empty');
  const lp = opts.lengthPenalty ?? 1;
  const stopIds = new Set(opts.stopIds ?? model.eosTokenIds);
  const root = new InferenceSession(model, { ...(opts.cache ? { cache: opts.cache } : {}), ...(opts.encoderIds ? { encoderIds: opts.encoderIds } : {}) });
  let beams: LiveBeam[] = [{ session: root, ids: [], score: 0, logprobs: logSoftmax64(root.feed(prompt)) }];
  const finished: BeamHypothesis[] = [];
  const addFinished = (h: BeamHypothesis) => {
    finished.push(h);
    finished.sort((a, b) => b.normalizedScore - a.normalizedScore);
    if (finished.length > numBeams) finished.pop();
  };
  try {
    for (let step = 1; step <= maxTokens && beams.length > 0; step++) {
      const candidates = beamCandidates(beams.map((b) => b.score), beams.map((b) => b.logprobs), 2 * numBeams);
      const chosen: { parent: number; tokenId: number; score: number }[] = [];
      candidates.forEach((c, rank) => {
        const ids = [...beams[c.parent]!.ids, c.tokenId];
        if (stopIds.has(c.tokenId)) {
          if (rank < numBeams) addFinished({ ids, score: c.score, normalizedScore: normalizedScore(c.score, ids.length, lp), finished: true });
        } else if (chosen.length < numBeams) chosen.push(c);
      });
      // done when numBeams hypotheses are finished and the best live beam cannot beat the worst
      const bestLive = chosen.length > 0 ? normalizedScore(chosen[0]!.score, step, lp) : -Infinity;
      if (finished.length >= numBeams && bestLive <= finished[finished.length - 1]!.normalizedScore) {
        chosen.length = 0;
      }
      // sessions: the last child of a parent takes its session, the others fork it first
      const children = new Map<number, number>();
      for (const c of chosen) children.set(c.parent, (children.get(c.parent) ?? 0) + 1);
      const next: LiveBeam[] = [];
      for (const c of chosen) {
        const parent = beams[c.parent]!;
        const left = children.get(c.parent)! - 1;
        children.set(c.parent, left);
        const session = left > 0 ? parent.session.fork() : parent.session;
        if (step === maxTokens) next.push({ session, ids: [...parent.ids, c.tokenId], score: c.score, logprobs: new Float64Array(0) });
        else next.push({ session, ids: [...parent.ids, c.tokenId], score: c.score, logprobs: logSoftmax64(session.feed([c.tokenId])) });
      }
      beams.forEach((b, i) => {
        if (!children.has(i)) b.session.dispose();
      });
      beams = next;
    }
    for (const b of beams) addFinished({ ids: b.ids, score: b.score, normalizedScore: normalizedScore(b.score, b.ids.length, lp), finished: false });
  } finally {
    for (const b of beams) b.session.dispose();
  }
  return finished;
}
