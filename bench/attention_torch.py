"""PyTorch's scaled_dot_product_attention on the shapes of bench/attention_gpu.cpp,
timed the same way (CUDA events around CUDA-graph replays, median), as the
anchor for lathe's attention kernels. Usage: python3 bench/attention_torch.py"""
import math

import torch
import torch.nn.functional as F


def time_ms(fn, budget_ms=300.0):
    fn()
    torch.cuda.synchronize()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    fn()
    e1.record()
    e1.synchronize()
    one = max(e0.elapsed_time(e1), 1e-4)
    per_graph = max(1, min(100, int(2.0 / one)))
    replays = max(3, min(200, int(budget_ms / (per_graph * one))))
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(per_graph):
            fn()
    times = []
    for r in range(replays + 1):
        e0.record()
        g.replay()
        e1.record()
        e1.synchronize()
        if r > 0:
            times.append(e0.elapsed_time(e1) / per_graph)
    times.sort()
    return times[len(times) // 2]


def rand(*shape):
    return torch.rand(*shape, device="cuda", dtype=torch.bfloat16) * 2 - 1


def decode(name, hq, hkv, d, tk):
    q, k, v = rand(1, hq, 1, d), rand(1, hkv, tk, d), rand(1, hkv, tk, d)
    ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, scale=1 / math.sqrt(d),
                                                         enable_gqa=True))
    gbps = 2.0 * hkv * tk * d * 2 / (ms * 1e-3) / 1e9
    print(f"torch decode {name:8s} q[1,{hq},1,{d}] kv[1,{hkv},{tk:6d},{d}] bf16 | {ms:8.4f} ms {gbps:7.0f} GB/s")


def prefill(name, hq, hkv, d, t, window=0):
    q, k, v = rand(1, hq, t, d), rand(1, hkv, t, d), rand(1, hkv, t, d)
    if window:
        i = torch.arange(t, device="cuda")
        mask = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - window)
        fn = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1 / math.sqrt(d),
                                                    enable_gqa=True)
    else:
        fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1 / math.sqrt(d),
                                                    enable_gqa=True)
    ms = time_ms(fn)
    pairs = sum(min(i + 1, window) if window else i + 1 for i in range(t))
    tflops = 4.0 * d * hq * pairs / (ms * 1e-3) / 1e12
    extra = f" window {window}" if window else ""
    print(f"torch prefill {name:8s} [1,{hq},{t},{d}] kv heads {hkv} causal{extra} bf16 | {ms:8.3f} ms {tflops:6.1f} TFLOP/s")


if __name__ == "__main__":
    print("torch", torch.__version__, torch.cuda.get_device_name())
    for tk in (512, 8192, 32768):
        decode("llama-8b", 32, 8, 128, tk)
    for tk in (512, 8192, 32768):
        decode("gemma-1b", 4, 1, 256, tk)
    decode("gqa-8:1", 64, 8, 128, 32768)
    prefill("llama-8b", 32, 8, 128, 2048)
    prefill("gemma-1b", 4, 1, 256, 2048, 512)
    prefill("gemma-1b", 4, 1, 256, 2048)
    prefill("d64", 32, 8, 64, 2048)
