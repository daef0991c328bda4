#!/usr/bin/python3
"""Reference fixtures for attn's logits processors (src/inference/sampling), computed by PyTorch.

Run with Debian's interpreter (it has python3-torch):  /usr/bin/python3 scripts/reference/sampling.py
Writes tests/fixtures/sampling.json. The processors are transformers' (4.44)
generation/logits_process.py code, copied here because the `transformers` package cannot be
installed: TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper,
TypicalLogitsWarper, RepetitionPenaltyLogitsProcessor; presence/frequency penalties are vLLM's
(`logits -= frequency * counts + presence * (counts > 0)`) over the given context, and logit bias
is OpenAI's additive bias. `chain` applies them in the order of transformers' generate (penalties
and bias, then temperature, top-k, top-p, min-p, typical). Removed tokens are -inf.
"""
import json
import platform
import sys
from datetime import datetime, timezone

import numpy as np
import torch

FORMAT = "attn-fixture/1"
SEED = 20240607
FILTER = -float("inf")

gen = torch.Generator().manual_seed(SEED)


def temperature(scores, t):
    return scores / t


def top_k(scores, k, min_tokens_to_keep=1):
    k = min(max(k, min_tokens_to_keep), scores.size(-1))
    indices_to_remove = scores < torch.topk(scores, k)[0][..., -1, None]
    return scores.masked_fill(indices_to_remove, FILTER)


def top_p(scores, p, min_tokens_to_keep=1):
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_indices_to_remove = cumulative_probs <= (1 - p)
    sorted_indices_to_remove[..., -min_tokens_to_keep:] = 0
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, FILTER)


def min_p(scores, p, min_tokens_to_keep=1):
    probs = torch.softmax(scores, dim=-1)
    top_probs, _ = probs.max(dim=-1, keepdim=True)
    tokens_to_remove = probs < p * top_probs
    sorted_indices = torch.argsort(scores, descending=True, dim=-1)
    sorted_indices_to_remove = torch.gather(tokens_to_remove, dim=-1, index=sorted_indices)
    sorted_indices_to_remove[..., :min_tokens_to_keep] = False
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, FILTER)


def typical(scores, mass, min_tokens_to_keep=1):
    normalized = torch.nn.functional.log_softmax(scores, dim=-1)
    p = torch.exp(normalized)
    ent = -(normalized * p).nansum(-1, keepdim=True)
    shifted_scores = torch.abs((-normalized) - ent)
    sorted_scores, sorted_indices = torch.sort(shifted_scores, descending=False)
    sorted_logits = scores.gather(-1, sorted_indices)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    last_ind = (cumulative_probs < mass).sum(dim=1)
    last_ind.clamp_(max=sorted_scores.shape[-1] - 1)
    sorted_indices_to_remove = sorted_scores > sorted_scores.gather(1, last_ind.view(-1, 1))
    sorted_indices_to_remove[..., :min_tokens_to_keep] = 0
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, FILTER)


def repetition(scores, context, penalty):
    input_ids = torch.tensor([context], dtype=torch.long)
    score = torch.gather(scores, 1, input_ids)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return scores.scatter(1, input_ids, score)


def presence_frequency(scores, context, presence, frequency):
    counts = torch.bincount(torch.tensor(context, dtype=torch.long), minlength=scores.size(-1)).to(scores.dtype)
    return scores - frequency * counts - presence * (counts > 0).to(scores.dtype)


def bias(scores, b):
    out = scores.clone()
    for k, v in b.items():
        out[0, int(k)] += v
    return out


def chain(scores, context, o):
    if o.get("logit_bias"):
        scores = bias(scores, o["logit_bias"])
    if o.get("repetition_penalty", 1) != 1:
        scores = repetition(scores, context, o["repetition_penalty"])
    if o.get("presence_penalty") or o.get("frequency_penalty"):
        scores = presence_frequency(scores, context, o.get("presence_penalty", 0), o.get("frequency_penalty", 0))
    scores = temperature(scores, o["temperature"])
    if o.get("top_k"):
        scores = top_k(scores, o["top_k"])
    if o.get("top_p", 1) < 1:
        scores = top_p(scores, o["top_p"])
    if o.get("min_p"):
        scores = min_p(scores, o["min_p"])
    if o.get("typical_p", 1) < 1:
        scores = typical(scores, o["typical_p"])
    return scores


def encode(t):
    vals = t.reshape(-1).tolist()
    return ["-inf" if v == -float("inf") else v for v in vals]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sampling.json"
    vocab = 40
    cases = []
    single = [
        ("temperature", {"t": 0.7}, lambda s, c, a: temperature(s, a["t"])),
        ("top_k", {"k": 5}, lambda s, c, a: top_k(s, a["k"])),
        ("top_p", {"p": 0.8}, lambda s, c, a: top_p(s, a["p"])),
        ("top_p", {"p": 0.3}, lambda s, c, a: top_p(s, a["p"])),
        ("min_p", {"p": 0.1}, lambda s, c, a: min_p(s, a["p"])),
        ("typical_p", {"p": 0.7}, lambda s, c, a: typical(s, a["p"])),
        ("typical_p", {"p": 0.95}, lambda s, c, a: typical(s, a["p"])),
        ("repetition_penalty", {"penalty": 1.3}, lambda s, c, a: repetition(s, c, a["penalty"])),
        ("presence_frequency", {"presence": 0.5, "frequency": 0.25}, lambda s, c, a: presence_frequency(s, c, a["presence"], a["frequency"])),
        ("logit_bias", {"bias": {"3": 5.0, "7": -2.5, "11": -float("inf")}}, lambda s, c, a: bias(s, a["bias"])),
    ]
    chains = [
        {"temperature": 0.8, "top_k": 12, "top_p": 0.9},
        {"temperature": 1.3, "min_p": 0.05, "repetition_penalty": 1.2, "presence_penalty": 0.3, "frequency_penalty": 0.1},
        {"temperature": 0.6, "typical_p": 0.8, "logit_bias": {"0": 3.0}},
    ]
    for i in range(3):
        scores = torch.randn(1, vocab, generator=gen) * 2.5
        context = torch.randint(0, vocab, (12,), generator=gen).tolist()
        for name, args, fn in single:
            jargs = {k: ({kk: ("-inf" if vv == -float("inf") else vv) for kk, vv in v.items()} if isinstance(v, dict) else v) for k, v in args.items()}
            cases.append({"name": name, "args": jargs, "logits": encode(scores), "context": context, "expected": encode(fn(scores, context, args))})
        for o in chains:
            out = chain(scores, context, o)
            cases.append({"name": "chain", "args": o, "logits": encode(scores), "context": context, "expected": encode(out),
                          "probs": torch.softmax(out.double(), dim=-1).reshape(-1).tolist()})
    doc = {
        "format": FORMAT,
        "generator": "scripts/reference/sampling.py",
        "reference": "transformers 4.44 generation/logits_process.py (warpers and repetition penalty, copied), vLLM penalties",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": SEED,
        "note": "float32 logits [1, 40]; removed tokens are -inf; chain probs are softmax in float64",
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {out_path}")


if __name__ == "__main__":
    main()
