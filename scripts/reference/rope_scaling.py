#!/usr/bin/python3
"""RoPE scaling fixtures: cos/sin tables for linear, dynamic (NTK), yarn and llama3 scaling.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/rope_scaling.py

The `transformers` package cannot be installed here, so `inv_freq_and_attention_factor` below
re-implements transformers' `modeling_rope_utils.py` (`_compute_{default,linear_scaling,
dynamic_ntk,yarn,llama3}_parameters`) in torch, float32 tensors where transformers uses them, and
`cos_sin` follows LlamaRotaryEmbedding.forward: freqs = inv_freq x positions (float32),
emb = cat(freqs, freqs), cos = emb.cos() * attention_factor. models.py imports these for the
LLaMA-with-scaling model fixtures. Writes tests/fixtures/rope-scaling.json (tables are stored as
the first half of HF's [T, dim] tables, which repeat: attn keeps [T, dim/2]).
"""
import json
import math
import platform
from datetime import datetime, timezone

import numpy as np
import torch


def _default_inv_freq(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def inv_freq_and_attention_factor(dim, base, max_position_embeddings, rope_scaling, seq_len=None):
    """(inv_freq [dim/2] float32, attention_factor) as transformers' ROPE_INIT_FUNCTIONS."""
    if not rope_scaling:
        return _default_inv_freq(base, dim), 1.0
    kind = rope_scaling.get("rope_type", rope_scaling.get("type"))
    factor = rope_scaling.get("factor")
    if kind == "default":
        return _default_inv_freq(base, dim), 1.0
    if kind == "linear":
        inv_freq = _default_inv_freq(base, dim)
        inv_freq /= factor
        return inv_freq, 1.0
    if kind == "dynamic":
        seq_len = seq_len if seq_len is not None and seq_len > max_position_embeddings else max_position_embeddings
        base = base * ((factor * seq_len / max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))
        return _default_inv_freq(base, dim), 1.0
    if kind == "yarn":
        # transformers' rule: with original_max_position_embeddings (the pre-YaRN context) the factor is
        # max_position_embeddings / original_max_position_embeddings, whatever `factor` says (or if absent);
        # without it max_position_embeddings is the pre-YaRN context and `factor` is used
        if rope_scaling.get("original_max_position_embeddings") is not None:
            original = rope_scaling["original_max_position_embeddings"]
            factor = max_position_embeddings / original
        else:
            original = max_position_embeddings
        truncate = rope_scaling.get("truncate", True)
        attention_factor = rope_scaling.get("attention_factor")
        mscale = rope_scaling.get("mscale")
        mscale_all_dim = rope_scaling.get("mscale_all_dim")
        beta_fast = rope_scaling.get("beta_fast") or 32
        beta_slow = rope_scaling.get("beta_slow") or 1

        def get_mscale(scale, m=1):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

        if attention_factor is None:
            if mscale and mscale_all_dim:
                attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
            else:
                attention_factor = get_mscale(factor)

        def find_correction_dim(num_rotations):
            return (dim * math.log(original / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

        low, high = find_correction_dim(beta_fast), find_correction_dim(beta_slow)
        if truncate:
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
        inv_freq_extrapolation = 1.0 / pos_freqs
        inv_freq_interpolation = 1.0 / (factor * pos_freqs)
        extrapolation_factor = 1 - ramp
        inv_freq = inv_freq_interpolation * (1 - extrapolation_factor) + inv_freq_extrapolation * extrapolation_factor
        return inv_freq, attention_factor
    if kind == "llama3":
        inv_freq = _default_inv_freq(base, dim)
        low_freq_factor = rope_scaling["low_freq_factor"]
        high_freq_factor = rope_scaling["high_freq_factor"]
        old_context_len = rope_scaling["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama), 1.0
    raise ValueError(f"unknown rope scaling {rope_scaling}")


def cos_sin(dim, base, max_position_embeddings, rope_scaling, positions):
    """HF-layout cos, sin [T, dim] for integer `positions` (dynamic: seq_len = max(positions) + 1)."""
    pos = torch.tensor(positions, dtype=torch.int64)
    inv_freq, attention_factor = inv_freq_and_attention_factor(dim, base, max_position_embeddings, rope_scaling, int(pos.max()) + 1)
    freqs = (inv_freq[:, None].float() @ pos[None, :].float()).transpose(0, 1)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * attention_factor, emb.sin() * attention_factor


CASES = [
    ("none", 16, 10000.0, 64, None),
    ("linear", 16, 10000.0, 64, {"type": "linear", "factor": 4.0}),
    ("dynamic, within max_position_embeddings (unchanged)", 16, 10000.0, 128, {"rope_type": "dynamic", "factor": 2.0}),
    ("dynamic, longer than max_position_embeddings", 16, 10000.0, 8, {"rope_type": "dynamic", "factor": 2.0}),
    ("yarn", 32, 10000.0, 64, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}),
    ("yarn, beta and attention_factor given", 64, 500000.0, 128, {"rope_type": "yarn", "factor": 8.0, "beta_fast": 16, "beta_slow": 2, "attention_factor": 0.9}),
    # factor 40 is overridden: max_position_embeddings / original_max_position_embeddings = 4 (transformers' rule)
    ("yarn, mscale / mscale_all_dim (DeepSeek)", 32, 10000.0, 64, {"rope_type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 0.707, "original_max_position_embeddings": 16}),
    ("yarn, factor left implicit (derived: 256 / 32 = 8)", 32, 10000.0, 256, {"rope_type": "yarn", "original_max_position_embeddings": 32}),
    ("yarn, original_max_position_embeddings left implicit (= max_position_embeddings), truncate false", 32, 10000.0, 48, {"rope_type": "yarn", "factor": 3.0, "truncate": False}),
    ("llama3", 64, 500000.0, 131072, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
]
POSITIONS = [0, 1, 2, 5, 17, 40, 63, 100]


def f32(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def main():
    cases = []
    for name, dim, base, max_pos, scaling in CASES:
        inv_freq, af = inv_freq_and_attention_factor(dim, base, max_pos, scaling, max(POSITIONS) + 1)
        cos, sin = cos_sin(dim, base, max_pos, scaling, POSITIONS)
        half = dim // 2
        cases.append({
            "name": name, "dim": dim, "rope_theta": base, "max_position_embeddings": max_pos, "rope_scaling": scaling,
            "positions": POSITIONS, "inv_freq": f32(inv_freq), "attention_factor": af,
            "cos": f32(cos[:, :half]), "sin": f32(sin[:, :half]),
        })
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/rope_scaling.py",
        "reference": "torch re-implementation of transformers' modeling_rope_utils (not the transformers package)",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "cos/sin are [T, dim/2] float32 (row-major), already multiplied by attention_factor",
        "cases": cases,
    }
    with open("tests/fixtures/rope-scaling.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
