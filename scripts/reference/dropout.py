#!/usr/bin/python3
"""Dropout fixtures: every family in training mode, with the very masks attn draws.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/dropout.py

The model references are the other scripts here (models.py for GPT-2 and LLaMA, bert.py, t5.py,
transformer.py, which runs torch.nn.Transformer itself); each applies dropout where transformers
(or torch) does. Here torch.nn.functional.dropout is replaced by attn's dropout (attn_random.py:
attn's xoshiro128** generator, replayed bit for bit), so that the masks are those attn draws from
`model.dropoutGenerator` seeded with the case's seed. Masks are drawn in forward order, one
element per draw in row-major order, which fixes where each model applies dropout and in which
order: a dropout at the wrong place, with the wrong probability or in the wrong order gives other
logits. Weights and inputs are those of the eval-mode fixtures (models-*.json and their folders);
the probabilities below replace the configs' (different per kind, so that swapping two is seen).

Writes tests/fixtures/dropout.json: per case the folder, the dropout config fields, the seed, the
inputs, the logits, the loss and the gradient of the loss w.r.t. every parameter.
"""
import json
import os
import platform
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

import attn_random
import bert
import models
import t5
import transformer
from safetensors_io import read_safetensors

FIX = "tests/fixtures/"

_generator = attn_random.Generator(0)


def attn_dropout(input, p=0.5, training=True, inplace=False):
    if not training or p == 0:
        return input
    return attn_random.dropout(input, p, _generator)


def seed(s):
    _generator.manual_seed(s)


def f32(t):
    """float32 values to 7 significant digits (the tests' tolerances are far wider; keeps the file small)."""
    return [float("%.7g" % np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def load_doc(name):
    with open(FIX + name) as f:
        return json.load(f)


def params_of(folder):
    """Every tensor of the folder's safetensors files (one, or the shards of a sharded checkpoint)."""
    out = {}
    for f in sorted(os.listdir(FIX + folder)):
        if f.endswith(".safetensors"):
            out.update(read_safetensors(FIX + folder + "/" + f))
    return {k: v.requires_grad_(True) for k, v in out.items()}


def causal_lm_case(name, overrides, s):
    doc = load_doc(f"models-{name}.json")
    cfg = {**doc["config"], **overrides}
    p = params_of(doc["folder"])
    ids = torch.tensor(doc["input_ids"])
    targets = torch.tensor(doc["targets"])
    seed(s)
    forward = models.MODELS[name]["forward"]
    logits = forward(p, cfg, ids)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1))
    loss.backward()
    return {"name": name, "folder": doc["folder"], "dropout": overrides, "seed": s, "input_ids": doc["input_ids"],
            "targets": doc["targets"], "logits_shape": list(logits.shape), "logits": f32(logits), "loss": float(loss),
            "grads": {k: f32(v.grad) for k, v in p.items()}}


def bert_case(overrides, s, cls_seed):
    doc = load_doc("models-bert.json")
    cfg = {**doc["config"], **overrides}
    p = params_of(doc["folder"])
    ids, types, mask = (torch.tensor(doc[k]) for k in ("input_ids", "token_type_ids", "attention_mask"))
    labels = torch.tensor(doc["labels"])
    seed(s)
    logits = bert.mlm_logits(p, cfg, ids, types, mask)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), labels.reshape(-1), ignore_index=-100)
    loss.backward()
    seed(cls_seed)
    with torch.no_grad():
        cls_logits = bert.cls_logits(params_of(doc["cls_folder"]), cfg, ids, types, mask)
    wanted = set(load_doc("models-bert.json")["grads"])  # the MLM model's own parameters (no pooler/NSP/decoder copies)
    return {"name": "bert", "folder": doc["folder"], "cls_folder": doc["cls_folder"], "dropout": overrides, "seed": s,
            "cls_seed": cls_seed, "input_ids": doc["input_ids"], "token_type_ids": doc["token_type_ids"],
            "attention_mask": doc["attention_mask"], "labels": doc["labels"], "logits_shape": list(logits.shape),
            "logits": f32(logits), "loss": float(loss), "grads": {k: f32(v.grad) for k, v in p.items() if k in wanted},
            "cls_logits_shape": list(cls_logits.shape), "cls_logits": f32(cls_logits)}


def t5_case(index, rate, s, grads=True):
    m = load_doc("models-t5.json")["models"][index]
    cfg = {**m["config"], "dropout_rate": rate}
    model = t5.T5ForConditionalGeneration(t5.prepare(cfg))
    missing, unexpected = model.load_state_dict(read_safetensors(FIX + m["folder"] + "/model.safetensors"), strict=False)
    assert not unexpected and all(k.endswith("embed_tokens.weight") or k == "lm_head.weight" for k in missing), (missing, unexpected)
    model.train()
    ids, mask, dec = (torch.tensor(m[k]) for k in ("input_ids", "attention_mask", "decoder_input_ids"))
    labels = torch.tensor(m["labels"])
    seed(s)
    logits = model(ids, mask, dec)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), labels.reshape(-1))
    loss.backward()
    return {"name": m["folder"], "folder": m["folder"], "dropout": {"dropout_rate": rate}, "seed": s,
            "input_ids": m["input_ids"], "attention_mask": m["attention_mask"], "decoder_input_ids": m["decoder_input_ids"],
            "labels": m["labels"], "logits_shape": list(logits.shape), "logits": f32(logits), "loss": float(loss),
            "grads": {k: f32(p.grad) for k, p in model.named_parameters()} if grads else {}}


def transformer_case(rate, s):
    doc = load_doc("models-transformer.json")
    c = doc["config"]
    model = transformer.PaperTransformer(c, dropout=rate)
    model.load_state_dict(read_safetensors(FIX + doc["folder"] + "/model.safetensors"))
    model.train()
    src, tgt = torch.tensor(doc["src_ids"]), torch.tensor(doc["tgt_ids"])
    src_pad, tgt_pad = torch.tensor(doc["src_key_padding_mask"]), torch.tensor(doc["tgt_key_padding_mask"])
    targets = torch.tensor(doc["targets"])
    seed(s)
    logits = model.logits(src, tgt, src_pad, tgt_pad)
    loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    return {"name": "transformer", "folder": doc["folder"], "dropout": {"dropout": rate}, "seed": s,
            "src_ids": doc["src_ids"], "tgt_ids": doc["tgt_ids"], "src_key_padding_mask": doc["src_key_padding_mask"],
            "tgt_key_padding_mask": doc["tgt_key_padding_mask"], "targets": doc["targets"],
            "logits_shape": list(logits.shape), "logits": f32(logits), "loss": float(loss),
            "grads": {k: f32(p.grad) for k, p in model.named_parameters()}}


def main():
    torch.nn.functional.dropout = attn_dropout  # also what nn.Dropout and nn.MultiheadAttention call
    for mod in (models, bert):
        mod.TRAINING = True
    cases = [
        causal_lm_case("gpt2", {"embd_pdrop": 0.1, "attn_pdrop": 0.2, "resid_pdrop": 0.3}, 11),
        causal_lm_case("llama", {"attention_dropout": 0.25}, 12),
        bert_case({"hidden_dropout_prob": 0.15, "attention_probs_dropout_prob": 0.3, "classifier_dropout": 0.5}, 13, 14),
        t5_case(0, 0.2, 15, grads=False),  # v1.0: logits and loss (v1.1 has every gradient)
        t5_case(1, 0.3, 16),
        transformer_case(0.25, 17),
    ]
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/dropout.py",
        "reference": "training-mode forward passes of the references in models.py, bert.py, t5.py (torch re-implementations of "
                     "transformers' modeling code, not the transformers package) and transformer.py (torch.nn.Transformer itself), "
                     "with torch's dropout replaced by attn's (attn_random.py) so that the masks are attn's",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "float32 to 7 significant digits; masks from attn's Generator(seed) in forward order; weights and inputs from the eval-mode fixtures",
        "cases": cases,
    }
    with open(FIX + "dropout.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    for c in cases:
        print(c["name"], "loss", c["loss"])


if __name__ == "__main__":
    main()
