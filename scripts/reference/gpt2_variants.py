#!/usr/bin/python3
"""GPT-2 position and norm variants (attn's experiment configs): forward and loss gradient.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/gpt2_variants.py

transformers' GPT-2 has learned positions and pre-LayerNorm only; the variants are attn's config
fields `position_embedding_type` and `norm_position`. The reference is models.py's re-implementation
of modeling_gpt2 with each variant written the way its source defines it:
- sinusoidal: the original Transformer's table (transformer.py's `sinusoid`: PE[pos, 2i] =
  sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...), in float64 then float32) added to the token
  embeddings, unscaled;
- rope: LlamaRotaryEmbedding's cos/sin (models.py `rope_cos_sin`, base rope_theta) applied with
  rotate_half to q and k after the c_attn split;
- alibi: BLOOM's build_alibi_tensor slopes (alibi.py `bloom_slopes`) and BLOOM's bias form,
  slope_h * j added to the scores (attn adds slope_h * (j - i); softmax cancels the difference);
- none: token embeddings only, causal attention alone;
- post-norm: x = ln_1(x + attn(x)); x = ln_2(x + mlp(x)); no ln_f (Xiong et al. 2020's Post-LN).
Every non-learned variant runs on T = 12 > n_positions = 8 (no position table limits them). Three
heads, so the ALiBi slopes include BLOOM's non-power-of-two extension.

Writes tests/fixtures/models-gpt2-<variant>/ (config.json + model.safetensors) and
tests/fixtures/gpt2-variants.json: per variant the ids, targets, logits, mean cross-entropy loss and
the gradient of the loss w.r.t. every parameter (7 significant digits).
"""
import json
import math
import os
import platform
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

from alibi import bloom_slopes
from models import conv1d, gelu_new, rope_cos_sin, rotate_half
from safetensors_io import write_safetensors
from transformer import sinusoid

OUT = "tests/fixtures/"
B = 2

BASE = {"model_type": "gpt2", "vocab_size": 48, "n_positions": 8, "n_embd": 24, "n_layer": 2, "n_head": 3, "n_inner": 48,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "resid_pdrop": 0.1,
        "initializer_range": 0.02, "tie_word_embeddings": True}
VARIANTS = {
    "sinusoidal": ({"position_embedding_type": "sinusoidal"}, 12),
    "rope": ({"position_embedding_type": "rope", "rope_theta": 500.0}, 12),
    "alibi": ({"position_embedding_type": "alibi"}, 12),
    "none": ({"position_embedding_type": "none"}, 12),
    "post": ({"norm_position": "post"}, 8),
    "alibi-post": ({"position_embedding_type": "alibi", "norm_position": "post"}, 12),
}


def forward(p, cfg, ids):
    D, nh = cfg["n_embd"], cfg["n_head"]
    hd = D // nh
    kind = cfg.get("position_embedding_type", "learned")
    post = cfg.get("norm_position", "pre") == "post"
    eps = cfg["layer_norm_epsilon"]
    bsz, t = ids.shape
    x = p["transformer.wte.weight"][ids]
    if kind == "learned":
        x = x + p["transformer.wpe.weight"][torch.arange(t)]
    elif kind == "sinusoidal":
        x = x + sinusoid(t, D)
    mask = torch.where(torch.tril(torch.ones((t, t), dtype=torch.bool)), 0.0, torch.finfo(torch.float32).min)
    if kind == "alibi":
        mask = mask + bloom_slopes(nh)[:, None, None] * torch.arange(t).float()[None, None, :]  # [nh, T, T]
    if kind == "rope":
        cos, sin = rope_cos_sin(hd, cfg["rope_theta"], t)
    ln = lambda z, name: F.layer_norm(z, (D,), p[name + ".weight"], p[name + ".bias"], eps)

    def attn(h, q_):
        q, k, v = conv1d(h, p[q_ + "attn.c_attn.weight"], p[q_ + "attn.c_attn.bias"]).split(D, dim=2)
        q, k, v = (z.view(bsz, t, nh, hd).transpose(1, 2) for z in (q, k, v))
        if kind == "rope":
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        w = F.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + mask, dim=-1)
        a = torch.matmul(w, v).transpose(1, 2).contiguous().view(bsz, t, D)
        return conv1d(a, p[q_ + "attn.c_proj.weight"], p[q_ + "attn.c_proj.bias"])

    def mlp(h, q_):
        m = gelu_new(conv1d(h, p[q_ + "mlp.c_fc.weight"], p[q_ + "mlp.c_fc.bias"]))
        return conv1d(m, p[q_ + "mlp.c_proj.weight"], p[q_ + "mlp.c_proj.bias"])

    for i in range(cfg["n_layer"]):
        q_ = f"transformer.h.{i}."
        if post:
            x = ln(x + attn(x, q_), q_ + "ln_1")
            x = ln(x + mlp(x, q_), q_ + "ln_2")
        else:
            x = x + attn(ln(x, q_ + "ln_1"), q_)
            x = x + mlp(ln(x, q_ + "ln_2"), q_)
    if not post:
        x = ln(x, "transformer.ln_f")
    return x @ p["transformer.wte.weight"].t()


def params(cfg, g):
    D, V, L, inner = cfg["n_embd"], cfg["vocab_size"], cfg["n_layer"], cfg["n_inner"]
    r = lambda *s, std=0.2: torch.randn(s, generator=g) * std
    p = {"transformer.wte.weight": r(V, D, std=0.5)}
    if cfg.get("position_embedding_type", "learned") == "learned":
        p["transformer.wpe.weight"] = r(cfg["n_positions"], D, std=0.3)
    for i in range(L):
        q_ = f"transformer.h.{i}."
        p.update({
            q_ + "ln_1.weight": 1 + r(D, std=0.1), q_ + "ln_1.bias": r(D, std=0.1),
            q_ + "attn.c_attn.weight": r(D, 3 * D), q_ + "attn.c_attn.bias": r(3 * D, std=0.1),
            q_ + "attn.c_proj.weight": r(D, D), q_ + "attn.c_proj.bias": r(D, std=0.1),
            q_ + "ln_2.weight": 1 + r(D, std=0.1), q_ + "ln_2.bias": r(D, std=0.1),
            q_ + "mlp.c_fc.weight": r(D, inner), q_ + "mlp.c_fc.bias": r(inner, std=0.1),
            q_ + "mlp.c_proj.weight": r(inner, D), q_ + "mlp.c_proj.bias": r(D, std=0.1),
        })
    if cfg.get("norm_position", "pre") == "pre":
        p["transformer.ln_f.weight"] = 1 + r(D, std=0.1)
        p["transformer.ln_f.bias"] = r(D, std=0.1)
    return p


def f32(t):
    return [float("%.7g" % np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def main():
    cases = []
    for seed, (name, (extra, t)) in enumerate(VARIANTS.items()):
        cfg = {**BASE, **extra}
        g = torch.Generator().manual_seed(900 + seed)
        p = {k: v.clone().requires_grad_(True) for k, v in params(cfg, g).items()}
        ids = torch.randint(0, cfg["vocab_size"], (B, t), generator=g)
        targets = torch.randint(0, cfg["vocab_size"], (B, t), generator=g)
        logits = forward(p, cfg, ids)
        loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1))
        loss.backward()
        folder = f"models-gpt2-{name}"
        os.makedirs(OUT + folder, exist_ok=True)
        for f in os.listdir(OUT + folder):
            os.remove(OUT + folder + "/" + f)
        with open(OUT + folder + "/config.json", "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(OUT + folder + "/model.safetensors", {k: v.detach() for k, v in p.items()}, {"format": "pt"})
        cases.append({"name": name, "folder": folder, "config": cfg, "input_ids": ids.tolist(), "targets": targets.tolist(),
                      "logits_shape": list(logits.shape), "logits": f32(logits), "loss": float(loss),
                      "grads": {k: f32(v.grad) for k, v in p.items()}})
        print(name, "T", t, "params", sum(v.numel() for v in p.values()), "loss", float(loss))
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/gpt2_variants.py",
        "reference": "models.py's torch re-implementation of transformers' modeling_gpt2 with sinusoidal (the original "
                     "Transformer's table), RoPE (LlamaRotaryEmbedding), ALiBi (BLOOM's slopes and bias), no positions, "
                     "and post-LayerNorm blocks",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "float32 to 7 significant digits; n_positions 8, sequences of 12 except learned positions (8); "
                "loss = mean cross-entropy over B*T tokens",
        "cases": cases,
    }
    with open(OUT + "gpt2-variants.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
