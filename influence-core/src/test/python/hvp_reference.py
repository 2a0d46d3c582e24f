#!/usr/bin/env python3
"""Golden Hessian- and Gauss-Newton-vector products of a tiny GPT-2 (float64, torch.autograd).

Ours (influence-core tests); imports the model class of the independent PyTorch reference
(shared/reference/torch_gpt2.py, passed with --reference) and writes a fixture folder:

  config.json, model.safetensors   a random GPT-2 (float32 storage, larger-than-GPT-2 weights so the
                                   softmax is far from uniform and the loss is clearly non-quadratic)
  inputs.json                      {"layers": [...], "tokens": [[...]], "masks": [[...] or null]}
  hvp.safetensors (float64)        loss  = mean over sequences of the summed masked next-token loss
                                   grad  = its gradient w.r.t. the chosen layers (flat, our layout)
                                   v.k   = probe vectors (flat, our layout)
                                   hv.k  = H v.k, exact (double backward)
                                   gv.k  = G v.k = (1/N) sum_n J_n^T H_out J_n v.k, exact
                                           (J v by the double-vjp trick, H_out = diag(p) - p p^T per
                                           counted position, then a vjp)

"Our layout" per layer is the [dOut, dIn+1] matrix G row-major with G[:, :dIn] = W^T (W is the
Hugging Face Conv1D weight [dIn, dOut]) and G[:, dIn] = b; layers are concatenated in the given order.

Usage: /usr/bin/python3 hvp_reference.py --reference /work/shared/reference/torch_gpt2.py --out DIR
"""
import argparse
import importlib.util
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

LAYERS = ["h.0.attn.c_attn", "h.0.mlp.c_proj", "h.1.attn.c_proj", "h.1.mlp.c_fc"]
TOKENS = [[1, 5, 12, 0, 7, 7, 3, 9], [4, 2, 9, 11, 6], [10, 3, 3, 8, 1, 12, 5], [6, 0, 2],
          [12, 11, 10, 9, 8, 7, 6, 5], [2, 4, 6, 8, 10, 12]]
MASKS = [None, [0, 0, 1, 1, 1], None, None, [0, 0, 0, 0, 1, 1, 1, 1], None]
PROBES = 3


def load_reference(path):
    spec = importlib.util.spec_from_file_location("torch_gpt2", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_model(ref, seed):
    cfg = {"model_type": "gpt2", "vocab_size": 13, "n_positions": 8, "n_embd": 8, "n_layer": 2, "n_head": 2,
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    g = torch.Generator().manual_seed(seed)
    model = ref.GPT2(cfg)
    tensors = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln_" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            elif name.startswith("wte"):
                p.copy_(0.7 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            tensors["transformer." + name] = p.detach().numpy().astype(np.float32)
    return cfg, tensors


def mean_loss_terms(model, tokens, masks):
    """Per sequence: (logits [T-1, V] predicting tokens 1.., targets, 0/1 weights)."""
    out = []
    for seq, mask in zip(tokens, masks):
        ids = torch.tensor([seq])
        logits = model(ids)[0, :-1]
        w = torch.ones(len(seq) - 1, dtype=torch.float64) if mask is None else torch.tensor(mask[1:], dtype=torch.float64)
        out.append((logits, torch.tensor(seq[1:]), w))
    return out


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--reference", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--seed", type=int, default=7)
    args = a.parse_args()
    ref = load_reference(args.reference)
    torch.manual_seed(args.seed)
    cfg, tensors = make_model(ref, args.seed)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    ref.write_safetensors(os.path.join(args.out, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(args.out, "inputs.json"), "w") as f:
        json.dump({"layers": LAYERS, "tokens": TOKENS, "masks": MASKS}, f)

    model = ref.load(args.out, torch.float64)
    mods = {name: mod for name, mod in model.named_modules()}
    params = []
    for layer in LAYERS:
        params += [mods[layer].weight, mods[layer].bias]

    def to_ours(grads):  # [(W [in,out], b [out])...] -> flat
        parts = []
        for i in range(0, len(grads), 2):
            w, b = grads[i], grads[i + 1]
            parts.append(torch.cat([w.T, b[:, None]], dim=1).reshape(-1))
        return torch.cat(parts)

    def from_ours(flat):
        out, off = [], 0
        for i in range(0, len(params), 2):
            d_in, d_out = params[i].shape
            g = flat[off: off + d_out * (d_in + 1)].reshape(d_out, d_in + 1)
            off += d_out * (d_in + 1)
            out += [g[:, :d_in].T.contiguous(), g[:, d_in].contiguous()]
        assert off == flat.numel()
        return out

    n = len(TOKENS)
    terms = mean_loss_terms(model, TOKENS, MASKS)
    loss = sum((F.cross_entropy(z, t, reduction="none") * w).sum() for z, t, w in terms) / n
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dim = sum(p.numel() for p in params)
    rng = np.random.default_rng(args.seed)
    out = {"loss": np.array([loss.item()]), "grad": to_ours([g.detach() for g in grads]).numpy()}
    for k in range(PROBES):
        v = torch.from_numpy(rng.standard_normal(dim))
        vs = from_ours(v)
        hv = torch.autograd.grad(sum((g * u).sum() for g, u in zip(grads, vs)), params, retain_graph=True)
        gv = [torch.zeros_like(p) for p in params]
        for z, t, w in terms:
            # J v by the double-vjp trick: Jv = d/du (J^T u)^T v
            u = torch.zeros_like(z, requires_grad=True)
            jtu = torch.autograd.grad(z, params, u, create_graph=True)
            jv = torch.autograd.grad(jtu, u, vs, retain_graph=True)[0]
            p = z.detach().softmax(dim=-1)
            hjv = w[:, None] * (p * jv - p * (p * jv).sum(dim=-1, keepdim=True))
            for acc, g in zip(gv, torch.autograd.grad(z, params, hjv, retain_graph=True)):
                acc += g / n
        out[f"v.{k}"] = v.numpy()
        out[f"hv.{k}"] = to_ours(hv).numpy()
        out[f"gv.{k}"] = to_ours(gv).numpy()
        print(f"probe {k}: |v|={v.norm():.3f} |Hv|={out[f'hv.{k}'].__abs__().max():.4g} "
              f"|Gv|={out[f'gv.{k}'].__abs__().max():.4g} vHv={float(v @ torch.from_numpy(out[f'hv.{k}'])):.4g} "
              f"vGv={float(v @ torch.from_numpy(out[f'gv.{k}'])):.4g}")
    ref.write_safetensors(os.path.join(args.out, "hvp.safetensors"), {k: np.ascontiguousarray(x, dtype=np.float64) for k, x in out.items()})
    print(f"wrote {args.out}: dim {dim}, loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
