#!/usr/bin/python3
"""Training-step fixtures: a small MLP trained by PyTorch's optimizers, step by step.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/train.py
Writes tests/fixtures/train.json: the initial weights, the fixed batches, and for each
optimizer the loss at every step and the final weights. tests/train/optimizers.test.ts
replays the same steps with attn and compares.
"""
import json
import platform
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

STEPS = 8
torch.manual_seed(0)


def make_model():
    g = torch.Generator().manual_seed(42)
    return {
        "fc1.weight": torch.randn((16, 6), generator=g) * 0.4,
        "fc1.bias": torch.randn((16,), generator=g) * 0.1,
        "ln.weight": 1 + 0.1 * torch.randn((16,), generator=g),
        "ln.bias": 0.1 * torch.randn((16,), generator=g),
        "fc2.weight": torch.randn((5, 16), generator=g) * 0.4,
        "fc2.bias": torch.zeros(5),
    }


def forward(p, x):
    h = F.gelu(x @ p["fc1.weight"].t() + p["fc1.bias"])
    h = F.layer_norm(h, (16,), p["ln.weight"], p["ln.bias"], 1e-5)
    return h @ p["fc2.weight"].t() + p["fc2.bias"]


g = torch.Generator().manual_seed(7)
batches = [(torch.randn((12, 6), generator=g), torch.randint(0, 5, (12,), generator=g)) for _ in range(STEPS)]

OPTIMIZERS = {
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1),
}
OPTIONS = {
    "sgd_momentum": {"lr": 0.1, "momentum": 0.9, "weightDecay": 0.01},
    "adam": {"lr": 0.01, "betas": [0.9, 0.99], "eps": 1e-8, "weightDecay": 0.05},
    "adamw": {"lr": 0.01, "betas": [0.9, 0.95], "eps": 1e-8, "weightDecay": 0.1},
}


def flat(t):
    return t.detach().reshape(-1).tolist()


init = make_model()
runs = {}
for name, make_opt in OPTIMIZERS.items():
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = make_opt(list(params.values()))
    losses = []
    grads0 = None
    for step, (x, y) in enumerate(batches):
        opt.zero_grad()
        loss = F.cross_entropy(forward(params, x), y)
        loss.backward()
        if step == 0:
            grads0 = {k: flat(v.grad) for k, v in params.items()}
        opt.step()
        losses.append(loss.item())
    runs[name] = {
        "options": OPTIONS[name],
        "losses": losses,
        "grads_step0": grads0,
        "final": {k: flat(v) for k, v in params.items()},
    }

doc = {
    "format": "attn-fixture/1",
    "generator": "scripts/reference/train.py",
    "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
    "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "note": "MLP 6-16-5: fc1 -> gelu -> layer_norm -> fc2; cross_entropy; float32; one batch per step",
    "shapes": {k: list(v.shape) for k, v in init.items()},
    "init": {k: flat(v) for k, v in init.items()},
    "batches": [{"x": flat(x), "x_shape": list(x.shape), "y": y.tolist()} for x, y in batches],
    "cases": [{"name": k, **v} for k, v in runs.items()],
}
with open("tests/fixtures/train.json", "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print(f"wrote {len(runs)} optimizer runs x {STEPS} steps to tests/fixtures/train.json")
