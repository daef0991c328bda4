#!/usr/bin/python3
"""Reference fixtures for attn's ops, computed by PyTorch.

Run with Debian's interpreter (it has python3-torch):  /usr/bin/python3 scripts/reference/ops.py
Writes tests/fixtures/ops.json. For every case: the inputs, the op's arguments, the outputs,
a random upstream gradient per output, and the gradient of sum(output * upstream) with respect
to every float input. All tensors are float32 (int32 for ids, bool for masks), computed by
torch on the CPU. The JS test (tests/ops/torch-fixtures.test.ts) maps each case name to
attn's op and compares with explicit tolerances.
"""
import json
import math
import platform
import sys
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

FORMAT = "attn-fixture/1"
SEED = 1234

gen = torch.Generator().manual_seed(SEED)


def randn(*shape):
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float32)


def pos(*shape):
    return torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 + 0.1


def ints(high, *shape):
    return torch.randint(0, high, shape, generator=gen, dtype=torch.int32)


def mask(*shape):
    return torch.rand(*shape, generator=gen) > 0.5


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def attention(q, k, v, causal, window=0, mask=None):
    """softmax(q k^T / sqrt(d) + masks) v with GQA by repeat_interleave of KV heads (as
    transformers' repeat_kv); query row i sits at position i + (Tk - Tq)."""
    group = q.shape[-3] // k.shape[-3]
    k = k.repeat_interleave(group, dim=-3)
    v = v.repeat_interleave(group, dim=-3)
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    tq, tk = s.shape[-2], s.shape[-1]
    pos = torch.arange(tq).unsqueeze(1) + (tk - tq)
    key = torch.arange(tk).unsqueeze(0)
    allowed = torch.ones(tq, tk, dtype=torch.bool)
    if causal:
        allowed &= key <= pos
    if window:
        allowed &= (pos - key) < window
        if not causal:
            allowed &= (key - pos) < window
    s = s.masked_fill(~allowed, float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, -1) @ v


CASES = []


def case(name, fn, inputs, args=None):
    CASES.append((name, fn, inputs, args or {}))


# ---- elementwise unary ----
case("neg", lambda x: -x, [randn(3, 4)])
case("exp", torch.exp, [randn(3, 4)])
case("log", torch.log, [pos(3, 4)])
case("sqrt", torch.sqrt, [pos(3, 4)])
case("rsqrt", torch.rsqrt, [pos(3, 4)])
case("abs", torch.abs, [randn(3, 4)])
case("tanh", torch.tanh, [randn(3, 4)])
case("sigmoid", torch.sigmoid, [randn(3, 4) * 4])
case("relu", torch.relu, [randn(3, 4)])
case("gelu", F.gelu, [randn(3, 4) * 2])
case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [randn(3, 4) * 2])
case("silu", F.silu, [randn(3, 4) * 2])
case("erf", torch.erf, [randn(3, 4)])
case("sin", torch.sin, [randn(3, 4)])
case("cos", torch.cos, [randn(3, 4)])
case("clamp", lambda x: torch.clamp(x, -0.5, 0.7), [randn(4, 5)], {"min": -0.5, "max": 0.7})
case("square", torch.square, [randn(3, 4)])

# ---- elementwise binary (with broadcasting) ----
case("add", torch.add, [randn(2, 3, 4), randn(3, 1)])
case("sub", torch.sub, [randn(2, 3, 4), randn(4)])
case("mul", torch.mul, [randn(2, 1, 4), randn(3, 1)])
case("div", torch.div, [randn(3, 4), pos(4)])
case("pow", torch.pow, [pos(3, 4), randn(3, 4)])
case("pow_scalar", lambda x: torch.pow(x, 3), [randn(3, 4)], {"exponent": 3})
case("maximum", torch.maximum, [randn(3, 4), randn(4)])
case("minimum", torch.minimum, [randn(3, 4), randn(3, 1)])
case("add_scalar", lambda x: x + 2.5, [randn(3, 4)], {"scalar": 2.5})
case("rsub_scalar", lambda x: 1.5 - x, [randn(3, 4)], {"scalar": 1.5})
case("div_scalar", lambda x: x / 4.0, [randn(3, 4)], {"scalar": 4.0})

# ---- selection ----
case("where", torch.where, [mask(3, 4), randn(3, 4), randn(4)])
case("masked_fill", lambda x, m: x.masked_fill(m, -2.0), [randn(3, 4), mask(3, 4)], {"value": -2.0})

# ---- reductions ----
case("sum_all", torch.sum, [randn(3, 4)])
case("sum_dim", lambda x: x.sum(1), [randn(3, 4, 5)], {"dim": 1})
case("sum_dims_keepdim", lambda x: x.sum((0, 2), keepdim=True), [randn(3, 4, 5)], {"dims": [0, 2]})
case("mean", lambda x: x.mean(-1), [randn(3, 4, 5)], {"dim": -1})
case("mean_all", torch.mean, [randn(3, 4)])
case("var", lambda x: x.var(1), [randn(3, 6)], {"dim": 1})
case("var_biased", lambda x: x.var(1, unbiased=False), [randn(3, 6)], {"dim": 1})
case("max_dim", lambda x: x.max(1).values, [randn(3, 5)], {"dim": 1})
case("min_dim", lambda x: x.min(0).values, [randn(3, 5)], {"dim": 0})
case("max_all", torch.max, [randn(3, 5)])
case("logsumexp", lambda x: torch.logsumexp(x, -1), [randn(3, 5) * 3], {"dim": -1})
case("argmax", lambda x: x.argmax(1).to(torch.int32), [randn(4, 6)], {"dim": 1})
case("argmin", lambda x: x.argmin(0).to(torch.int32), [randn(4, 6)], {"dim": 0})

# ---- products ----
case("matmul", torch.matmul, [randn(3, 4), randn(4, 5)])
case("matmul_batched", torch.matmul, [randn(2, 1, 3, 4), randn(3, 4, 5)])
case("matmul_transposed", lambda a, b: a @ b.t(), [randn(3, 6), randn(5, 6)])
case("matvec", torch.matmul, [randn(3, 4), randn(4)])
case("vecmat", torch.matmul, [randn(4), randn(4, 5)])
case("dot", torch.matmul, [randn(7), randn(7)])

# ---- views and structure ----
case("reshape", lambda x: x.reshape(4, 6) * 1.0, [randn(2, 3, 4)], {"shape": [4, 6]})
case("permute", lambda x: x.permute(2, 0, 1) * 1.0, [randn(2, 3, 4)], {"dims": [2, 0, 1]})
case("transpose_matmul", lambda x, y: x.transpose(0, 1) @ y, [randn(4, 3), randn(4, 2)])
case("expand", lambda x: x.expand(3, 4, 5) * 1.0, [randn(4, 1)], {"shape": [3, 4, 5]})
case("slice", lambda x: x[:, 1:4] * 1.0, [randn(3, 6)], {"dim": 1, "start": 1, "end": 4})
case("unsqueeze_squeeze", lambda x: x.unsqueeze(1).squeeze(1) * 1.0, [randn(3, 4)])
case("flatten", lambda x: torch.flatten(x, 1) * 1.0, [randn(2, 3, 4)], {"start": 1})
case("concat", lambda a, b: torch.cat([a, b], 1), [randn(2, 3), randn(2, 2)], {"dim": 1})
case("stack", lambda a, b: torch.stack([a, b], 1), [randn(2, 3), randn(2, 3)], {"dim": 1})
case("split", lambda x: torch.split(x, [2, 3], 1), [randn(3, 5)], {"sizes": [2, 3], "dim": 1})
case("pad", lambda x: F.pad(x, (1, 2)), [randn(3, 4)], {"dim": 1, "before": 1, "after": 2})

# ---- indexing ----
case("gather", lambda x, i: torch.gather(x, 1, i.long()), [randn(3, 5), ints(5, 3, 4)], {"dim": 1})
case("scatter_add", lambda x, i, s: x.scatter_add(0, i.long(), s), [randn(4, 3), ints(4, 2, 3), randn(2, 3)], {"dim": 0})
case("index_select", lambda x, i: torch.index_select(x, 0, i.long()), [randn(5, 3), torch.tensor([4, 0, 4, 2], dtype=torch.int32)], {"dim": 0})
case("index_add", lambda x, i, s: x.index_add(1, i.long(), s), [randn(3, 4), torch.tensor([1, 3, 1], dtype=torch.int32), randn(3, 3)], {"dim": 1})
case("embedding", lambda w, i: F.embedding(i.long(), w), [randn(7, 4), ints(7, 2, 3)])

# ---- softmax family ----
case("softmax", lambda x: torch.softmax(x, -1), [randn(3, 5) * 2], {"dim": -1})
case("softmax_dim0", lambda x: torch.softmax(x, 0), [randn(3, 5) * 2], {"dim": 0})
case("log_softmax", lambda x: torch.log_softmax(x, -1), [randn(3, 5) * 2], {"dim": -1})
_masked = randn(3, 5)
_masked[0, 1] = float("-inf")
_masked[2, 0] = float("-inf")
_masked[2, 4] = float("-inf")
case("softmax_neg_inf", lambda x: torch.softmax(x, -1), [_masked], {"dim": -1})

# ---- normalisation ----
case("layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b, 1e-5), [randn(2, 3, 6), randn(6), randn(6)], {"eps": 1e-5})
case("layer_norm_plain", lambda x: F.layer_norm(x, (6,), eps=1e-5), [randn(4, 6)], {"eps": 1e-5})
case("rms_norm", lambda x, w: rms_norm(x, w, 1e-6), [randn(2, 3, 6), randn(6)], {"eps": 1e-6})

# ---- losses ----
_logits = randn(6, 5) * 2
_targets = torch.tensor([0, 4, 2, -100, 1, 3], dtype=torch.int32)
case("cross_entropy", lambda x, t: F.cross_entropy(x, t.long()), [randn(6, 5) * 2, ints(5, 6)])
case("cross_entropy_sum", lambda x, t: F.cross_entropy(x, t.long(), reduction="sum"), [randn(6, 5), ints(5, 6)], {"reduction": "sum"})
case("cross_entropy_none", lambda x, t: F.cross_entropy(x, t.long(), reduction="none"), [randn(6, 5), ints(5, 6)], {"reduction": "none"})
case("cross_entropy_ignore", lambda x, t: F.cross_entropy(x, t.long(), ignore_index=-100), [_logits, _targets], {"ignoreIndex": -100})
case("cross_entropy_smoothing", lambda x, t: F.cross_entropy(x, t.long(), label_smoothing=0.1), [randn(6, 5) * 2, ints(5, 6)], {"labelSmoothing": 0.1})
case("cross_entropy_smoothing_ignore", lambda x, t: F.cross_entropy(x, t.long(), ignore_index=-100, label_smoothing=0.2), [_logits.clone(), _targets.clone()], {"labelSmoothing": 0.2, "ignoreIndex": -100})
case("cross_entropy_3d", lambda x, t: F.cross_entropy(x.reshape(-1, 7), t.reshape(-1).long()), [randn(2, 3, 7), ints(7, 2, 3)])

# ---- attention ----
case("attention", lambda q, k, v: attention(q, k, v, False), [randn(2, 2, 4, 8), randn(2, 2, 6, 8), randn(2, 2, 6, 8)])
case("attention_causal", lambda q, k, v: attention(q, k, v, True), [randn(1, 2, 5, 4), randn(1, 2, 5, 4), randn(1, 2, 5, 4)], {"causal": True})
case("attention_gqa", lambda q, k, v: attention(q, k, v, True), [randn(2, 4, 6, 8), randn(2, 2, 6, 8), randn(2, 2, 6, 8)], {"causal": True})
case("attention_mqa_decode", lambda q, k, v: attention(q, k, v, True), [randn(1, 4, 2, 8), randn(1, 1, 9, 8), randn(1, 1, 9, 8)], {"causal": True})
case("attention_sliding_window", lambda q, k, v: attention(q, k, v, True, window=3), [randn(1, 2, 7, 4), randn(1, 2, 7, 4), randn(1, 2, 7, 4)], {"causal": True, "window": 3})
case("attention_local_bidirectional", lambda q, k, v: attention(q, k, v, False, window=2), [randn(1, 1, 6, 4), randn(1, 1, 6, 4), randn(1, 1, 6, 4)], {"window": 2})
_pad = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]]).reshape(2, 1, 1, 5)
case("attention_padding_mask", lambda q, k, v, m: attention(q, k, v, False, mask=m), [randn(2, 2, 5, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 6), _pad])
case("swiglu", lambda g, u: F.silu(g) * u, [randn(3, 8) * 2, randn(3, 8)])


def encode(t):
    dtype = {torch.float32: "float32", torch.int32: "int32", torch.bool: "bool"}[t.dtype]
    data = t.detach().reshape(-1).tolist()
    if dtype == "bool":
        data = [int(v) for v in data]
    # JSON has no infinities: encode them as strings
    data = [("inf" if v > 0 else "-inf") if isinstance(v, float) and math.isinf(v) else v for v in data]
    return {"shape": list(t.shape), "dtype": dtype, "data": data}


def run_case(name, fn, inputs, args):
    leaves = []
    for t in inputs:
        t = t.clone()
        if t.dtype == torch.float32:
            t.requires_grad_(True)
        leaves.append(t)
    out = fn(*leaves)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    ups = [randn(*o.shape) if o.dtype == torch.float32 else None for o in outs]
    grads = [None] * len(leaves)
    if any(u is not None and o.requires_grad for o, u in zip(outs, ups)):
        loss = sum((o * u).sum() for o, u in zip(outs, ups) if u is not None and o.requires_grad)
        loss.backward()
        grads = [encode(t.grad) if t.grad is not None else None for t in leaves]
    return {
        "name": name,
        "args": args,
        "inputs": [encode(t) for t in inputs],
        "outputs": [encode(o) for o in outs],
        "upstreams": [encode(u) if u is not None else None for u in ups],
        "grads": grads,
    }


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/ops.json"
    doc = {
        "format": FORMAT,
        "generator": "scripts/reference/ops.py",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": SEED,
        "note": "float32 CPU results; grads are d(sum(output * upstream))/d(input)",
        "cases": [run_case(*c) for c in CASES],
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"wrote {len(doc['cases'])} cases to {out_path}")


if __name__ == "__main__":
    main()
