#!/usr/bin/python3
"""Model-family fixtures: GPT-2, LLaMA, Mistral and Qwen2 at tiny random configs.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/models.py

The Hugging Face `transformers` package cannot be installed here, so the reference is a faithful
torch re-implementation of transformers' modeling code (modeling_gpt2.py, modeling_llama.py,
modeling_mistral.py, modeling_qwen2.py), written below in plain functions:
- GPT-2: Conv1D weights stored [in, out] (y = x @ W + b); fused c_attn split into q, k, v;
  attention scores / sqrt(head_dim), causal mask; gelu_new (tanh); pre-LN blocks; ln_f; lm_head
  tied to wte.
- LLaMA: RMSNorm in float32, x * rsqrt(mean(x^2) + eps) * weight; RoPE with
  inv_freq = 1 / theta^(arange(0, d, 2) / d), cos/sin of cat(freqs, freqs), rotate_half;
  GQA by repeat_kv; SwiGLU MLP down(silu(gate(x)) * up(x)).
- Mistral: LLaMA + sliding-window causal mask (query i sees key j iff j <= i and i - j < W, as
  transformers' sliding_window_overlay).
- Qwen2: LLaMA + biases on q/k/v projections (not o_proj).
- llama-yarn, llama-dynamic: LLaMA with config.rope_scaling; cos/sin from rope_scaling.py (a
  re-implementation of transformers' modeling_rope_utils).

`/usr/bin/python3 scripts/reference/models.py NAME...` regenerates only the named models (the
seeds do not depend on which are chosen).

For each model it writes a Hugging Face style folder tests/fixtures/models-<name>/ (config.json
with some unknown keys, as real ones have, and model.safetensors -- sharded with an index for
llama) and tests/fixtures/models-<name>.json with the input ids, targets, logits, the mean
cross-entropy loss and the gradient of that loss w.r.t. every parameter (HF names).
"""
import json
import math
import os
import platform
import struct
from datetime import datetime, timezone

import sys

import numpy as np
import torch
import torch.nn.functional as F

from safetensors_io import write_safetensors

from rope_scaling import cos_sin as scaled_cos_sin

OUT = "tests/fixtures/"
B, T = 2, 8

# Dropout where transformers applies it; identity unless dropout.py switches training on (and
# replaces F.dropout by attn's mask generator): the fixtures written here are in eval mode.
TRAINING = False


def drop(x, p):
    return F.dropout(x, p, training=TRAINING)


# ---------------------------------------------------------------------------------------------
# GPT-2 (transformers/models/gpt2/modeling_gpt2.py)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(x, w, b):  # transformers.pytorch_utils.Conv1D: weight [nx, nf]
    return torch.addmm(b, x.view(-1, x.size(-1)), w).view(*x.shape[:-1], w.shape[1])


def gpt2_forward(p, cfg, ids):
    D, nh = cfg["n_embd"], cfg["n_head"]
    hd = D // nh
    bsz, t = ids.shape
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][torch.arange(t)]
    x = drop(x, cfg.get("embd_pdrop", 0.0))
    causal = torch.tril(torch.ones((t, t), dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        q_ = f"transformer.h.{i}."
        h = F.layer_norm(x, (D,), p[q_ + "ln_1.weight"], p[q_ + "ln_1.bias"], cfg["layer_norm_epsilon"])
        qkv = conv1d(h, p[q_ + "attn.c_attn.weight"], p[q_ + "attn.c_attn.bias"])
        q, k, v = qkv.split(D, dim=2)
        q, k, v = (z.view(bsz, t, nh, hd).transpose(1, 2) for z in (q, k, v))
        w = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], v.size(-1) ** 0.5)
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min))
        w = drop(F.softmax(w, dim=-1), cfg.get("attn_pdrop", 0.0))
        a = torch.matmul(w, v).transpose(1, 2).contiguous().view(bsz, t, D)
        x = x + drop(conv1d(a, p[q_ + "attn.c_proj.weight"], p[q_ + "attn.c_proj.bias"]), cfg.get("resid_pdrop", 0.0))
        h = F.layer_norm(x, (D,), p[q_ + "ln_2.weight"], p[q_ + "ln_2.bias"], cfg["layer_norm_epsilon"])
        m = gelu_new(conv1d(h, p[q_ + "mlp.c_fc.weight"], p[q_ + "mlp.c_fc.bias"]))
        x = x + drop(conv1d(m, p[q_ + "mlp.c_proj.weight"], p[q_ + "mlp.c_proj.bias"]), cfg.get("resid_pdrop", 0.0))
    x = F.layer_norm(x, (D,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], cfg["layer_norm_epsilon"])
    return x @ p["transformer.wte.weight"].t()  # lm_head tied to wte


def gpt2_params(cfg, g):
    D, V, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_layer"]
    inner = cfg.get("n_inner") or 4 * D
    r = lambda *s, std=0.2: torch.randn(s, generator=g) * std
    p = {"transformer.wte.weight": r(V, D, std=0.5), "transformer.wpe.weight": r(cfg["n_positions"], D, std=0.3)}
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
    p["transformer.ln_f.weight"] = 1 + r(D, std=0.1)
    p["transformer.ln_f.bias"] = r(D, std=0.1)
    return p


# ---------------------------------------------------------------------------------------------
# LLaMA / Mistral / Qwen2 (transformers/models/llama/modeling_llama.py and its variants)


def rms_norm(x, w, eps):  # LlamaRMSNorm
    dtype = x.dtype
    x32 = x.to(torch.float32)
    var = x32.pow(2).mean(-1, keepdim=True)
    return w * (x32 * torch.rsqrt(var + eps)).to(dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(hd, theta, t):  # LlamaRotaryEmbedding
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    pos = torch.arange(t).float()
    freqs = (inv_freq[:, None] @ pos[None, :]).transpose(0, 1)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def repeat_kv(x, n_rep):
    b, nkv, t, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, hd).reshape(b, nkv * n_rep, t, hd)


def llama_forward(p, cfg, ids, sliding_window=None):
    D, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim") or D // nh
    bsz, t = ids.shape
    eps = cfg["rms_norm_eps"]
    x = p["model.embed_tokens.weight"][ids]
    if cfg.get("rope_scaling"):
        cos, sin = scaled_cos_sin(hd, cfg.get("rope_theta", 10000.0), cfg["max_position_embeddings"], cfg["rope_scaling"], list(range(t)))
    else:
        cos, sin = rope_cos_sin(hd, cfg.get("rope_theta", 10000.0), t)
    i_ = torch.arange(t)[:, None]
    j_ = torch.arange(t)[None, :]
    allowed = j_ <= i_
    if sliding_window is not None:
        allowed = allowed & (j_ > i_ - sliding_window)
    mask = torch.zeros((t, t)).masked_fill(~allowed, torch.finfo(torch.float32).min)
    lin = lambda z, name: F.linear(z, p[name + ".weight"], p.get(name + ".bias"))
    for i in range(cfg["num_hidden_layers"]):
        q_ = f"model.layers.{i}."
        h = rms_norm(x, p[q_ + "input_layernorm.weight"], eps)
        q = lin(h, q_ + "self_attn.q_proj").view(bsz, t, nh, hd).transpose(1, 2)
        k = lin(h, q_ + "self_attn.k_proj").view(bsz, t, nkv, hd).transpose(1, 2)
        v = lin(h, q_ + "self_attn.v_proj").view(bsz, t, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd) + mask
        w = drop(F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype), cfg.get("attention_dropout", 0.0))
        a = torch.matmul(w, v).transpose(1, 2).reshape(bsz, t, nh * hd)
        x = x + lin(a, q_ + "self_attn.o_proj")
        h = rms_norm(x, p[q_ + "post_attention_layernorm.weight"], eps)
        x = x + lin(F.silu(lin(h, q_ + "mlp.gate_proj")) * lin(h, q_ + "mlp.up_proj"), q_ + "mlp.down_proj")
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else p["lm_head.weight"]
    return x @ head.t()


def llama_params(cfg, g, qkv_bias=False, all_bias=False):
    D, V, L, I = cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim") or D // nh
    r = lambda *s, std=0.2: torch.randn(s, generator=g) * std
    p = {"model.embed_tokens.weight": r(V, D, std=0.5)}
    for i in range(L):
        q_ = f"model.layers.{i}."
        p.update({
            q_ + "input_layernorm.weight": 1 + r(D, std=0.1),
            q_ + "self_attn.q_proj.weight": r(nh * hd, D), q_ + "self_attn.k_proj.weight": r(nkv * hd, D),
            q_ + "self_attn.v_proj.weight": r(nkv * hd, D), q_ + "self_attn.o_proj.weight": r(D, nh * hd),
            q_ + "post_attention_layernorm.weight": 1 + r(D, std=0.1),
            q_ + "mlp.gate_proj.weight": r(I, D), q_ + "mlp.up_proj.weight": r(I, D), q_ + "mlp.down_proj.weight": r(D, I),
        })
        if qkv_bias or all_bias:
            p[q_ + "self_attn.q_proj.bias"] = r(nh * hd, std=0.1)
            p[q_ + "self_attn.k_proj.bias"] = r(nkv * hd, std=0.1)
            p[q_ + "self_attn.v_proj.bias"] = r(nkv * hd, std=0.1)
        if all_bias:
            p[q_ + "self_attn.o_proj.bias"] = r(D, std=0.1)
    p["model.norm.weight"] = 1 + r(D, std=0.1)
    if not cfg.get("tie_word_embeddings"):
        p["lm_head.weight"] = r(V, D)
    return p


# ---------------------------------------------------------------------------------------------

UNKNOWN = {"architectures": ["X"], "torch_dtype": "float32", "transformers_version": "4.44.0", "_name_or_path": "tiny-random"}

MODELS = {
    "gpt2": dict(
        config={"model_type": "gpt2", "vocab_size": 64, "n_positions": 16, "n_embd": 32, "n_layer": 2, "n_head": 4,
                "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.1,
                "embd_pdrop": 0.1, "attn_pdrop": 0.1, "initializer_range": 0.02, "tie_word_embeddings": True},
        params=gpt2_params, forward=gpt2_forward, shards=1),
    "llama": dict(
        config={"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                "max_position_embeddings": 64, "hidden_act": "silu", "attention_bias": False, "tie_word_embeddings": False,
                "rope_scaling": None, "bos_token_id": 1, "eos_token_id": 2},
        params=llama_params, forward=llama_forward, shards=2),
    "llama-bias": dict(  # LLaMA with attention_bias: bias on q, k, v and o
        config={"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
                "num_attention_heads": 4, "num_key_value_heads": 4, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
                "hidden_act": "silu", "attention_bias": True, "tie_word_embeddings": True},
        params=lambda c, g: llama_params(c, g, all_bias=True), forward=llama_forward, shards=1),
    "mistral": dict(
        config={"model_type": "mistral", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                "num_attention_heads": 4, "num_key_value_heads": 1, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                "sliding_window": 3, "hidden_act": "silu", "tie_word_embeddings": False, "max_position_embeddings": 64},
        params=llama_params, forward=lambda p, c, ids: llama_forward(p, c, ids, sliding_window=c["sliding_window"]), shards=1),
    "qwen2": dict(
        config={"model_type": "qwen2", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                "hidden_act": "silu", "tie_word_embeddings": True, "use_sliding_window": False, "sliding_window": 4,
                "max_window_layers": 2},
        params=lambda c, g: llama_params(c, g, qkv_bias=True), forward=llama_forward, shards=1),
    "llama-yarn": dict(  # positions stay inside max_position_embeddings; yarn rescales inv_freq and cos/sin anyway
        config={"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                "num_attention_heads": 2, "num_key_value_heads": 1, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                "max_position_embeddings": 64, "hidden_act": "silu", "tie_word_embeddings": False,
                "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}},
        params=llama_params, forward=llama_forward, shards=1),
    "llama-dynamic": dict(  # T = 8 > max_position_embeddings = 4, so the NTK base scaling is active
        config={"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                "num_attention_heads": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "rope_theta": 100.0,
                "max_position_embeddings": 4, "hidden_act": "silu", "tie_word_embeddings": True,
                "rope_scaling": {"type": "dynamic", "factor": 3.0}},
        params=llama_params, forward=llama_forward, shards=1),
}


def f32(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def main(only):
    for seed, (name, m) in enumerate(MODELS.items()):
        if only and name not in only:
            continue
        cfg = m["config"]
        g = torch.Generator().manual_seed(100 + seed)
        params = {k: v.clone().requires_grad_(True) for k, v in m["params"](cfg, g).items()}
        ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=g)
        targets = torch.randint(0, cfg["vocab_size"], (B, T), generator=g)
        logits = m["forward"](params, cfg, ids)
        loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1))
        loss.backward()
        folder = OUT + f"models-{name}/"
        os.makedirs(folder, exist_ok=True)
        for f in os.listdir(folder):
            os.remove(folder + f)
        with open(folder + "config.json", "w") as f:
            json.dump({**UNKNOWN, **cfg}, f, indent=2)
        tensors = {k: v.detach() for k, v in params.items()}
        if m["shards"] == 1:
            write_safetensors(folder + "model.safetensors", tensors, {"format": "pt"})
        else:
            names = sorted(tensors)
            parts = [names[: len(names) // 2], names[len(names) // 2:]]
            weight_map = {}
            for s, part in enumerate(parts):
                fname = f"model-{s + 1:05d}-of-{len(parts):05d}.safetensors"
                write_safetensors(folder + fname, {k: tensors[k] for k in part}, {"format": "pt"})
                weight_map.update({k: fname for k in part})
            total = sum(t.numel() * 4 for t in tensors.values())
            with open(folder + "model.safetensors.index.json", "w") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        doc = {
            "format": "attn-fixture/1",
            "generator": "scripts/reference/models.py",
            "reference": f"torch re-implementation of transformers' modeling_{cfg['model_type']} (not the transformers package)",
            "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": f"{name}: float32, weights in tests/fixtures/models-{name}/, loss = mean cross-entropy over B*T tokens",
            "folder": f"models-{name}",
            "config": cfg,
            "input_ids": ids.tolist(),
            "targets": targets.tolist(),
            "logits_shape": list(logits.shape),
            "logits": f32(logits),
            "loss": float(loss),
            "grads": {k: f32(v.grad) for k, v in params.items()},
            "cases": [],
        }
        with open(OUT + f"models-{name}.json", "w") as f:
            json.dump(doc, f, separators=(",", ":"))
        print(name, "params", sum(v.numel() for v in params.values()), "loss", float(loss))


if __name__ == "__main__":
    main(sys.argv[1:])
