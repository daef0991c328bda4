#!/usr/bin/python3
"""safetensors fixtures written by an independent writer (this script: struct + numpy + torch).

Run with Debian's interpreter:  /usr/bin/python3 scripts/reference/safetensors_files.py
The `safetensors` Python package is not installable here (no python3-safetensors in Debian's
archive, no PyPI access), so this script writes the format by hand following the specification
in huggingface/safetensors' README: u64 little-endian header length, compact JSON header with
`__metadata__` first, header padded with spaces to a multiple of 8, tensors laid out as the Rust
`serialize` does (dtype enum order descending: I64, F64, F32, I32, BF16, F16, BOOL; then by name).

Writes tests/fixtures/safetensors-reference.safetensors (the file) and
tests/fixtures/safetensors-reference.json (header + the values as float lists, computed by
torch, including the float16/bfloat16 values after rounding) so the test can check every value.
safetensors-i64.safetensors holds I64 tensors (one beyond int32's range).
Also writes safetensors-unaligned.safetensors: header not padded, so data is misaligned and the
reader has to copy instead of viewing.
"""
import json
import platform
import struct
from datetime import datetime, timezone

import numpy as np
import torch

OUT = "tests/fixtures/"
RANK = {"BOOL": 0, "F16": 1, "BF16": 2, "I32": 3, "F32": 4, "F64": 5, "I64": 6}

g = torch.Generator().manual_seed(3)
tensors = {
    "model.embed_tokens.weight": ("F32", torch.randn((5, 4), generator=g)),
    "model.norm.weight": ("F16", torch.randn((4,), generator=g)),
    "lm_head.weight": ("BF16", torch.randn((3, 4), generator=g) * 100),
    "token_ids": ("I32", torch.tensor([3, 1, 4, 1, 5, 9], dtype=torch.int32)),
    "scalar": ("F64", torch.tensor(2.5, dtype=torch.float64)),
    "empty": ("F32", torch.zeros((0, 3))),
    "mask": ("BOOL", torch.tensor([True, False, True])),
}
TORCH_DTYPE = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64,
               "I32": torch.int32, "F64": torch.float64, "BOOL": torch.bool}


def raw_bytes(dtype, t):
    t = t.to(TORCH_DTYPE[dtype]).contiguous()
    if dtype == "BF16":  # numpy has no bfloat16: reinterpret the bits as int16
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write(path, items, metadata, pad=True):
    order = sorted(items, key=lambda n: (-RANK[items[n][0]], n))
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name in order:
        dtype, t = items[name]
        b = raw_bytes(dtype, t)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return order


order = write(OUT + "safetensors-reference.safetensors", tensors, {"format": "pt", "source": "scripts/reference/safetensors_files.py"})
i64 = {"position_ids": ("I64", torch.tensor([[0, 1, 2, -7, 2**31 - 1]], dtype=torch.int64)),
       "too_big": ("I64", torch.tensor([2**31], dtype=torch.int64))}
write(OUT + "safetensors-i64.safetensors", i64, {})
small = {"a": ("F32", torch.arange(6, dtype=torch.float32).reshape(2, 3)), "b": ("F16", torch.tensor([0.5, -1.25, 65504.0]))}
write(OUT + "safetensors-unaligned.safetensors", small, {"x": "y"}, pad=False)

doc = {
    "format": "attn-fixture/1",
    "generator": "scripts/reference/safetensors_files.py",
    "reference": "hand-written safetensors writer (struct + numpy) following huggingface/safetensors' format spec; values rounded by torch",
    "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
    "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "metadata": {"format": "pt", "source": "scripts/reference/safetensors_files.py"},
    "order": order,
    "tensors": {
        name: {"dtype": dtype, "shape": list(t.shape),
               # values as stored (after rounding to the stored dtype), as float64 lists
               "values": t.to(TORCH_DTYPE[dtype]).to(torch.float64).reshape(-1).tolist()}
        for name, (dtype, t) in tensors.items()
    },
    "i64": {name: {"dtype": d, "shape": list(t.shape), "values": t.tolist()} for name, (d, t) in i64.items()},
    "unaligned": {name: {"dtype": d, "shape": list(t.shape), "values": t.to(torch.float64).reshape(-1).tolist()} for name, (d, t) in small.items()},
}
with open(OUT + "safetensors-reference.json", "w") as f:
    json.dump(doc, f, indent=1)
print("wrote", OUT + "safetensors-reference.{safetensors,json}", "and safetensors-unaligned.safetensors")
