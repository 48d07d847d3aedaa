#!/usr/bin/env python3
"""Prints the "time to result" table from criterion's estimates (benches/benches/time_to_result.rs).

Usage: python3 benches/ttr_table.py [TARGET_DIR]   (default: target)

For each kernel and size: the mean end-to-end time of interp, jit and tiered, and
tiered / min(interp, jit), from the means and (last column) from the medians, which a
burst of load on a shared machine moves less. Sizes where interp was not measured use jit
as the better one (interp was already more than 8x slower at a smaller size).
"""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else "target"
root = os.path.join(target, "criterion")


def estimate_ms(kernel, engine, size, statistic):
    path = os.path.join(root, f"ttr-{kernel}", engine, size, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)[statistic]["point_estimate"] / 1e6
    except OSError:
        return None


def ratio(kernel, size, statistic):
    """tiered / min(interp, jit) of one statistic, with the three times."""
    i, j, t = (estimate_ms(kernel, e, size, statistic) for e in ("interp", "jit", "tiered"))
    if j is None or t is None:
        return None
    return i, j, t, t / min(x for x in (i, j) if x is not None)


sizes = json.load(open(os.path.join(root, "ttr-sizes.json")))
print("| kernel | size (jit time) | arg x reps | interp ms | jit ms | tiered ms | tiered / best (means) | (medians) |")
print("|---|---|---|---|---|---|---|---|")
for s in sizes:
    k, size = s["kernel"], s["size"]
    mean = ratio(k, size, "mean")
    median = ratio(k, size, "median")
    if mean is None or median is None:
        continue
    i, j, t, r = mean
    fmt = lambda x: "-" if x is None else f"{x:.2f}"
    print(f"| {k} | {size} | {s['arg']} x {s['reps']} | {fmt(i)} | {fmt(j)} | {fmt(t)} | {r:.2f} | {median[3]:.2f} |")
