/**
 * Post-processors of tokenizer.json files (tokenizers `src/processors/*.rs`): they wrap the ids of
 * one sequence or a pair in special tokens ([CLS] A [SEP] B [SEP], <s> A </s></s> B </s>) and
 * assign type ids. ByteLevel's post-processor only trims offsets, which attn does not track.
 */
import { TokenizerError } from './errors.js';

export interface Processed {
  ids: number[];
  typeIds: number[];
}
/** `b` is null for a single sequence. */
export type PostProcessor = (a: number[], b: number[] | null) => Processed;

type Json = Record<string, unknown>;
type TemplatePiece = { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };

const fill = (n: number, v: number): number[] => new Array<number>(n).fill(v);

/** Concatenation without special tokens (add_special_tokens = false, or no post-processor). */
export function concatenate(a: number[], b: number[] | null): Processed {
  return { ids: [...a, ...(b ?? [])], typeIds: [...fill(a.length, 0), ...fill(b?.length ?? 0, 1)] };
}

function template(pieces: TemplatePiece[], specials: Record<string, { ids: number[] }>): PostProcessor {
  return (a, b) => {
    const ids: number[] = [];
    const typeIds: number[] = [];
    for (const p of pieces) {
      if ('SpecialToken' in p) {
        const special = specials[p.SpecialToken.id];
        if (!special) throw new TokenizerError('tokenizer.json', `TemplateProcessing uses special token ${JSON.stringify(p.SpecialToken.id)} missing from its special_tokens`);
        ids.push(...special.ids);
        typeIds.push(...fill(special.ids.length, p.SpecialToken.type_id));
      } else {
        const seq = p.Sequence.id === 'A' ? a : b;
        if (!seq) throw new TokenizerError('encode', 'the single-sequence template refers to sequence B');
        ids.push(...seq);
        typeIds.push(...fill(seq.length, p.Sequence.type_id));
      }
    }
    return { ids, typeIds };
  };
}

export function postProcessorFromJson(json: Json | null | undefined): PostProcessor | null {
  if (!json) return null;
  switch (json.type) {
    case 'TemplateProcessing': {
      const specials = json.special_tokens as Record<string, { ids: number[] }>;
      const single = template(json.single as TemplatePiece[], specials);
      const pair = template(json.pair as TemplatePiece[], specials);
      return (a, b) => (b ? pair(a, b) : single(a, null));
    }
    case 'BertProcessing': {
      const [, cls] = json.cls as [string, number];
      const [, sep] = json.sep as [string, number];
      return (a, b) => {
        const first = [cls, ...a, sep];
        if (!b) return { ids: first, typeIds: fill(first.length, 0) };
        return { ids: [...first, ...b, sep], typeIds: [...fill(first.length, 0), ...fill(b.length + 1, 1)] };
      };
    }
    case 'RobertaProcessing': {
      const [, cls] = json.cls as [string, number];
      const [, sep] = json.sep as [string, number];
      return (a, b) => {
        const first = [cls, ...a, sep];
        if (!b) return { ids: first, typeIds: fill(first.length, 0) };
        // RoBERTa has no token types: the second sequence gets type 0 too.
        const ids = [...first, sep, ...b, sep];
        return { ids, typeIds: fill(ids.length, 0) };
      };
    }
    case 'ByteLevel':
      return concatenate;
    case 'Sequence': {
      const steps = (json.processors as Json[]).map(postProcessorFromJson).filter((p): p is PostProcessor => p !== null);
      // Only one step may add tokens in practice (ByteLevel + Template); apply the adding one.
      const adding = steps.filter((s) => s !== concatenate);
      if (adding.length > 1) throw new TokenizerError('tokenizer.json', 'a Sequence post-processor with more than one token-adding step is not supported');
      return adding[0] ?? concatenate;
    }
    default:
      throw new TokenizerError('tokenizer.json', `post-processor type '${String(json.type)}' is not supported (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)`);
  }
}
