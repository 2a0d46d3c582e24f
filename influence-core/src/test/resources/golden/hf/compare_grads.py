#!/usr/bin/env python3
"""Compare two grads.safetensors files key by key: per tensor max|a-b| / max|b| (b = the second file).

    python hf/compare_grads.py A.safetensors B.safetensors
Prints the worst loss and the worst gradient tensor; fails if the key sets differ.
"""
import sys

from safetensors.numpy import load_file

a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
if set(a) != set(b):
    sys.exit(f"key sets differ: only in A {sorted(set(a) - set(b))}, only in B {sorted(set(b) - set(a))}")
worst = {"loss": (0.0, None), "grad": (0.0, None)}
for k in sorted(b):
    scale = abs(b[k]).max()
    rel = abs(a[k] - b[k]).max() / scale if scale > 0 else abs(a[k]).max()
    kind = k.split(".")[0]
    if rel >= worst[kind][0]:
        worst[kind] = (rel, k)
for kind, (rel, k) in worst.items():
    print(f"max relative difference, {kind}: {rel:.3e} ({k})")
