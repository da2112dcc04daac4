#!/usr/bin/env python3
"""Runs FlowGuide's engine benchmarks and the NumPy/PyTorch reference one after the other on this machine and
prints a markdown table with the ratio FlowGuide / reference for each case (below 1.0 means FlowGuide is faster).

usage: /usr/bin/python3 bench/side_by_side.py [cases...] [--threads 2] [--quick]
Needs Debian's python3-numpy and python3-torch (apt-get install python3-numpy python3-torch) and libopenblas0.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env=None):
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*", default=["all"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    fg, ref = os.path.join(tmp, "flowguide.jsonl"), os.path.join(tmp, "reference.jsonl")
    extra = ["--quick"] if args.quick else []
    # Build, stop the build servers (MSBuild nodes and the compiler server keep using CPU for a while after a
    # build and would disturb the first cases), then run the built program directly.
    run(["dotnet", "build", "-c", "Release", "bench/FlowGuide.Bench", "-v", "quiet", "-nologo"])
    run(["dotnet", "build-server", "shutdown"])
    run(["dotnet", os.path.join("bench", "FlowGuide.Bench", "bin", "Release", "net10.0", "flowguide-bench.dll"), *args.cases,
         "--threads", str(args.threads), "--json", fg, *extra])
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    run([sys.executable, "bench/reference/torch_bench.py", *args.cases, "--threads", str(args.threads), "--json", ref, *extra], env)
    ours, theirs = load(fg), load(ref)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"\nMachine: {cpu}, {os.cpu_count()} cores, {args.threads} threads, {platform.platform()}\n")
    print("| case | FlowGuide | ms (median) | GFLOP/s | reference | ms (median) | GFLOP/s | ratio (ours/ref time) |")
    print("|---|---|---|---|---|---|---|---|")
    for case in dict.fromkeys(r["Case"] for r in ours + theirs):
        for o in [r for r in ours if r["Case"] == case] or [None]:
            for t in [r for r in theirs if r["Case"] == case] or [None]:
                fmt = lambda r, k: "" if r is None or r.get(k) is None else f"{r[k]:.2f}" if k == "MedianMs" else f"{r[k]:.1f}"
                ratio = f"{o['MedianMs'] / t['MedianMs']:.2f}x" if o and t else ""
                print(f"| {case} | {o['Impl'] if o else ''} | {fmt(o, 'MedianMs')} | {fmt(o, 'Gflops')} | "
                      f"{t['Impl'] if t else ''} | {fmt(t, 'MedianMs')} | {fmt(t, 'Gflops')} | {ratio} |")
    for o in ours:
        if o.get("PeakBytes"):
            print(f"\n{o['Case']}: {o['Impl']} peak {o['PeakBytes'] / 1048576:.1f} MiB {o.get('Note', '')}")


if __name__ == "__main__":
    main()
