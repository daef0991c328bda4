"""attn's seeded generator (src/tensor/random.ts) and dropout (src/ops/dropout.ts) in Python.

The dropout fixtures (scripts/reference/dropout.py) need the very masks attn draws, so this file
replays attn's Generator bit for bit: splitmix32 seeding, xoshiro128** (Blackman & Vigna),
random() = (next >> 5) * 2^26 + (next >> 6), over 2^53, and bernoulli(shape, keep) = random() < keep
for each element in row-major order. dropout(x, p) = x * (keep_mask * (1 / (1 - p))), the same
float32 arithmetic as attn's inverted dropout.
"""
import torch

M = 0xFFFFFFFF


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M


class Generator:
    def __init__(self, seed=0):
        self.manual_seed(seed)

    def manual_seed(self, seed):
        x = (int(seed) & M) ^ (int(seed) // 2 ** 32)
        s = []
        for _ in range(4):
            x = (x + 0x9E3779B9) & M
            z = x
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M
            s.append((z ^ (z >> 16)) & M)
        self.s = s
        return self

    def next_uint32(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 9) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def random(self):
        hi = self.next_uint32() >> 5
        lo = self.next_uint32() >> 6
        return (hi * 67108864 + lo) / 9007199254740992.0

    def bernoulli(self, shape, p):
        n = 1
        for d in shape:
            n *= d
        return torch.tensor([self.random() < p for _ in range(n)], dtype=torch.bool).reshape(shape)


def dropout(x, p, g):
    """attn's inverted dropout of x with probability p, the mask drawn from g."""
    if p == 0:
        return x
    keep = g.bernoulli(list(x.shape), 1 - p)
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - p)))
