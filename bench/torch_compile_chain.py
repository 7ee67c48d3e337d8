#!/usr/bin/python3
"""PyTorch anchor for bench_compile_cuda: the same 10-op elementwise chain on the same
number of elements (bfloat16 and float32) on the GPU, eager (one kernel per op) and under
torch.compile (Inductor fuses it into one Triton kernel), timed the same way: CUDA events
around CALLS independent calls, median of 5, in GB/s of the chain's own traffic (read x,
write y), beside a device-to-device copy of the same bytes.

Usage: torch_compile_chain.py [elements] [calls]
"""
import statistics
import sys
import time

import torch


def chain(x):
    y = x * 1.5
    y = y + 0.25
    y = y * x
    y = torch.clamp_min(y, -1.0)
    y = y - 0.5
    y = torch.abs(y)
    y = torch.sqrt(y)
    y = y * 0.75
    y = torch.clamp_max(y, 4.0)
    return y + x


def ms_per_call(fn, calls):
    runs = []
    for _ in range(5):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        runs.append(start.elapsed_time(end) / calls)
    return statistics.median(runs)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 24
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, elements {n}")
    print("| dtype | copy GB/s | torch.compile GB/s | eager GB/s | compile/copy | eager/copy |"
          " first compiled call s |")
    print("|---|---|---|---|---|---|---|")
    for dt in (torch.bfloat16, torch.float32):
        x = (torch.arange(n, device="cuda", dtype=torch.float32) / n).to(dt)
        dst = torch.empty_like(x)
        nbytes = 2 * x.numel() * x.element_size()
        copy_ms = ms_per_call(lambda: dst.copy_(x), calls)
        fused = torch.compile(chain)
        t0 = time.perf_counter()
        fused(x)
        torch.cuda.synchronize()
        first_s = time.perf_counter() - t0
        for _ in range(3):
            fused(x)
            chain(x)
        compiled_ms = ms_per_call(lambda: fused(x), calls)
        eager_ms = ms_per_call(lambda: chain(x), calls)

        def gbs(ms):
            return nbytes / (ms * 1e-3) / 1e9

        print(f"| {str(dt).replace('torch.', '')} | {gbs(copy_ms):.0f} | {gbs(compiled_ms):.0f} |"
              f" {gbs(eager_ms):.0f} | {100 * copy_ms / compiled_ms:.0f}% |"
              f" {100 * copy_ms / eager_ms:.0f}% | {first_s:.1f} |")


if __name__ == "__main__":
    main()
