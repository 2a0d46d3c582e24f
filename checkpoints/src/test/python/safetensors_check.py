#!/usr/bin/env python3
"""Independent side of the checkpoints module's cross-implementation tests (run by SafetensorsCrossCheckTest).

  dump REFERENCE FILE OUT.json [--round NAME ...]
      Reads FILE with read_safetensors from the PyTorch reference script REFERENCE (not our code)
      and writes every tensor as {"dtype", "shape", "values"} (values as Python floats/ints, exact).
      For each --round NAME (a float32 tensor), also adds "NAME@f16" = numpy float16 rounding of it
      and "NAME@bf16" = torch bfloat16 rounding of it, both widened back to float32.
  write-half OUT.safetensors OUT.json
      Writes F16 (numpy astype float16) and BF16 (torch bfloat16 bits) tensors with this script's own
      writer, and the values they stand for (widened to float32 by numpy/torch) as JSON.

Needs /usr/bin/python3 with numpy and torch (Debian python3-numpy, python3-torch).
"""
import importlib.util
import json
import struct
import sys

import numpy as np
import torch


def load_reference(path):
    spec = importlib.util.spec_from_file_location("torch_gpt2_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def as_json(arr):
    values = arr.ravel().tolist()
    return {"dtype": str(arr.dtype), "shape": list(arr.shape), "values": values}


def bf16_round(a32):
    return torch.from_numpy(a32).to(torch.bfloat16).to(torch.float32).numpy()


def dump(reference, file, out, round_names):
    tensors = load_reference(reference).read_safetensors(file)
    result = {name: as_json(arr) for name, arr in tensors.items()}
    for name in round_names:
        src = tensors[name].astype(np.float32)
        result[name + "@f16"] = as_json(src.astype(np.float16).astype(np.float32))
        result[name + "@bf16"] = as_json(bf16_round(src))
    with open(out, "w") as f:
        json.dump(result, f)


def write_half(out_file, out_json):
    rng = np.random.default_rng(3)
    specials = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 6.0e-8, -6.0e-8, 1.0e-5, 3.14159, 1.0e-3, 1234.5678],
                        dtype=np.float32)
    src = np.concatenate([specials, (rng.standard_normal(52) * 3).astype(np.float32)]).reshape(4, 16)
    f16 = src.astype(np.float16)
    bf16_bits = torch.from_numpy(src.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    blobs = {"half": f16.astype("<f2").tobytes(), "brain": bf16_bits.astype("<u2").tobytes()}
    header = {
        "half": {"dtype": "F16", "shape": [4, 16], "data_offsets": [0, len(blobs["half"])]},
        "brain": {"dtype": "BF16", "shape": [4, 16],
                  "data_offsets": [len(blobs["half"]), len(blobs["half"]) + len(blobs["brain"])]},
    }
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(out_file, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        f.write(blobs["half"])
        f.write(blobs["brain"])
    brain32 = (bf16_bits.astype(np.uint32) << 16).view(np.float32)
    with open(out_json, "w") as f:
        json.dump({"half": as_json(f16.astype(np.float32)), "brain": as_json(brain32)}, f)


def main(argv):
    if len(argv) >= 4 and argv[1] == "dump":
        rounds = [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == "--round"]
        dump(argv[2], argv[3], argv[4], rounds)
    elif len(argv) == 4 and argv[1] == "write-half":
        write_half(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
