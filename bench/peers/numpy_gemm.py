#!/usr/bin/python3
"""Peer for bench/gemm.ts: numpy (OpenBLAS) float32 GEMM GFLOPS for the shapes given as JSON
on argv[1]. Threads are set by OPENBLAS_NUM_THREADS in the environment (by the caller)."""
import json
import sys
import time

import numpy as np

shapes = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
out = []
for m, k, n in shapes:
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a @ b  # warm up
    best = float("inf")
    reps = 0
    start = time.perf_counter()
    while reps < 3 or (time.perf_counter() - start < 0.5 and reps < 50):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
        reps += 1
    out.append(2 * m * k * n / best / 1e9)
print(json.dumps({"numpy": np.__version__, "gflops": out}))
