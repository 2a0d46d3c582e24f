#!/usr/bin/env python3
"""Golden fixtures written by the real Hugging Face `transformers` and `peft` libraries.

Run with a Python that has torch, transformers, peft and safetensors (not Debian's system python), from the
`golden/` folder:

    python hf/make_hf_fixtures.py --out .

It writes
  hf-llama/        LlamaForCausalLM (llama3 rope, untied head, grouped-query attention) saved by
                   save_pretrained(safe_serialization=True) in float32, tokens.json, grads.safetensors
  hf-qwen2-peft/   base/    Qwen2ForCausalLM (tied head, q/k/v biases) saved the same way
                   adapter/ peft LoRA adapter (r=4, alpha=8 on q_proj, v_proj, down_proj) saved by peft
                   tokens.json, grads.safetensors (gradients of the LoRA parameters only)

grads.safetensors (float64): loss.{i} [1] = SUM over positions t >= 1 of -log p(x_t | x_<t) for sequence i,
evaluated alone; grad.{i}.{name} = its gradient, names exactly as in the saved safetensors files. Losses and
gradients come from the library's own forward/backward after model.to(torch.float64), reloaded from the saved
files; only the summed next-token NLL is computed here (float64 log_softmax of the library's logits).

Note: transformers computes RMSNorm (LlamaRMSNorm/Qwen2RMSNorm cast to float32) and the rotary cos/sin (forced
float32, inv_freq computed in float32) in float32 even when the model is float64, so these "float64" numbers carry
float32 rounding in those places. --pure-float64 DIR patches those two spots (diagnostic only, never the
fixtures) and writes the same grads files under DIR, to separate that rounding from real disagreements.
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import transformers
import peft
import safetensors
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
from peft import LoraConfig, PeftModel, get_peft_model

ATTN = "sdpa"  # softmax in the input dtype (the "eager" path casts the softmax to float32)


def init_weights(model, seed):
    """Deterministic re-initialisation: norms 1 + 0.1 randn, biases 0.1 randn, embeddings 0.5 randn, matrices randn / sqrt(fan_in)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if "norm" in name:
                v = 1.0 + 0.1 * r
            elif name.endswith(".bias"):
                v = 0.1 * r
            elif "embed_tokens" in name:
                v = 0.5 * r  # tied heads: logits ~ 0.5 sqrt(hidden) wide, not sqrt(hidden)
            else:
                v = r / math.sqrt(p.shape[1])
            p.copy_(v.to(p.dtype))


def token_lists(seed, vocab, lengths):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (n,), generator=g).tolist() for n in lengths]


def summed_nll(logits, ids):
    """Sum over t >= 1 of -log p(ids[t] | ids[<t]); logits [1, T, V] float64."""
    logp = torch.log_softmax(logits[0, :-1].to(torch.float64), dim=-1)
    return -logp.gather(1, ids[0, 1:, None]).sum()


def per_sequence_grads(model, seqs, params):
    """params: list of (key to write, parameter). Returns dict of float64 tensors."""
    out = {}
    for i, seq in enumerate(seqs):
        model.zero_grad(set_to_none=True)
        ids = torch.tensor([seq])
        loss = summed_nll(model(input_ids=ids).logits, ids)
        loss.backward()
        out[f"loss.{i}"] = loss.detach().reshape(1).to(torch.float64).clone()
        for key, p in params:
            out[f"grad.{i}.{key}"] = p.grad.detach().to(torch.float64).clone().contiguous()
    return out


# ---------------------------------------------------------------- diagnostic: remove the float32 islands
def pure_float64_patches():
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.llama import modeling_llama
    from transformers.models.qwen2 import modeling_qwen2

    def rms_forward(self, h):
        return self.weight * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))

    def rope_forward(self, x, position_ids):
        freqs = position_ids[:, :, None].to(torch.float64) * self.inv_freq.to(torch.float64)[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * self.attention_scaling).to(x.dtype), (emb.sin() * self.attention_scaling).to(x.dtype)

    for mod, pre in ((modeling_llama, "Llama"), (modeling_qwen2, "Qwen2")):
        getattr(mod, pre + "RMSNorm").forward = rms_forward
        getattr(mod, pre + "RotaryEmbedding").forward = rope_forward

    def recompute_inv_freq(model):
        # the library's own rope init functions, with torch.float pointed at float64 while they run
        for m in model.modules():
            if type(m).__name__.endswith("RotaryEmbedding"):
                fn = m.compute_default_rope_parameters if m.rope_type == "default" else ROPE_INIT_FUNCTIONS[m.rope_type]
                saved = torch.float
                torch.float = torch.float64
                try:
                    inv, _ = fn(m.config)
                finally:
                    torch.float = saved
                assert inv.dtype == torch.float64
                m.inv_freq = inv
    return recompute_inv_freq


# ---------------------------------------------------------------- fixtures
def make_llama(out, grads_dir, fix64):
    d = os.path.join(out, "hf-llama")
    if fix64 is None:
        cfg = LlamaConfig(
            vocab_size=97, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=8, max_position_embeddings=64, rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 0.5,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
        torch.manual_seed(11)
        model = LlamaForCausalLM(cfg).to(torch.float32)
        init_weights(model, 11)
        if os.path.isdir(d):
            shutil.rmtree(d)
        model.save_pretrained(d, safe_serialization=True)
        with open(os.path.join(d, "tokens.json"), "w") as f:
            json.dump(token_lists(12, cfg.vocab_size, [13, 3, 8]), f)
            f.write("\n")
    with open(os.path.join(d, "tokens.json")) as f:
        seqs = json.load(f)
    model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation=ATTN).to(torch.float64)
    if fix64:
        fix64(model)
    model.eval()
    saved = set(load_file(os.path.join(d, "model.safetensors")))
    params = list(model.named_parameters())
    assert {n for n, _ in params} == saved, (sorted(saved ^ {n for n, _ in params}))
    out_t = per_sequence_grads(model, seqs, params)
    os.makedirs(os.path.join(grads_dir, "hf-llama"), exist_ok=True)
    save_file(out_t, os.path.join(grads_dir, "hf-llama", "grads.safetensors"), metadata={"format": "pt"})
    print(f"hf-llama: {len(params)} tensors, {sum(p.numel() for _, p in params)} parameters, "
          f"losses {[round(out_t[f'loss.{i}'].item(), 6) for i in range(len(seqs))]}")


def make_qwen2_peft(out, grads_dir, fix64):
    d = os.path.join(out, "hf-qwen2-peft")
    base, adapter = os.path.join(d, "base"), os.path.join(d, "adapter")
    if fix64 is None:
        cfg = Qwen2Config(
            vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=True,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
        torch.manual_seed(21)
        model = Qwen2ForCausalLM(cfg).to(torch.float32)
        init_weights(model, 21)
        if os.path.isdir(d):
            shutil.rmtree(d)
        model.save_pretrained(base, safe_serialization=True)
        model = Qwen2ForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation=ATTN)
        torch.manual_seed(22)  # peft's default init of lora_A (kaiming uniform)
        lcfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], lora_dropout=0.0,
                          use_rslora=False, task_type="CAUSAL_LM")
        pm = get_peft_model(model, lcfg)
        g = torch.Generator().manual_seed(23)
        with torch.no_grad():
            for name, p in sorted(pm.named_parameters()):
                if ".lora_B." in name:  # peft initialises lora_B to zero; non-zero so lora_A gets gradients
                    p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype))
        pm.peft_config["default"].base_model_name_or_path = "../base"
        pm.save_pretrained(adapter)
        card = os.path.join(adapter, "README.md")  # peft's boilerplate model card; not needed
        if os.path.exists(card):
            os.remove(card)
        with open(os.path.join(d, "tokens.json"), "w") as f:
            json.dump(token_lists(24, cfg.vocab_size, [11, 4, 7]), f)
            f.write("\n")
    with open(os.path.join(d, "tokens.json")) as f:
        seqs = json.load(f)
    model = Qwen2ForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation=ATTN)
    pm = PeftModel.from_pretrained(model, adapter, is_trainable=True).to(torch.float64)
    if fix64:
        fix64(pm)
    pm.eval()
    saved = set(load_file(os.path.join(adapter, "adapter_model.safetensors")))
    params = []
    for name, p in pm.named_parameters():
        if p.requires_grad:
            assert ".lora_" in name and ".default." in name, name
            params.append((name.replace(".default.", "."), p))  # peft drops the adapter name when saving
    assert {k for k, _ in params} == saved, sorted(saved ^ {k for k, _ in params})
    out_t = per_sequence_grads(pm, seqs, params)
    os.makedirs(os.path.join(grads_dir, "hf-qwen2-peft"), exist_ok=True)
    save_file(out_t, os.path.join(grads_dir, "hf-qwen2-peft", "grads.safetensors"), metadata={"format": "pt"})
    print(f"hf-qwen2-peft: {len(params)} LoRA tensors, {sum(p.numel() for _, p in params)} parameters, "
          f"losses {[round(out_t[f'loss.{i}'].item(), 6) for i in range(len(seqs))]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".", help="the golden/ folder")
    ap.add_argument("--pure-float64", metavar="DIR",
                    help="diagnostic: recompute grads from the existing fixtures with RMSNorm and rope in float64, "
                         "write them under DIR (fixtures untouched)")
    a = ap.parse_args()
    if os.environ.get("PYTHONHASHSEED") != "0":  # peft writes target_modules from a set: fix its order
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
          f"safetensors {safetensors.__version__}")
    fix64 = pure_float64_patches() if a.pure_float64 else None
    grads_dir = a.pure_float64 or a.out
    make_llama(a.out, grads_dir, fix64)
    make_qwen2_peft(a.out, grads_dir, fix64)


if __name__ == "__main__":
    main()
