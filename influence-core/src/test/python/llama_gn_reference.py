#!/usr/bin/env python3
"""Golden Gauss-Newton-vector products of Llama-family models (float64, torch.autograd).

Ours (influence-core tests); imports the independent PyTorch reference (shared/reference/torch_llama.py,
passed with --reference) and reads the golden fixtures in src/test/resources/golden. For each case it
writes src/test/resources/golden/<case>/gn.json ({"base", "adapter", "layers", "tokens", "masks"}) and
gn.safetensors (float64):

  v.k   probe vectors (flat, our layout)
  gv.k  G v.k = (1/N) sum_n J_n^T H_out,n J_n v.k, exact: J v by the double-vjp trick, H_out = w (diag p - p p^T)
        per position (w = the loss mask), then a vjp; N = number of sequences (mean loss)

"Our layout" per layer is the [dOut, dIn (+1)] matrix row-major: the nn.Linear weight [out, in] as it is, then the
bias (if the layer has one) as last column; LoRA layers <module>.lora_A / .lora_B are nn.Linear without bias.

Usage: /usr/bin/python3 llama_gn_reference.py --reference /work/shared/reference/torch_llama.py --golden DIR
"""
import argparse
import importlib.util
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

CASES = {
    # case folder: (base, adapter or None, layers, masks by sequence index)
    "llama-l3": ("llama-l3", None, ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                                    "model.layers.1.self_attn.v_proj", "model.layers.1.self_attn.o_proj",
                                    "model.layers.0.mlp.down_proj", "model.layers.1.mlp.gate_proj"]),
    "qwen3": ("qwen3", None, ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                              "model.layers.1.mlp.up_proj", "model.layers.1.self_attn.o_proj"]),
    "mistral-sw": ("mistral-sw", None, ["model.layers.0.self_attn.k_proj", "model.layers.1.self_attn.q_proj",
                                        "model.layers.1.mlp.down_proj"]),
    "qwen2-rslora": ("qwen2", "qwen2-rslora", ["model.layers.0.self_attn.q_proj.lora_A",
                                               "model.layers.0.self_attn.q_proj.lora_B",
                                               "model.layers.1.self_attn.k_proj.lora_B",
                                               "model.layers.1.mlp.gate_proj.lora_A"]),
}
PROBES = 2


def load_reference(path):
    spec = importlib.util.spec_from_file_location("torch_llama", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(ref, golden, case, seed):
    base, adapter, layers = CASES[case]
    model = ref.load(os.path.join(golden, base), torch.float64, os.path.join(golden, adapter) if adapter else None)
    with open(os.path.join(golden, case, "tokens.json")) as f:
        tokens = json.load(f)
    # the middle sequence counts only its second half (a prompt/completion mask); the others count everything
    masks = [None] * len(tokens)
    mid = tokens[1]
    masks[1] = [0] * (len(mid) // 2) + [1] * (len(mid) - len(mid) // 2)
    mods = dict(model.named_modules())
    params = []
    for layer in layers:
        m = mods[layer]
        params.append(m.weight)
        params.append(m.bias if getattr(m, "bias", None) is not None else None)
    live = [p for p in params if p is not None]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in live:
        p.requires_grad_(True)

    def to_ours(grads):  # [(W [out,in], b [out] or None)...] -> flat
        parts = []
        for i in range(0, len(grads), 2):
            w, b = grads[i], grads[i + 1]
            parts.append((w if b is None else torch.cat([w, b[:, None]], dim=1)).reshape(-1))
        return torch.cat(parts)

    def from_ours(flat):
        out, off = [], 0
        for i in range(0, len(params), 2):
            d_out, d_in = params[i].shape
            cols = d_in + (params[i + 1] is not None)
            g = flat[off: off + d_out * cols].reshape(d_out, cols)
            off += d_out * cols
            out += [g[:, :d_in].contiguous()] + ([g[:, d_in].contiguous()] if params[i + 1] is not None else [])
        assert off == flat.numel()
        return out

    terms = []
    for seq, mask in zip(tokens, masks):
        z = model(torch.tensor([seq]))[0, :-1]
        w = torch.ones(len(seq) - 1, dtype=torch.float64) if mask is None else torch.tensor(mask[1:], dtype=torch.float64)
        terms.append((z, w))
    n = len(tokens)
    dim = sum(p.numel() for p in live)
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(PROBES):
        v = torch.from_numpy(rng.standard_normal(dim))
        vs = from_ours(v)
        gv = [torch.zeros_like(p) for p in live]
        for z, w in terms:
            u = torch.zeros_like(z, requires_grad=True)
            jtu = torch.autograd.grad(z, live, u, create_graph=True)
            jv = torch.autograd.grad(jtu, u, vs, retain_graph=True)[0]
            p = z.detach().softmax(dim=-1)
            hjv = w[:, None] * (p * jv - p * (p * jv).sum(dim=-1, keepdim=True))
            for acc, g in zip(gv, torch.autograd.grad(z, live, hjv, retain_graph=True)):
                acc += g / n
        it = iter(gv)
        full = [next(it) if p is not None else None for p in params]
        out[f"v.{k}"] = v.numpy()
        out[f"gv.{k}"] = to_ours(full).numpy()
        print(f"{case} probe {k}: dim {dim}, max|Gv| {np.abs(out[f'gv.{k}']).max():.4g}, "
              f"vGv {float(v @ torch.from_numpy(out[f'gv.{k}'])):.4g}")
    with open(os.path.join(golden, case, "gn.json"), "w") as f:
        json.dump({"base": base, "adapter": adapter, "layers": layers, "tokens": tokens, "masks": masks}, f)
    ref.write_safetensors(os.path.join(golden, case, "gn.safetensors"),
                          {k: np.ascontiguousarray(x, dtype=np.float64) for k, x in out.items()})


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--reference", required=True)
    a.add_argument("--golden", required=True)
    a.add_argument("--seed", type=int, default=11)
    args = a.parse_args()
    ref = load_reference(args.reference)
    torch.set_num_threads(2)
    for case in CASES:
        run(ref, args.golden, case, args.seed)


if __name__ == "__main__":
    main()
