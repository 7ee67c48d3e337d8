#!/usr/bin/env python3
"""Disk-to-GPU throughput of one weights file from the page cache: read into pinned host
memory, then copied to the GPU (PyTorch), best of three after a warm-up read.
Usage: load_anchor.py FILE  (prints {"file", "bytes", "read_GBps", "to_gpu_GBps"})."""
import json
import sys
import time

import torch

path = sys.argv[1]
with open(path, "rb") as f:  # warm the page cache
    while f.read(1 << 28):
        pass
size = 0
best_read, best_total = 1e9, 1e9
for _ in range(3):
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    host = torch.frombuffer(bytearray(data), dtype=torch.uint8).pin_memory()
    t1 = time.perf_counter()
    dev = host.to("cuda", non_blocking=True)
    torch.cuda.synchronize()
    t2 = time.perf_counter()
    best_read = min(best_read, t1 - t0)
    best_total = min(best_total, t2 - t0)
    del dev, host, data
print(json.dumps({"file": path, "bytes": size, "read_GBps": size / best_read / 1e9,
                  "to_gpu_GBps": size / best_total / 1e9}))
