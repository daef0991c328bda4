#!/usr/bin/python3
"""The original Transformer (Vaswani et al. 2017) as torch.nn.Transformer itself.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/transformer.py

The reference is torch.nn.Transformer (torch 1.13), not a re-implementation: post-norm encoder
and decoder layers (norm_first=False), ReLU feed-forward, each stack ending in a final LayerNorm
(encoder.norm, decoder.norm), attention projections packed as in_proj_weight = [W_q; W_k; W_v].
The script adds the paper's wrapper around it (sec. 3.4, 3.5): one embedding matrix shared by
source, target and the pre-softmax projection, embeddings scaled by sqrt(d_model), plus the
sinusoidal positional encoding PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same).
The wrapper subclasses nn.Transformer so the state dict keeps torch's own names
(`encoder.layers.0.self_attn.in_proj_weight`, ...) plus `embedding.weight`.

Masks: a causal target mask (tgt_mask, -inf above the diagonal), source padding
(src_key_padding_mask, also passed as memory_key_padding_mask) and target padding
(tgt_key_padding_mask). The forward runs with autograd on (parameters require grad), which keeps
torch 1.13 off its inference fast path (nested tensors that zero padded encoder outputs).

Writes tests/fixtures/models-transformer/ (config.json + model.safetensors with the state dict)
and tests/fixtures/models-transformer.json with ids, padding masks, logits, the mean
cross-entropy over non-padded target positions and the gradient of that loss w.r.t. every
parameter.
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
B, S, T = 2, 7, 6
CFG = {"vocab_size": 48, "d_model": 32, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2,
       "dim_feedforward": 64, "layer_norm_eps": 1e-5, "max_position_embeddings": 32, "pad_token_id": 0}




def sinusoid(n, d):
    pos = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(0, d, 2, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, i / d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return torch.tensor(pe, dtype=torch.float32)


class PaperTransformer(nn.Transformer):
    def __init__(self, c, dropout=0.0):
        super().__init__(d_model=c["d_model"], nhead=c["nhead"], num_encoder_layers=c["num_encoder_layers"],
                         num_decoder_layers=c["num_decoder_layers"], dim_feedforward=c["dim_feedforward"], dropout=dropout,
                         activation="relu", layer_norm_eps=c["layer_norm_eps"], batch_first=True, norm_first=False)
        self.embedding = nn.Embedding(c["vocab_size"], c["d_model"])
        self.embedding_dropout = nn.Dropout(dropout)  # the paper's dropout on embeddings + positions (sec. 5.4)
        self.register_buffer("pe", sinusoid(c["max_position_embeddings"], c["d_model"]), persistent=False)

    def embed(self, ids):
        return self.embedding_dropout(self.embedding(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]])

    def logits(self, src, tgt, src_pad, tgt_pad):
        tgt_mask = self.generate_square_subsequent_mask(tgt.shape[1])
        # nn.Transformer.forward's two calls, each side embedded just before its stack (so that
        # with dropout the masks are drawn in the order encoder, then decoder)
        memory = self.encoder(self.embed(src), src_key_padding_mask=src_pad)
        out = self.decoder(self.embed(tgt), memory, tgt_mask=tgt_mask, tgt_key_padding_mask=tgt_pad,
                           memory_key_padding_mask=src_pad)
        return out @ self.embedding.weight.t()


def f32(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def main():
    torch.manual_seed(500)
    g = torch.Generator().manual_seed(501)
    c = CFG
    model = PaperTransformer(c)
    with torch.no_grad():  # move away from the default init so that biases and norms matter
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif ".norm" in name or name.startswith("encoder.norm") or name.startswith("decoder.norm"):
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.1)
        model.embedding.weight.mul_(0.3)
    model.train()  # dropout is 0; train mode also keeps nn.Transformer off its inference fast path
    src_len, tgt_len = [7, 4], [6, 3]
    src = torch.randint(1, c["vocab_size"], (B, S), generator=g)
    tgt = torch.randint(1, c["vocab_size"], (B, T), generator=g)
    src_pad = torch.zeros((B, S), dtype=torch.bool)
    tgt_pad = torch.zeros((B, T), dtype=torch.bool)
    for b in range(B):
        src[b, src_len[b]:] = c["pad_token_id"]
        tgt[b, tgt_len[b]:] = c["pad_token_id"]
        src_pad[b, src_len[b]:] = True
        tgt_pad[b, tgt_len[b]:] = True
    targets = torch.randint(1, c["vocab_size"], (B, T), generator=g).masked_fill(tgt_pad, -100)
    logits = model.logits(src, tgt, src_pad, tgt_pad)
    loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    state = {k: v.detach() for k, v in model.state_dict().items()}

    folder = OUT + "models-transformer/"
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.remove(folder + f)
    with open(folder + "config.json", "w") as f:
        json.dump({"model_type": "transformer", "architectures": ["nn.Transformer"], **c, "dropout": 0.0,
                   "activation": "relu", "batch_first": True, "norm_first": False}, f, indent=2)
    write_safetensors(folder + "model.safetensors", state, {"format": "pt"})
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/transformer.py",
        "reference": "torch.nn.Transformer (torch's own module) with a shared, sqrt(d_model)-scaled embedding, sinusoidal positions and a tied output projection",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "float32; state dict in tests/fixtures/models-transformer/; padding masks are torch's key_padding_mask "
                "(true = padding); loss = mean cross-entropy over non-padded target positions (-100 ignored)",
        "folder": "models-transformer",
        "config": c,
        "src_ids": src.tolist(),
        "tgt_ids": tgt.tolist(),
        "src_key_padding_mask": src_pad.tolist(),
        "tgt_key_padding_mask": tgt_pad.tolist(),
        "targets": targets.tolist(),
        "logits_shape": list(logits.shape),
        "logits": f32(logits),
        "loss": float(loss),
        "grads": {k: f32(p.grad) for k, p in model.named_parameters()},
        "cases": [],
    }
    with open(OUT + "models-transformer.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print("transformer params", sum(p.numel() for p in model.parameters()), "loss", float(loss))
    print(sorted(state))


if __name__ == "__main__":
    main()
