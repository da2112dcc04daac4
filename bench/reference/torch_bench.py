#!/usr/bin/env python3
"""Reference side of the FlowGuide engine benchmarks: the same cases as bench/FlowGuide.Bench/Cases.cs,
measured the same way (warm-up, then repeated runs; the median is reported), with Debian's python3-numpy
and python3-torch. Writes one JSON object per line: Case, Impl, MedianMs, MinMs, Runs, Gflops, PeakBytes, Note.

usage: /usr/bin/python3 bench/reference/torch_bench.py [gemm attention conv3d block wan13b] [--threads N] [--json FILE]
("all" runs every case but wan13b, which needs ~6 GB and minutes: name it explicitly.)
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F


def measure(case, impl, fn, flops=None, warmup=3, min_runs=5, min_seconds=1.0, note=""):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 200:
            break
    times.sort()
    med = times[len(times) // 2]
    return dict(Case=case, Impl=impl, MedianMs=med, MinMs=times[0], Runs=len(times),
                Gflops=(flops / (med * 1e6) if flops else None), PeakBytes=None, Note=note)


def gemm(quick):
    out = []
    for n in ([256, 1024] if quick else [256, 512, 1024, 2048]):
        rng = np.random.default_rng(1)
        a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        c = np.empty((n, n), np.float32)
        out.append(measure(f"sgemm {n}", "numpy", lambda: np.dot(a, b, out=c), 2.0 * n ** 3))
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tc = torch.empty(n, n)
        out.append(measure(f"sgemm {n}", "torch", lambda: torch.mm(ta, tb, out=tc), 2.0 * n ** 3))
    return out


def attention_ref(q, k, v):
    # torch 1.13 has no fused CPU attention: this is the standard composed form users run.
    s = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    return torch.matmul(torch.softmax(s, dim=-1), v)


def attention():
    torch.manual_seed(0)
    b, h, l, d = 1, 4, 1280, 64
    q, k, v = (torch.randn(b, h, l, d, requires_grad=True) for _ in range(3))
    g = torch.randn(b, h, l, d)

    def fwd():
        with torch.no_grad():
            attention_ref(q, k, v)

    def fwd_bwd():
        o = attention_ref(q, k, v)
        q.grad = k.grad = v.grad = None
        o.backward(g)

    return [measure("attention fwd B1 H4 L1280 D64", "torch", fwd),
            measure("attention fwd+bwd B1 H4 L1280 D64", "torch", fwd_bwd)]


def conv3d():
    torch.manual_seed(0)
    x = torch.randn(1, 32, 8, 32, 32, requires_grad=True)
    w = torch.randn(32, 32, 3, 3, 3, requires_grad=True)
    bias = torch.randn(32, requires_grad=True)
    g = torch.randn(1, 32, 8, 32, 32)

    def fwd():
        with torch.no_grad():
            F.conv3d(x, w, bias, padding=1)

    def fwd_bwd():
        y = F.conv3d(x, w, bias, padding=1)
        x.grad = w.grad = bias.grad = None
        y.backward(g)

    return [measure("conv3d 3x3x3 fwd [1,32,8,32,32]", "torch", fwd),
            measure("conv3d 3x3x3 fwd+bwd [1,32,8,32,32]", "torch", fwd_bwd)]


class Block(torch.nn.Module):
    """Pre-norm transformer block: LN, self-attention (4 heads), residual; LN, GELU(tanh) FFN, residual."""

    def __init__(self, width=256, heads=4, ffn=1024):
        super().__init__()
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(width, eps=1e-6)
        self.q = torch.nn.Linear(width, width)
        self.k = torch.nn.Linear(width, width)
        self.v = torch.nn.Linear(width, width)
        self.o = torch.nn.Linear(width, width)
        self.norm2 = torch.nn.LayerNorm(width, eps=1e-6)
        self.ff1 = torch.nn.Linear(width, ffn)
        self.ff2 = torch.nn.Linear(ffn, width)

    def forward(self, x):
        b, l, d = x.shape
        h = self.norm1(x)
        split = lambda t: t.view(b, l, self.heads, d // self.heads).transpose(1, 2)  # [B, H, L, Dh]
        a = attention_ref(split(self.q(h)), split(self.k(h)), split(self.v(h)))
        x = x + self.o(a.transpose(1, 2).reshape(b, l, d))
        return x + self.ff2(F.gelu(self.ff1(self.norm2(x)), approximate="tanh"))


def block():
    torch.manual_seed(0)
    m = Block()
    x = torch.randn(1, 1280, 256, requires_grad=True)
    g = torch.randn(1, 1280, 256)

    def fwd():
        with torch.no_grad():
            m(x)

    def fwd_bwd():
        m.zero_grad(set_to_none=True)
        x.grad = None
        m(x).backward(g)

    return [measure("block fwd W256 H4 FFN1024 L1280", "torch", fwd),
            measure("block fwd+bwd W256 H4 FFN1024 L1280", "torch", fwd_bwd)]


def wan13b(quick):
    """One no-grad forward of the Wan2.1 1.3B transformer (tools/reference/wan_transformer_ref.py, random weights)
    on a 1x16x5x32x32 latent (1,280 tokens) with 512 text tokens; PeakBytes is the process's peak RSS."""
    import resource
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
    import wan_transformer_ref as wan

    t0 = time.perf_counter()
    torch.manual_seed(0)
    with torch.no_grad():
        model = wan.WanTransformerRef(wan.WAN21_1_3B).eval()
    init_s = time.perf_counter() - t0
    latent = torch.randn(1, 16, 5, 32, 32)
    t = torch.tensor([500.0])
    text = torch.randn(1, 512, 4096)

    def fwd():
        with torch.no_grad():
            model(latent, t, text)

    d, l, lt, ffn = 1536.0, 1280.0, 512.0, 8960.0  # same count as WanCases.ForwardFlops
    block = 2 * (4 * l * d * d + 2 * l * l * d + 2 * l * d * d + 2 * lt * d * d + 2 * l * lt * d + 2 * l * d * ffn)
    flops = 30 * block + 2 * (lt * 4096 * d + lt * d * d + l * d * 64 + l * d * 64)
    cpu0 = time.process_time()
    r = measure("wan2.1-1.3B fwd 1x16x5x32x32 text512", "torch", fwd, flops, warmup=1, min_runs=1 if quick else 3, min_seconds=0)
    cpu = (time.process_time() - cpu0) / (r["Runs"] + 1)  # CPU seconds per forward, warm-up included
    r["PeakBytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    r["Note"] = f"(cpu {cpu:.1f} s/forward; PeakBytes = process peak RSS; weights built in {init_s:.1f} s)"
    return [r]


def smallstep():
    """One sampling step of the small shipped config (4 heads x 64, FFN 1024, 6 layers, text 256): CFG as a batch of
    two on a [1, 16, 5, 16, 16] latent with 32 text tokens, the guidance combination and an Euler update."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
    import wan_transformer_ref as wan

    torch.manual_seed(0)
    cfg = dict(wan.BASE, num_attention_heads=4, attention_head_dim=64, ffn_dim=1024, num_layers=6, text_dim=256)
    with torch.no_grad():
        model = wan.WanTransformerRef(cfg).eval()
    latent = torch.randn(1, 16, 5, 16, 16)
    context = torch.randn(2, 32, 256)
    t = torch.tensor([500.0, 500.0])

    def step():
        with torch.no_grad():
            v = model(torch.cat([latent, latent]), t, context)
            vc, vu = v[:1], v[1:]
            guided = vu + (vc - vu) * 5.0
            _ = latent + guided * -0.02

    return [measure("small step CFG 1x16x5x16x16 text32", "torch", step)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = args.cases if args.cases and "all" not in args.cases else ["gemm", "attention", "conv3d", "block", "smallstep"]
    sink = open(args.json, "w") if args.json else None
    print(f"reference: numpy {np.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for c in cases:
        if c == "gemm":
            results = gemm(args.quick)
        elif c == "wan13b":
            results = wan13b(args.quick)
        else:
            results = {"attention": attention, "conv3d": conv3d, "block": block, "smallstep": smallstep}.get(c, lambda: [])()
        for r in results:
            rate = f"{r['Gflops']:8.1f} GFLOP/s" if r["Gflops"] else ""
            mem = f"  peak {r['PeakBytes'] / 1048576:.0f} MiB" if r.get("PeakBytes") else ""
            print(f"{r['Case']:<40} {r['Impl']:<18} median {r['MedianMs']:9.2f} ms  min {r['MinMs']:9.2f} ms  {rate}{mem} {r['Note']}")
            if sink:
                sink.write(json.dumps(r) + "\n")
    if sink:
        sink.close()


if __name__ == "__main__":
    main()
