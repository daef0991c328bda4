/**
 * Stop strings across token boundaries (llama.cpp server's find_stopping_strings and its partial
 * match hold-back): text is released only once it cannot be the start of a stop string; a stop
 * string split over several tokens is caught when its last piece arrives, and the output ends
 * just before it.
 */
import { fail } from '../../tensor/index.js';

/** The earliest complete occurrence of any stop string in text (the longest stop on a tie). */
export function findStop(text: string, stops: readonly string[]): { index: number; stop: string } | null {
  let best: { index: number; stop: string } | null = null;
  for (const stop of stops) {
    const index = text.indexOf(stop);
    if (index >= 0 && (best === null || index < best.index || (index === best.index && stop.length > best.stop.length))) best = { index, stop };
  }
  return best;
}

/** Length of the longest suffix of text that is a proper prefix of some stop string (what must be held back). */
export function partialStopLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

/** Feeds text deltas through stop-string matching; `push` returns the text that is safe to show. */
export class StopStringMatcher {
  private held = '';
  private done = false;

  constructor(readonly stops: readonly string[]) {
    for (const s of stops) if (typeof s !== 'string' || s.length === 0) fail('StopStringMatcher', 'stop strings must be non-empty strings');
  }

  get stopped(): boolean {
    return this.done;
  }

  push(delta: string): { text: string; stopped: boolean; stop?: string } {
    if (this.done) return { text: '', stopped: true };
    const text = this.held + delta;
    const hit = findStop(text, this.stops);
    if (hit) {
      this.done = true;
      this.held = '';
      return { text: text.slice(0, hit.index), stopped: true, stop: hit.stop };
    }
    const hold = partialStopLength(text, this.stops);
    this.held = text.slice(text.length - hold);
    return { text: text.slice(0, text.length - hold), stopped: false };
  }

  /** The held-back text, at the end of generation (it turned out not to start a stop string). */
  flush(): string {
    const t = this.done ? '' : this.held;
    this.held = '';
    return t;
  }
}
