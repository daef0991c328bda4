#!/usr/bin/python3
"""Step-by-step training reference (as llm.c's test_gpt2): a tiny GPT-2 trained 10 optimizer steps
with torch.optim.AdamW on fixed batches.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/train_gpt2.py

The model is the torch re-implementation of transformers' GPT-2 in models.py (gpt2_forward), loaded
from tests/fixtures/train-gpt2/ (written here). The recipe is attn's TrainConfig:
- 2 micro-batches of 2 sequences x 8 tokens per step (gradient accumulation: each micro-batch loss / 2),
- AdamW betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices only (not biases, LayerNorm gains,
  or the wte/wpe embeddings), learning rate: linear warmup over 3 steps to 1e-2, then cosine to 1e-3
  at the last step (attn's learningRate),
- global gradient-norm clipping at 1.0 (torch.nn.utils.clip_grad_norm_).
Writes tests/fixtures/train-gpt2.json: the batches, the loss and gradient norm of every step, the
learning rates, and the gradient of every parameter at step 0 (before clipping).
"""
import json
import math
import os
import platform
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

from models import gpt2_forward, gpt2_params
from safetensors_io import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures") + "/"
CFG = {"model_type": "gpt2", "vocab_size": 64, "n_positions": 16, "n_embd": 32, "n_layer": 2, "n_head": 4,
       "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "initializer_range": 0.02, "tie_word_embeddings": True,
       "embd_pdrop": 0.0, "resid_pdrop": 0.0, "attn_pdrop": 0.0}  # no dropout: the check is deterministic
STEPS, ACCUM, B, T = 10, 2, 2, 8
LR, MIN_LR, WARMUP, WD, CLIP = 1e-2, 1e-3, 3, 0.1, 1.0


def learning_rate(step):  # attn's learningRate: warmup lr*(s+1)/W, then cosine to MIN_LR at the last step
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    p = min(1.0, (step - WARMUP) / (STEPS - 1 - WARMUP))
    return MIN_LR + (LR - MIN_LR) * (1 + math.cos(math.pi * p)) / 2


def f32(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def main():
    g = torch.Generator().manual_seed(7)
    params = {k: (v * 0.5).clone().requires_grad_(True) for k, v in gpt2_params(CFG, g).items()}
    folder = OUT + "train-gpt2/"
    os.makedirs(folder, exist_ok=True)
    with open(folder + "config.json", "w") as f:
        json.dump(CFG, f, indent=2)
    write_safetensors(folder + "model.safetensors", {k: v.detach() for k, v in params.items()}, {"format": "pt"})

    # a learnable stream: each token is the previous one plus 1, 2 or 3 (mod vocab), so the loss can fall towards ln 3
    stream = torch.cumsum(torch.randint(1, 4, (400,), generator=g), 0) % CFG["vocab_size"]
    starts = torch.randint(0, len(stream) - T, (STEPS, ACCUM, B), generator=g)
    decay = [p for n, p in params.items() if p.dim() >= 2 and not n.endswith(("wte.weight", "wpe.weight"))]
    no_decay = [p for n, p in params.items() if not (p.dim() >= 2 and not n.endswith(("wte.weight", "wpe.weight")))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.95), eps=1e-8)
    losses, norms, lrs, grads0, batches = [], [], [], None, []
    for step in range(STEPS):
        lr = learning_rate(step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        step_loss = 0.0
        micro = []
        for m in range(ACCUM):
            s = starts[step, m]
            x = torch.stack([stream[i:i + T] for i in s])
            y = torch.stack([stream[i + 1:i + T + 1] for i in s])
            micro.append({"input_ids": x.tolist(), "labels": y.tolist()})
            logits = gpt2_forward(params, CFG, x)
            loss = F.cross_entropy(logits.reshape(-1, CFG["vocab_size"]), y.reshape(-1))
            (loss / ACCUM).backward()
            step_loss += float(loss) / ACCUM
        batches.append(micro)
        if step == 0:
            grads0 = {k: f32(v.grad) for k, v in params.items()}
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP)
        opt.step()
        losses.append(step_loss)
        norms.append(float(norm))
        lrs.append(lr)
        print(f"step {step}: loss {step_loss:.6f} grad norm {float(norm):.4f} lr {lr:.5f}")
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/train_gpt2.py",
        "reference": "torch.optim.AdamW + clip_grad_norm_ on the torch re-implementation of transformers' GPT-2 (scripts/reference/models.py)",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "float32; initial weights in tests/fixtures/train-gpt2/; losses are the mean of the micro-batch losses of each step",
        "folder": "train-gpt2",
        "config": CFG,
        "recipe": {"steps": STEPS, "gradAccumSteps": ACCUM, "batchSize": B, "seqLen": T, "lr": LR, "minLr": MIN_LR,
                   "warmupSteps": WARMUP, "weightDecay": WD, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "gradClip": CLIP,
                   "schedule": "cosine", "optimizer": "adamw"},
        "batches": batches,
        "losses": losses,
        "grad_norms": norms,
        "lrs": lrs,
        "grads_step0": grads0,
        "cases": [],
    }
    with open(OUT + "train-gpt2.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
