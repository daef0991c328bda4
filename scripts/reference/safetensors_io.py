"""Writes float32 safetensors files for the fixture scripts, straight from the format spec:
u64 little-endian header length, JSON header (tensor names sorted, padded with spaces to a
multiple of 8), then the raw little-endian data. Independent of attn's own writer on purpose."""
import json
import struct

import torch


def write_safetensors(path, tensors, metadata=None):
    names = sorted(tensors)
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for n in names:
        b = tensors[n].detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[n] = {"dtype": "F32", "shape": list(tensors[n].shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """The float32 tensors of a safetensors file written by write_safetensors (or any F32-only file)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}, only F32 is read")
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(info["shape"]).clone()
    return out
