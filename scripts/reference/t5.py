#!/usr/bin/python3
"""T5 (Raffel et al. 2020, arXiv:1910.10683) v1.0 and v1.1 fixtures.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/t5.py

transformers cannot be installed here, so the reference is a faithful torch re-implementation of
transformers' `models/t5/modeling_t5.py` (T5LayerNorm, T5DenseActDense, T5DenseGatedActDense,
T5Attention with `_relative_position_bucket` / `compute_bias`, T5Block, T5Stack,
T5ForConditionalGeneration), written line for line from that file with the same module and
parameter names, so the state dict has HF's tensor names (`encoder.block.0.layer.0.SelfAttention.q.weight`).
Dropout is 0 (the model is in eval mode); no KV cache, no fp16 clamping (float32 only).

Two tiny random configs:
  v1.0: feed_forward_proj "relu", tie_word_embeddings true (logits = (h * d_model^-0.5) @ shared^T);
        the safetensors file holds torch's full state dict, tied duplicates included
        (encoder.embed_tokens.weight, decoder.embed_tokens.weight, lm_head.weight), as pytorch_model.bin.
  v1.1: feed_forward_proj "gated-gelu" (gelu_new, the tanh form), tie_word_embeddings false (lm_head),
        num_decoder_layers != num_layers; the safetensors file drops the embed_tokens duplicates, as
        save_pretrained does.
The encoder input has padding (attention_mask 0), which also masks the cross-attention keys.

Writes tests/fixtures/models-t5{,-v1_1}/ (config.json + model.safetensors), and
tests/fixtures/models-t5.json with, per config: ids, attention mask, logits, mean cross-entropy
over the labels and the gradient of that loss w.r.t. every parameter; plus `buckets`: the exact
values of _relative_position_bucket for relative positions -300..300 under several settings.
"""
import json
import math
import os
import platform
import struct
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import write_safetensors

OUT = "tests/fixtures/"
B, S, T = 2, 9, 7

BASE = {"vocab_size": 40, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2, "num_heads": 4,
        "relative_attention_num_buckets": 8, "relative_attention_max_distance": 20, "layer_norm_epsilon": 1e-6,
        "decoder_start_token_id": 0, "pad_token_id": 0, "eos_token_id": 1, "dropout_rate": 0.0,
        "is_encoder_decoder": True}
CONFIGS = {
    "models-t5": {**BASE, "feed_forward_proj": "relu", "tie_word_embeddings": True, "num_decoder_layers": 2},
    "models-t5-v1_1": {**BASE, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False, "num_decoder_layers": 3},
}




# ---- modeling_t5.py, re-implemented -------------------------------------------------------------

def gelu_new(x):  # transformers.activations.NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT2FN = {"relu": F.relu, "gelu_new": gelu_new, "gelu": F.gelu}


class T5LayerNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states


class T5DenseActDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)
        self.act = ACT2FN[c["dense_act_fn"]]

        self.dropout = nn.Dropout(c["dropout_rate"])

    def forward(self, h):
        return self.wo(self.dropout(self.act(self.wi(h))))


class T5DenseGatedActDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi_0 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wi_1 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)
        self.act = ACT2FN[c["dense_act_fn"]]

        self.dropout = nn.Dropout(c["dropout_rate"])

    def forward(self, h):
        return self.wo(self.dropout(self.act(self.wi_0(h)) * self.wi_1(h)))


class T5LayerFF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.DenseReluDense = T5DenseGatedActDense(c) if c["is_gated_act"] else T5DenseActDense(c)
        self.layer_norm = T5LayerNorm(c["d_model"], eps=c["layer_norm_epsilon"])
        self.dropout = nn.Dropout(c["dropout_rate"])

    def forward(self, h):
        return h + self.dropout(self.DenseReluDense(self.layer_norm(h)))


class T5Attention(nn.Module):
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.is_decoder = is_decoder
        self.has_relative_attention_bias = has_relative_attention_bias
        self.num_buckets = c["relative_attention_num_buckets"]
        self.max_distance = c["relative_attention_max_distance"]
        self.n_heads, self.d_kv = c["num_heads"], c["d_kv"]
        inner = self.n_heads * self.d_kv
        self.q = nn.Linear(c["d_model"], inner, bias=False)
        self.k = nn.Linear(c["d_model"], inner, bias=False)
        self.v = nn.Linear(c["d_model"], inner, bias=False)
        self.o = nn.Linear(inner, c["d_model"], bias=False)
        self.dropout = c["dropout_rate"]
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, self.n_heads)

    @staticmethod
    def _relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
        relative_buckets = 0
        if bidirectional:
            num_buckets //= 2
            relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
            relative_position = torch.abs(relative_position)
        else:
            relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
        max_exact = num_buckets // 2
        is_small = relative_position < max_exact
        relative_position_if_large = max_exact + (
            torch.log(relative_position.float() / max_exact)
            / math.log(max_distance / max_exact)
            * (num_buckets - max_exact)
        ).to(torch.long)
        relative_position_if_large = torch.min(
            relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1))
        relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
        return relative_buckets

    def compute_bias(self, query_length, key_length):
        context_position = torch.arange(query_length, dtype=torch.long)[:, None]
        memory_position = torch.arange(key_length, dtype=torch.long)[None, :]
        relative_position = memory_position - context_position  # (query_length, key_length)
        bucket = self._relative_position_bucket(relative_position, bidirectional=(not self.is_decoder),
                                                num_buckets=self.num_buckets, max_distance=self.max_distance)
        values = self.relative_attention_bias(bucket)  # (query_length, key_length, n_heads)
        return values.permute([2, 0, 1]).unsqueeze(0)  # (1, n_heads, query_length, key_length)

    def forward(self, hidden_states, mask=None, key_value_states=None, position_bias=None):
        bsz, qlen = hidden_states.shape[:2]
        kv = hidden_states if key_value_states is None else key_value_states
        klen = kv.shape[1]

        def shape(x):
            return x.view(bsz, -1, self.n_heads, self.d_kv).transpose(1, 2)

        q, k, v = shape(self.q(hidden_states)), shape(self.k(kv)), shape(self.v(kv))
        scores = torch.matmul(q, k.transpose(3, 2))  # no 1/sqrt(d_kv): folded into the init
        if position_bias is None:
            if not self.has_relative_attention_bias:
                position_bias = torch.zeros((1, self.n_heads, qlen, klen), dtype=scores.dtype)
            else:
                position_bias = self.compute_bias(qlen, klen)
            if mask is not None:
                position_bias = position_bias + mask  # (batch_size, n_heads, seq_length, key_length)
        scores = scores + position_bias
        attn_weights = F.softmax(scores.float(), dim=-1).type_as(scores)
        attn_weights = F.dropout(attn_weights, p=self.dropout, training=self.training)
        out = torch.matmul(attn_weights, v).transpose(1, 2).contiguous().view(bsz, -1, self.n_heads * self.d_kv)
        return self.o(out), position_bias


class T5LayerSelfAttention(nn.Module):
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.SelfAttention = T5Attention(c, is_decoder, has_relative_attention_bias)
        self.layer_norm = T5LayerNorm(c["d_model"], eps=c["layer_norm_epsilon"])
        self.dropout = nn.Dropout(c["dropout_rate"])

    def forward(self, h, mask, position_bias):
        out, position_bias = self.SelfAttention(self.layer_norm(h), mask=mask, position_bias=position_bias)
        return h + self.dropout(out), position_bias


class T5LayerCrossAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.EncDecAttention = T5Attention(c, True, has_relative_attention_bias=False)
        self.layer_norm = T5LayerNorm(c["d_model"], eps=c["layer_norm_epsilon"])
        self.dropout = nn.Dropout(c["dropout_rate"])

    def forward(self, h, kv, mask, position_bias):
        out, position_bias = self.EncDecAttention(self.layer_norm(h), mask=mask, key_value_states=kv, position_bias=position_bias)
        return h + self.dropout(out), position_bias


class T5Block(nn.Module):
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.is_decoder = is_decoder
        self.layer = nn.ModuleList([T5LayerSelfAttention(c, is_decoder, has_relative_attention_bias)])
        if is_decoder:
            self.layer.append(T5LayerCrossAttention(c))
        self.layer.append(T5LayerFF(c))

    def forward(self, h, mask, position_bias, enc_h=None, enc_mask=None, enc_dec_position_bias=None):
        h, position_bias = self.layer[0](h, mask, position_bias)
        if self.is_decoder:
            h, enc_dec_position_bias = self.layer[1](h, enc_h, enc_mask, enc_dec_position_bias)
        return self.layer[-1](h), position_bias, enc_dec_position_bias


class T5Stack(nn.Module):
    def __init__(self, c, embed_tokens, is_decoder):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.is_decoder = is_decoder
        n = c["num_decoder_layers"] if is_decoder else c["num_layers"]
        self.block = nn.ModuleList([T5Block(c, is_decoder, has_relative_attention_bias=(i == 0)) for i in range(n)])
        self.final_layer_norm = T5LayerNorm(c["d_model"], eps=c["layer_norm_epsilon"])
        self.dropout = nn.Dropout(c["dropout_rate"])

    def forward(self, input_ids, attention_mask, enc_h=None, enc_attention_mask=None):
        h = self.embed_tokens(input_ids)
        bsz, t = input_ids.shape
        h = self.dropout(h)
        # ModuleUtilsMixin.get_extended_attention_mask: causal for the decoder, (1 - mask) * finfo.min
        ext = attention_mask[:, None, None, :].to(h.dtype)
        if self.is_decoder:
            causal = torch.tril(torch.ones(t, t, dtype=h.dtype))
            ext = causal[None, None, :, :] * ext
        ext = (1.0 - ext) * torch.finfo(h.dtype).min
        enc_ext = None
        if enc_h is not None:
            enc_ext = (1.0 - enc_attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        position_bias = enc_dec_position_bias = None
        for blk in self.block:  # later blocks reuse the first block's bias (mask already added)
            h, position_bias, enc_dec_position_bias = blk(h, ext, position_bias, enc_h, enc_ext, enc_dec_position_bias)
        return self.dropout(self.final_layer_norm(h))


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model_dim = c["d_model"]
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = T5Stack(c, self.shared, is_decoder=False)
        self.decoder = T5Stack(c, self.shared, is_decoder=True)
        self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)
        if c["tie_word_embeddings"]:
            self.lm_head.weight = self.shared.weight

    def forward(self, input_ids, attention_mask, decoder_input_ids):
        enc = self.encoder(input_ids, attention_mask)
        dec = self.decoder(decoder_input_ids, torch.ones_like(decoder_input_ids), enc, attention_mask)
        if self.c["tie_word_embeddings"]:
            dec = dec * (self.model_dim ** -0.5)
        return self.lm_head(dec)


def prepare(cfg):  # T5Config.__init__'s derived fields
    c = dict(cfg)
    act = c["feed_forward_proj"].split("-")
    c["dense_act_fn"] = act[-1]
    c["is_gated_act"] = act[0] == "gated"
    if c["feed_forward_proj"] == "gated-gelu":
        c["dense_act_fn"] = "gelu_new"
    return c


def f32(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def run(name, cfg, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    c = prepare(cfg)
    model = T5ForConditionalGeneration(c)
    with torch.no_grad():  # T5's _init_weights scales, roughly; norms and biases away from 1 / 0
        d, kv = c["d_model"], c["d_kv"]
        for pname, p in model.named_parameters():
            if "layer_norm" in pname:
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.1)
            elif pname == "shared.weight":
                p.copy_(torch.randn(p.shape, generator=g))
            elif "relative_attention_bias" in pname:
                p.copy_(torch.randn(p.shape, generator=g))
            elif pname.endswith(".q.weight"):
                p.copy_(torch.randn(p.shape, generator=g) * (d * kv) ** -0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * p.shape[1] ** -0.5)
    model.eval()
    enc_len = [9, 5]
    ids = torch.randint(2, c["vocab_size"], (B, S), generator=g)
    mask = torch.ones((B, S), dtype=torch.long)
    for b in range(B):
        ids[b, enc_len[b]:] = c["pad_token_id"]
        mask[b, enc_len[b]:] = 0
    labels = torch.randint(2, c["vocab_size"], (B, T), generator=g)
    dec_ids = torch.cat([torch.full((B, 1), c["decoder_start_token_id"]), labels[:, :-1]], dim=1)  # _shift_right
    logits = model(ids, mask, dec_ids)
    loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), labels.reshape(-1))
    loss.backward()

    state = {k: v.detach() for k, v in model.state_dict().items()}
    if not c["tie_word_embeddings"]:  # save_pretrained drops the shared duplicates
        state = {k: v for k, v in state.items() if not k.endswith("embed_tokens.weight")}
    folder = OUT + name + "/"
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.remove(folder + f)
    with open(folder + "config.json", "w") as f:
        json.dump({"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], **cfg}, f, indent=2)
    write_safetensors(folder + "model.safetensors", state, {"format": "pt"})
    print(name, "params", sum(p.numel() for p in model.parameters()), "loss", float(loss))
    return {
        "folder": name,
        "config": cfg,
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "decoder_input_ids": dec_ids.tolist(),
        "labels": labels.tolist(),
        "logits_shape": list(logits.shape),
        "logits": f32(logits),
        "loss": float(loss),
        "grads": {k: f32(p.grad) for k, p in model.named_parameters()},
        "checkpoint_names": sorted(state),
    }


def buckets():
    rel = torch.arange(-300, 301, dtype=torch.long)
    cases = []
    for bidirectional in (True, False):
        for nb, md in ((32, 128), (8, 20), (16, 64), (64, 256)):
            out = T5Attention._relative_position_bucket(rel, bidirectional=bidirectional, num_buckets=nb, max_distance=md)
            cases.append({"bidirectional": bidirectional, "num_buckets": nb, "max_distance": md,
                          "relative_position": rel.tolist(), "bucket": out.tolist()})
    return cases


def main():
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/t5.py",
        "reference": "a torch re-implementation of transformers' models/t5/modeling_t5.py (transformers is not installable here)",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "float32, eval mode (no dropout); loss = mean cross-entropy over labels; decoder_input_ids = labels shifted "
                "right with decoder_start_token_id; attention_mask 1 = token, 0 = padding (encoder only)",
        "models": [run("models-t5", CONFIGS["models-t5"], 700), run("models-t5-v1_1", CONFIGS["models-t5-v1_1"], 710)],
        "buckets": buckets(),
        "cases": [],
    }
    with open(OUT + "models-t5.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
