#!/usr/bin/python3
"""ALiBi fixtures: slopes as BLOOM's build_alibi_tensor, and attention with the ALiBi bias.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/alibi.py

`bloom_slopes` is transformers' modeling_bloom.build_alibi_tensor's slope computation verbatim
(float32 torch.pow); `attention` is softmax(q k^T / sqrt(d) + bias + causal mask) v with
bias[h, i, j] = slope_h * (j - i) (BLOOM adds slope_h * j, the same up to a per-row constant that
softmax cancels; the fixture also checks that). Writes tests/fixtures/alibi.json.
"""
import json
import math
import platform
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F


def bloom_slopes(num_heads):
    closest_power_of_2 = 2 ** math.floor(math.log2(num_heads))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(closest_power_of_2) - 3))), dtype=torch.float32)
    powers = torch.arange(1, 1 + closest_power_of_2, dtype=torch.int32)
    slopes = torch.pow(base, powers)
    if closest_power_of_2 != num_heads:
        extra_base = torch.tensor(2 ** (-(2 ** -(math.log2(2 * closest_power_of_2) - 3))), dtype=torch.float32)
        num_remaining_heads = min(closest_power_of_2, num_heads - closest_power_of_2)
        extra_powers = torch.arange(1, 1 + 2 * num_remaining_heads, 2, dtype=torch.int32)
        slopes = torch.cat([slopes, torch.pow(extra_base, extra_powers)], dim=0)
    return slopes


def attention(q, k, v, slopes):
    tq, tk = q.shape[-2], k.shape[-2]
    pos = torch.arange(tq)[:, None] + (tk - tq)
    j = torch.arange(tk)[None, :]
    bias = slopes[:, None, None] * (j - pos).float()  # [H, Tq, Tk]
    bloom_bias = slopes[:, None, None] * j.float()  # BLOOM's form
    causal = torch.where(j <= pos, 0.0, float("-inf"))
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + causal
    out = F.softmax(s + bias, dim=-1) @ v
    out_bloom = F.softmax(s + bloom_bias, dim=-1) @ v
    assert torch.allclose(out, out_bloom, atol=1e-6), "BLOOM's bias and the relative bias must agree"
    return out


def f32(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def main():
    g = torch.Generator().manual_seed(7)
    slopes = {n: f32(bloom_slopes(n)) for n in [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 40, 64, 96, 112]}
    cases = []
    for (b, h, tq, tk, d) in [(2, 4, 5, 5, 8), (1, 6, 3, 7, 4)]:
        q = torch.randn(b, h, tq, d, generator=g)
        k = torch.randn(b, h, tk, d, generator=g)
        v = torch.randn(b, h, tk, d, generator=g)
        out = attention(q, k, v, bloom_slopes(h))
        cases.append({"shape": [b, h, tq, tk, d], "q": f32(q), "k": f32(k), "v": f32(v), "out": f32(out)})
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/alibi.py",
        "reference": "transformers' modeling_bloom.build_alibi_tensor slopes (verbatim), causal attention with the ALiBi bias in torch",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "slopes: {num_heads: float32 slopes}; cases: q/k/v [B, H, Tq|Tk, D] and out [B, H, Tq, D], queries aligned to the end of the keys",
        "slopes": slopes,
        "cases": cases,
    }
    with open("tests/fixtures/alibi.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(len(slopes), "slope sets,", len(cases), "attention cases")


if __name__ == "__main__":
    main()
