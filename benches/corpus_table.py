#!/usr/bin/env python3
"""Prints the tables of the `corpus` bench (benches/benches/corpus.rs) from criterion's
estimates: medians per engine, tiered / min(interp, jit) (tiered / jit for the C kernels),
and interp / wasmi.

Usage: python3 benches/corpus_table.py [TARGET_DIR]   (default: target)

In tiered / min(interp, jit), an engine the bench skipped at a size (estimated too slow)
is left out of the min; "-" marks a time that was not measured.
"""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else "target"
root = os.path.join(target, "criterion")
ENGINES = ["interp", "jit", "tiered", "wasmi"]


def medians():
    """{(group, function, value): median ms} of every benchmark under root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        if "benchmark.json" not in files or not dirpath.endswith(os.sep + "new"):
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"] / 1e6
        key = (bench["group_id"], bench["function_id"], bench.get("value_str"))
        out[key] = median
    return out


def fmt(ms):
    if ms is None:
        return "-"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}"


def row(label, times):
    i, j, t, w = (times.get(e) for e in ENGINES)
    best = min((x for x in (i, j) if x is not None), default=None)
    cells = [fmt(times.get(e)) for e in ENGINES] + [ratio(t, best), ratio(i, w)]
    print(f"| {label} | " + " | ".join(cells) + " |")


data = medians()
header = " | ".join(ENGINES) + " | tiered / min(interp, jit) | interp / wasmi |"
print("Time to result (compile + instantiate + run), medians:\n")
print("| program / size | " + header)
print("|---" * (len(ENGINES) + 3) + "|")
groups = sorted({g for g, _, _ in data if g.startswith("corpus_ttr/")})
for group in groups:
    program = group.split("/", 1)[1]
    for size in ("10ms", "100ms", "1s"):
        # criterion ids are <size>/<engine>: function_id is the size, value_str the engine
        times = {v: ms for (g, f, v), ms in data.items() if g == group and f == size}
        if times:
            row(f"{program} / {size}", times)
print("\nSteady state (one warmed instance, `run` at the 10ms size), medians:\n")
print("| program | " + header)
print("|---" * (len(ENGINES) + 3) + "|")
programs = sorted({f for g, f, _ in data if g == "corpus_steady"})
for program in programs:
    times = {v: ms for (g, f, v), ms in data.items() if g == "corpus_steady" and f == program}
    row(program, times)
kernels = sorted({f for g, f, _ in data if g == "corpus_kernels"})
if kernels:
    # A kernel is small enough to be compiled whole, so tiered is compared with jit alone.
    print("\nC kernels, steady state (`corpus_kernels`, the 10ms size), medians:\n")
    print("| kernel | " + " | ".join(ENGINES) + " | tiered / jit | interp / wasmi |")
    print("|---" * (len(ENGINES) + 3) + "|")
    for kernel in kernels:
        times = {v: ms for (g, f, v), ms in data.items() if g == "corpus_kernels" and f == kernel}
        i, j, t, w = (times.get(e) for e in ENGINES)
        cells = [fmt(times.get(e)) for e in ENGINES] + [ratio(t, j), ratio(i, w)]
        print(f"| {kernel} | " + " | ".join(cells) + " |")
