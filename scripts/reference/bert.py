#!/usr/bin/python3
"""BERT fixtures: a tiny random BERT as BertForMaskedLM and as BertForSequenceClassification.

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/bert.py

The Hugging Face `transformers` package cannot be installed here, so the reference is a faithful
torch re-implementation of transformers' models/bert/modeling_bert.py (eager attention), in plain
functions below:
- BertEmbeddings: word_embeddings[ids] + token_type_embeddings[type ids] + position_embeddings
  [arange(T)], LayerNorm (layer_norm_eps), dropout (none: inference semantics).
- get_extended_attention_mask: (1 - mask[:, None, None, :]) * finfo(float32).min added to the scores.
- BertSelfAttention: query/key/value Linear with bias, scores / sqrt(head_dim) + mask, softmax,
  context; BertSelfOutput: LayerNorm(dense(context) + input); BertIntermediate: act(dense(x));
  BertOutput: LayerNorm(dense(h) + attention_output)  (post-norm blocks).
- BertPooler: tanh(dense(hidden[:, 0])); BertForSequenceClassification: classifier(pooled).
- BertLMPredictionHead: LayerNorm(act(transform.dense(x))) @ word_embeddings^T + cls.predictions.bias
  (the decoder is tied to the word embeddings).

Writes tests/fixtures/models-bert/ (a BertForMaskedLM checkpoint laid out as bert-base-uncased's:
with the pooler, the next-sentence head cls.seq_relationship and the tied decoder copies, which
the MLM model must skip) and tests/fixtures/models-bert-cls/ (BertForSequenceClassification,
num_labels from id2label), plus tests/fixtures/models-bert.json with ids, token types, the padding
mask, MLM labels (-100 = not predicted), MLM logits, loss and the gradient of that loss w.r.t.
every parameter of BertForMaskedLM, and the classification logits.
"""
import json
import math
import os
import platform
import struct
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

from safetensors_io import write_safetensors

OUT = "tests/fixtures/"
B, T = 3, 8

# Dropout where transformers applies it; identity unless dropout.py switches training on (and
# replaces F.dropout by attn's mask generator): the fixtures written here are in eval mode.
TRAINING = False


def drop(x, p):
    return F.dropout(x, p, training=TRAINING)




ACT = {
    "gelu": lambda x: x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0))),  # transformers' GELUActivation
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0)))),
    "relu": F.relu,
}


def bert_encoder(p, cfg, ids, type_ids, mask):
    D, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = D // nh
    eps = cfg["layer_norm_eps"]
    act = ACT[cfg["hidden_act"]]
    bsz, t = ids.shape
    lin = lambda z, name: F.linear(z, p[name + ".weight"], p[name + ".bias"])
    ln = lambda z, name: F.layer_norm(z, (D,), p[name + ".weight"], p[name + ".bias"], eps)
    e = "bert.embeddings."
    x = p[e + "word_embeddings.weight"][ids] + p[e + "token_type_embeddings.weight"][type_ids]
    x = x + p[e + "position_embeddings.weight"][torch.arange(t)][None]
    x = drop(ln(x, e + "LayerNorm"), cfg.get("hidden_dropout_prob", 0.0))
    ext = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
    for i in range(cfg["num_hidden_layers"]):
        q_ = f"bert.encoder.layer.{i}."
        heads = lambda z: z.view(bsz, t, nh, hd).permute(0, 2, 1, 3)
        q = heads(lin(x, q_ + "attention.self.query"))
        k = heads(lin(x, q_ + "attention.self.key"))
        v = heads(lin(x, q_ + "attention.self.value"))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + ext
        probs = drop(F.softmax(s, dim=-1), cfg.get("attention_probs_dropout_prob", 0.0))
        a = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous().view(bsz, t, D)
        x = ln(drop(lin(a, q_ + "attention.output.dense"), cfg.get("hidden_dropout_prob", 0.0)) + x, q_ + "attention.output.LayerNorm")
        h = act(lin(x, q_ + "intermediate.dense"))
        x = ln(drop(lin(h, q_ + "output.dense"), cfg.get("hidden_dropout_prob", 0.0)) + x, q_ + "output.LayerNorm")
    return x


def mlm_logits(p, cfg, ids, type_ids, mask):
    x = bert_encoder(p, cfg, ids, type_ids, mask)
    h = ACT[cfg["hidden_act"]](F.linear(x, p["cls.predictions.transform.dense.weight"], p["cls.predictions.transform.dense.bias"]))
    h = F.layer_norm(h, (cfg["hidden_size"],), p["cls.predictions.transform.LayerNorm.weight"],
                     p["cls.predictions.transform.LayerNorm.bias"], cfg["layer_norm_eps"])
    return h @ p["bert.embeddings.word_embeddings.weight"].t() + p["cls.predictions.bias"]


def cls_logits(p, cfg, ids, type_ids, mask):
    x = bert_encoder(p, cfg, ids, type_ids, mask)
    pooled = torch.tanh(F.linear(x[:, 0], p["bert.pooler.dense.weight"], p["bert.pooler.dense.bias"]))
    p_cls = cfg.get("classifier_dropout")
    pooled = drop(pooled, p_cls if p_cls is not None else cfg.get("hidden_dropout_prob", 0.0))
    return F.linear(pooled, p["classifier.weight"], p["classifier.bias"])


def bert_params(cfg, g):
    D, V, L, I = cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    r = lambda *s, std=0.2: torch.randn(s, generator=g) * std
    e = "bert.embeddings."
    p = {
        e + "word_embeddings.weight": r(V, D, std=0.5),
        e + "position_embeddings.weight": r(cfg["max_position_embeddings"], D, std=0.3),
        e + "token_type_embeddings.weight": r(cfg["type_vocab_size"], D, std=0.3),
        e + "LayerNorm.weight": 1 + r(D, std=0.1), e + "LayerNorm.bias": r(D, std=0.1),
    }
    for i in range(L):
        q_ = f"bert.encoder.layer.{i}."
        for name, (o, n) in {"attention.self.query": (D, D), "attention.self.key": (D, D), "attention.self.value": (D, D),
                             "attention.output.dense": (D, D), "intermediate.dense": (I, D), "output.dense": (D, I)}.items():
            p[q_ + name + ".weight"] = r(o, n)
            p[q_ + name + ".bias"] = r(o, std=0.1)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            p[q_ + name + ".weight"] = 1 + r(D, std=0.1)
            p[q_ + name + ".bias"] = r(D, std=0.1)
    return p


UNKNOWN = {"torch_dtype": "float32", "transformers_version": "4.44.0", "_name_or_path": "tiny-random-bert",
           "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
           "initializer_range": 0.02, "use_cache": True, "classifier_dropout": None}
CONFIG = {"model_type": "bert", "vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 48, "hidden_act": "gelu", "max_position_embeddings": 16, "type_vocab_size": 2,
          "layer_norm_eps": 1e-12, "pad_token_id": 0}
LABELS = {"0": "negative", "1": "neutral", "2": "positive"}


def f32(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def write_folder(name, cfg, tensors):
    folder = OUT + name + "/"
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.remove(folder + f)
    with open(folder + "config.json", "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(folder + "model.safetensors", {k: v.detach() for k, v in tensors.items()}, {"format": "pt"})


def main():
    g = torch.Generator().manual_seed(400)
    cfg = CONFIG
    D, V = cfg["hidden_size"], cfg["vocab_size"]
    r = lambda *s, std=0.2: torch.randn(s, generator=g) * std
    trunk = bert_params(cfg, g)
    mlm_head = {
        "cls.predictions.transform.dense.weight": r(D, D), "cls.predictions.transform.dense.bias": r(D, std=0.1),
        "cls.predictions.transform.LayerNorm.weight": 1 + r(D, std=0.1), "cls.predictions.transform.LayerNorm.bias": r(D, std=0.1),
        "cls.predictions.bias": r(V, std=0.1),
    }
    pooler = {"bert.pooler.dense.weight": r(D, D), "bert.pooler.dense.bias": r(D, std=0.1)}
    nsp = {"cls.seq_relationship.weight": r(2, D), "cls.seq_relationship.bias": r(2, std=0.1)}
    classifier = {"classifier.weight": r(len(LABELS), D, std=0.5), "classifier.bias": r(len(LABELS), std=0.1)}

    # [CLS] a [SEP] b [SEP] with token types 0/1, then padding (id 0, mask 0)
    lengths = [8, 6, 4]
    ids = torch.randint(5, V, (B, T), generator=g)
    type_ids = torch.zeros((B, T), dtype=torch.int64)
    mask = torch.zeros((B, T), dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, 0] = 2  # [CLS]
        ids[b, n - 1] = 3  # [SEP]
        ids[b, n // 2] = 3
        type_ids[b, n // 2 + 1:n] = 1
        mask[b, :n] = 1
        ids[b, n:] = cfg["pad_token_id"]
    labels = torch.full((B, T), -100, dtype=torch.int64)
    for b, n in enumerate(lengths):
        for j in range(1, n - 1, 2):
            labels[b, j] = int(torch.randint(0, V, (1,), generator=g))

    mlm = {k: v.clone().requires_grad_(True) for k, v in {**trunk, **mlm_head}.items()}
    logits = mlm_logits(mlm, cfg, ids, type_ids, mask)
    loss = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    loss.backward()
    with torch.no_grad():
        clf = {**trunk, **pooler, **classifier}
        c_logits = cls_logits(clf, cfg, ids, type_ids, mask)

    # as bert-base-uncased's pytorch_model.bin: pooler, NSP head and tied decoder copies included
    mlm_ckpt = {**trunk, **mlm_head, **pooler, **nsp,
                "cls.predictions.decoder.weight": trunk["bert.embeddings.word_embeddings.weight"],
                "cls.predictions.decoder.bias": mlm_head["cls.predictions.bias"]}
    write_folder("models-bert", {"architectures": ["BertForMaskedLM"], **UNKNOWN, **cfg}, mlm_ckpt)
    write_folder("models-bert-cls", {"architectures": ["BertForSequenceClassification"], **UNKNOWN, **cfg,
                                     "id2label": LABELS, "label2id": {v: int(k) for k, v in LABELS.items()},
                                     "problem_type": "single_label_classification"}, clf)
    doc = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/bert.py",
        "reference": "torch re-implementation of transformers' modeling_bert (not the transformers package)",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": "float32; MLM weights in tests/fixtures/models-bert/, classification weights in models-bert-cls/; "
                "loss = mean cross-entropy over the labelled positions (labels -100 are ignored)",
        "folder": "models-bert",
        "cls_folder": "models-bert-cls",
        "config": cfg,
        "input_ids": ids.tolist(),
        "token_type_ids": type_ids.tolist(),
        "attention_mask": mask.tolist(),
        "labels": labels.tolist(),
        "logits_shape": list(logits.shape),
        "logits": f32(logits),
        "loss": float(loss),
        "grads": {k: f32(v.grad) for k, v in mlm.items()},
        "cls_logits_shape": list(c_logits.shape),
        "cls_logits": f32(c_logits),
        "cases": [],
    }
    with open(OUT + "models-bert.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print("bert params", sum(v.numel() for v in mlm.values()), "loss", float(loss), "cls", c_logits.tolist())


if __name__ == "__main__":
    main()
