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
