#!/usr/bin/env python3
"""Prints the "time to result" table from criterion's estimates (benches/benches/time_to_result.rs).

Usage: python3 benches/ttr_table.py [TARGET_DIR]   (default: target)

For each kernel and size: the mean end-to-end time of interp, jit and tiered, and
tiered / min(interp, jit). Sizes where interp was not measured use jit as the better one
(interp was already more than 8x slower at a smaller size).
"""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else "target"
root = os.path.join(target, "criterion")


def mean_ms(kernel, engine, size):
    path = os.path.join(root, f"ttr-{kernel}", engine, size, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["mean"]["point_estimate"] / 1e6
    except OSError:
        return None


sizes = json.load(open(os.path.join(root, "ttr-sizes.json")))
print("| kernel | size (jit time) | arg x reps | interp ms | jit ms | tiered ms | tiered / best |")
print("|---|---|---|---|---|---|---|")
for s in sizes:
    k, size = s["kernel"], s["size"]
    i, j, t = (mean_ms(k, e, size) for e in ("interp", "jit", "tiered"))
    if j is None or t is None:
        continue
    best = min(x for x in (i, j) if x is not None)
    fmt = lambda x: "-" if x is None else f"{x:.2f}"
    print(f"| {k} | {size} | {s['arg']} x {s['reps']} | {fmt(i)} | {fmt(j)} | {fmt(t)} | {t / best:.2f} |")
