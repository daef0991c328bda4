#!/usr/bin/python3
"""GGUF fixtures written by an independent writer (this script: struct + numpy + torch).

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/gguf_files.py

llama.cpp's `gguf` Python package is not installable here (no PyPI access), so this script writes
the format by hand from the specification (ggml's docs/gguf.md, version 3: little-endian; header
magic "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata as u64-length strings,
u32 value types, arrays as u32 item type + u64 count; tensor infos as name, u32 n_dims, u64 dims
innermost first, u32 ggml type, u64 offset relative to the aligned data section; tensor data
aligned to general.alignment, default 32) and quantizes as gguf-py's quants.py does (which
reproduces ggml-quants.c's reference quantizers: Q8_0 bit for bit; Q4_0 with the fused
multiply-add emulated in float64).

Writes:
- tests/fixtures/gguf-quants.json: float32 rows (random, all-zero blocks, ties at half steps,
  negative and positive extremes, subnormal scales, sums landing on integers) with their Q8_0 and
  Q4_0 blocks as hex and the dequantized values.
- tests/fixtures/gguf/llama-{f32,q8_0,q4_0}.gguf: the models-llama fixture (models.py's tiny
  LLaMA) converted as llama.cpp's convert_hf_to_gguf.py does for LlamaForCausalLM: llama.* hyper
  parameters, tensor names token_embd / blk.N.attn_q ... / output_norm / output, and the Q/K row
  permutation (`LlamaModel.permute`: rows [n_head, 2, head_dim / 2] -> [n_head, head_dim / 2, 2])
  that makes HF's rotate_half RoPE the interleaved RoPE llama.cpp computes. Matrices whose rows
  are not a multiple of 32 (mlp.down_proj, 48 columns) are written as F16 in the q8_0 file and
  BF16 in the q4_0 file, so every tensor type the reader supports appears. llama-f32.gguf also
  holds `test.*` keys of every metadata type; llama-q8_0.gguf sets general.alignment = 64.
- tests/fixtures/gguf-llama.json: per file, the tensor infos, the metadata the test checks, and
  the logits of the models-llama input ids: the f32 file equals the original model (models.py's
  logits), the quantized ones are computed by models.py's llama_forward with every quantized
  weight replaced by its dequantized value (quantization acts on rows, so it commutes with the
  row permutation).
- tests/fixtures/gguf/spm-vocab.gguf: a vocabulary-only GGUF (as llama.cpp's models/ggml-vocab-*.gguf)
  with tokenizer.ggml.model = llama from the sentencepiece fixture bpe.model, tokens, scores and
  token types as convert_hf_to_gguf.py's _create_vocab_sentencepiece reads them.
"""
import json
import os
import platform
import struct
import sys
from datetime import datetime, timezone

import numpy as np
import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(__file__))
from models import MODELS, llama_forward  # noqa: E402

OUT = "tests/fixtures/"

# gguf_metadata_value_type
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i", FLOAT32: "<f",
              BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
# ggml_type
F32, F16, Q4_0, Q8_0, BF16 = 0, 1, 2, 8, 30
TYPE_NAME = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q8_0: "Q8_0", BF16: "BF16"}


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, value):
    if vtype == STRING:
        return gguf_string(value)
    if vtype == ARRAY:
        itype, items = value
        out = struct.pack("<IQ", itype, len(items))
        return out + b"".join(gguf_value(itype, v) for v in items)
    return struct.pack(SCALAR_FMT[vtype], value)


def write_gguf(path, kvs, tensors, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, ggml_type, row-major shape, raw bytes)]."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + gguf_value(vtype, value)
    offset = 0
    infos = []
    for name, gtype, shape, raw in tensors:
        dims = list(reversed(shape))  # ne[0] is the innermost (contiguous) dimension
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", gtype, offset)
        infos.append({"name": name, "type": TYPE_NAME[gtype], "shape": list(shape), "offset": offset, "nbytes": len(raw)})
        offset += len(raw)
        offset += (-offset) % alignment
    out += b"\0" * ((-len(out)) % alignment)
    data_start = len(out)
    for name, gtype, shape, raw in tensors:
        out += raw
        out += b"\0" * ((-(len(out) - data_start)) % alignment)
    with open(path, "wb") as f:
        f.write(bytes(out))
    return infos, data_start


# ---- quantization (gguf-py quants.py) --------------------------------------------------------

def np_roundf(n):  # round half away from zero, as C's roundf
    a = abs(n)
    floored = np.floor(a)
    b = floored + np.floor(2 * (a - floored))
    return np.sign(n) * b


def quantize_q8_0(rows):
    blocks = rows.astype(np.float32).reshape(-1, 32)
    d = abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        idd = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    qs = np_roundf(blocks * idd)
    return np.concatenate([d.astype(np.float16).view(np.uint8), qs.astype(np.int8).view(np.uint8)], axis=1)


def dequantize_q8_0(raw):
    blocks = raw.reshape(-1, 34)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    return (blocks[:, 2:].copy().view(np.int8).astype(np.float32) * d).reshape(-1)


def quantize_q4_0(rows):
    blocks = rows.astype(np.float32).reshape(-1, 32)
    imax = abs(blocks).argmax(axis=-1, keepdims=True)
    mx = np.take_along_axis(blocks, imax, axis=-1)
    d = (mx / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idd = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    # ggml: fmaf(x, id, 8.5f) rounded once to float32, then truncated (gguf-py's float64 emulation)
    qs = np.trunc((np.float64(blocks) * np.float64(idd) + np.float64(8.5)).astype(np.float32)).astype(np.uint8).clip(0, 15)
    qs = qs.reshape(-1, 2, 16)
    qs = qs[:, 0, :] | (qs[:, 1, :] << np.uint8(4))
    return np.concatenate([d.astype(np.float16).view(np.uint8), qs], axis=1)


def dequantize_q4_0(raw):
    blocks = raw.reshape(-1, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([lo, hi], axis=1).astype(np.float32) * d).reshape(-1)


def quant_rows():
    rng = np.random.default_rng(7)
    rows = {}
    rows["normal"] = rng.standard_normal(96).astype(np.float32)
    rows["zeros-then-normal"] = np.concatenate([np.zeros(32), rng.standard_normal(32)]).astype(np.float32)
    d = np.float32(0.25)  # exact steps: ties at half steps for q8_0 (max 127 * 0.25)
    ties = (np.arange(32) - 16 + 0.5).astype(np.float32) * d
    ties[0] = 127 * d
    rows["q8-ties"] = ties.astype(np.float32)
    neg = rng.standard_normal(32).astype(np.float32)
    neg[5] = -4.0  # the extreme is negative: d > 0 for q4_0, +4 clamps to 7 d
    neg[9] = 3.9999
    rows["negative-extreme"] = neg
    pos = rng.standard_normal(32).astype(np.float32)
    pos[11] = 5.0  # positive extreme: d < 0
    pos[12] = -5.0  # equal magnitude later: argmax keeps the first
    rows["positive-extreme-first"] = pos
    rows["subnormal-scale"] = (rng.standard_normal(32) * 1e-6).astype(np.float32)
    grid = (np.arange(32) % 16 - 8).astype(np.float32) * np.float32(-0.5)  # x / d + 8.5 lands on k + 0.5
    grid[31] = 4.0
    rows["q4-grid"] = grid
    fma = rng.uniform(-3, 3, 32).astype(np.float32)
    fma[0] = 4.0  # d = -0.5, 1 / d = -2 exactly
    fma[1] = np.float32(-0.25) + np.float32(2.0 ** -25)  # x / d + 8.5 = 9 - 2^-24: 8 in float64, 9 once rounded to float32
    rows["q4-rounding"] = fma
    rows["wide"] = (rng.standard_normal(64) * 1000).astype(np.float32)
    return rows


def hexs(b):
    return bytes(b.reshape(-1)).hex()


# ---- the LLaMA conversion (convert_hf_to_gguf.py, LlamaModel) ---------------------------------

def permute(w, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    i = parts[2]
    rest = ".".join(parts[3:])
    table = {
        "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
    }
    return f"blk.{i}.{table[rest]}"


def raw_of(gtype, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if gtype == F32:
        return arr.astype("<f4").tobytes(), arr
    if gtype == F16:
        h = arr.astype(np.float16)
        return h.tobytes(), h.astype(np.float32)
    if gtype == BF16:
        b = torch.from_numpy(arr).to(torch.bfloat16)
        return b.view(torch.int16).numpy().astype("<i2").tobytes(), b.float().numpy()
    if gtype == Q8_0:
        q = quantize_q8_0(arr)
        return q.tobytes(), dequantize_q8_0(q).reshape(arr.shape)
    if gtype == Q4_0:
        q = quantize_q4_0(arr)
        return q.tobytes(), dequantize_q4_0(q).reshape(arr.shape)
    raise ValueError(gtype)


def llama_kvs(cfg, file_type):
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    return [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "models-llama"),
        ("llama.vocab_size", UINT32, cfg["vocab_size"]),
        ("llama.context_length", UINT32, cfg["max_position_embeddings"]),
        ("llama.embedding_length", UINT32, cfg["hidden_size"]),
        ("llama.block_count", UINT32, cfg["num_hidden_layers"]),
        ("llama.feed_forward_length", UINT32, cfg["intermediate_size"]),
        ("llama.rope.dimension_count", UINT32, hd),
        ("llama.attention.head_count", UINT32, cfg["num_attention_heads"]),
        ("llama.attention.head_count_kv", UINT32, cfg["num_key_value_heads"]),
        ("llama.attention.layer_norm_rms_epsilon", FLOAT32, cfg["rms_norm_eps"]),
        ("llama.rope.freq_base", FLOAT32, cfg["rope_theta"]),
        ("general.file_type", UINT32, file_type),
        ("tokenizer.ggml.bos_token_id", UINT32, cfg["bos_token_id"]),
        ("tokenizer.ggml.eos_token_id", UINT32, cfg["eos_token_id"]),
    ]


TEST_KVS = [
    ("test.u8", UINT8, 200), ("test.i8", INT8, -100), ("test.u16", UINT16, 60000), ("test.i16", INT16, -30000),
    ("test.u32", UINT32, 4000000000), ("test.i32", INT32, -2000000000), ("test.f32", FLOAT32, 0.1),
    ("test.bool", BOOL, True), ("test.string", STRING, "naïve ☃ text"), ("test.u64", UINT64, 2 ** 53 + 2),
    ("test.i64", INT64, -(2 ** 40)), ("test.f64", FLOAT64, 0.1),
    ("test.array.i32", ARRAY, (INT32, [1, -2, 3])), ("test.array.f32", ARRAY, (FLOAT32, [0.5, -1.25])),
    ("test.array.string", ARRAY, (STRING, ["a", "", "ü"])), ("test.array.bool", ARRAY, (BOOL, [True, False])),
    ("test.array.empty", ARRAY, (UINT8, [])),
    ("test.array.nested", ARRAY, (ARRAY, [(INT16, [1, 2]), (UINT64, [3])])),
]


def main():
    header = {
        "format": "attn-fixture/1",
        "generator": "scripts/reference/gguf_files.py",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(), "sentencepiece": spm.__version__},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # quantization blocks
    cases = []
    for name, row in quant_rows().items():
        q8 = quantize_q8_0(row)
        q4 = quantize_q4_0(row)
        cases.append({"name": name, "values": [float(v) for v in row], "q8_0": hexs(q8), "q4_0": hexs(q4),
                      "q8_0_dequant": [float(v) for v in dequantize_q8_0(q8)], "q4_0_dequant": [float(v) for v in dequantize_q4_0(q4)]})
    with open(OUT + "gguf-quants.json", "w") as f:
        json.dump({**header, "note": "Q8_0 / Q4_0 blocks of gguf-py quants.py's algorithms (ggml-quants.c reference)", "cases": cases}, f)

    # the LLaMA files
    os.makedirs(OUT + "gguf", exist_ok=True)
    fixture = json.load(open(OUT + "models-llama.json"))
    cfg = fixture["config"]
    from safetensors_io import read_safetensors  # noqa: E402
    params = {}
    index = json.load(open(OUT + "models-llama/model.safetensors.index.json"))
    for shard in sorted(set(index["weight_map"].values())):
        params.update(read_safetensors(OUT + "models-llama/" + shard))
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    ids = torch.tensor(fixture["input_ids"])
    files = {}
    for label, quant, fallback, file_type, alignment, extra in [
        ("f32", F32, F32, 0, 32, TEST_KVS), ("q8_0", Q8_0, F16, 7, 64, []), ("q4_0", Q4_0, BF16, 2, 32, []),
    ]:
        tensors = []
        deq = {}
        for hf in sorted(params, key=lambda n: (0 if n.startswith("model.embed") else 1 if n.startswith("model.layers") else 2, n)):
            w = params[hf].numpy().astype(np.float32)
            if hf.endswith("q_proj.weight"):
                w = permute(w, nh, nh)
            elif hf.endswith("k_proj.weight"):
                w = permute(w, nh, nkv)
            gtype = F32 if w.ndim == 1 else quant if w.shape[-1] % 32 == 0 else fallback
            raw, values = raw_of(gtype, w)
            tensors.append((gguf_name(hf), gtype, list(w.shape), raw))
            # back to the HF layout for the reference forward: rows permuted back
            hf_values = values
            if hf.endswith("q_proj.weight") or hf.endswith("k_proj.weight"):
                n = nh if hf.endswith("q_proj.weight") else nkv
                hd = w.shape[0] // n
                hf_values = values.reshape(n, hd // 2, 2, -1).swapaxes(1, 2).reshape(w.shape)
            deq[hf] = torch.from_numpy(np.ascontiguousarray(hf_values, dtype=np.float32))
        kvs = llama_kvs(cfg, file_type) + extra
        if alignment != 32:
            kvs.append(("general.alignment", UINT32, alignment))
        if quant != F32:
            kvs.append(("general.quantization_version", UINT32, 2))
        path = f"gguf/llama-{label}.gguf"
        infos, data_start = write_gguf(OUT + path, kvs, tensors, alignment)
        with torch.no_grad():
            logits = llama_forward(deq, cfg, ids)
        files[label] = {"path": path, "alignment": alignment, "data_start": data_start, "tensors": infos,
                        "logits": [float(np.float32(v)) for v in logits.reshape(-1).tolist()]}
        print(path, len(tensors), "tensors", os.path.getsize(OUT + path), "bytes")

    test_values = {}
    for key, vtype, value in TEST_KVS:
        if vtype == FLOAT32:
            value = float(np.float32(value))
        if vtype == ARRAY and value[0] == FLOAT32:
            value = (value[0], [float(np.float32(v)) for v in value[1]])
        if vtype == ARRAY and value[0] == ARRAY:
            value = (value[0], [list(v[1]) for v in value[1]])
        if vtype == UINT64 or vtype == INT64:
            value = str(value)  # JSON numbers lose 2^53 + 2
        test_values[key] = list(value[1]) if vtype == ARRAY else value
    with open(OUT + "gguf-llama.json", "w") as f:
        json.dump({**header, "note": "models-llama converted as convert_hf_to_gguf.py does; logits of the models-llama input ids",
                   "config": cfg, "input_ids": fixture["input_ids"], "files": files, "test_metadata": test_values, "cases": []}, f)

    # a vocabulary-only SentencePiece GGUF
    sp = spm.SentencePieceProcessor(model_file=OUT + "sentencepiece/bpe.model")
    tokens, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        t = 1  # NORMAL
        if sp.is_unknown(i):
            t = 2
        elif sp.is_control(i):
            t = 3
        elif sp.is_unused(i):
            t = 5
        elif sp.is_byte(i):
            t = 6
        types.append(t)
    kvs = [
        ("general.architecture", STRING, "llama"),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.scores", ARRAY, (FLOAT32, scores)),
        ("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
        ("tokenizer.ggml.bos_token_id", UINT32, sp.bos_id()),
        ("tokenizer.ggml.eos_token_id", UINT32, sp.eos_id()),
        ("tokenizer.ggml.unknown_token_id", UINT32, sp.unk_id()),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
        ("tokenizer.ggml.add_eos_token", BOOL, False),
    ]
    write_gguf(OUT + "gguf/spm-vocab.gguf", kvs, [])
    print("gguf/spm-vocab.gguf", len(tokens), "tokens")


if __name__ == "__main__":
    main()
