"""Checks exported models with Python's torch, for the export tests (Rust runs this).

usage: python check_export.py DIR [DIR ...]

Each DIR holds what `primer export` (or the export test) wrote: model.py, weights.safetensors,
check.safetensors (tokens and the Rust model's logits) and, when exported, model.pt (TorchScript).
For each DIR, prints one JSON line:
  dir, params (tensors in the state dict), keys_match (state_dict keys == safetensors keys),
  reader_matches (model.py's own safetensors reader == the `safetensors` package, bit for bit),
  max_abs (max |python logits - rust logits| over finite entries), not_close (entries outside
  rtol 1e-4 + atol 1e-4, NaN equal to NaN), and the same two for the TorchScript module
  (ts_max_abs, ts_not_close; null without model.pt), plus ts_batch3 (the traced module on a batch
  of 3, a batch size it was not traced with, against model.py; null without model.pt).
"""

import importlib.util
import json
import os
import sys

import torch
from safetensors.torch import load_file


def compare(got, want):
    both = torch.isfinite(got) & torch.isfinite(want)
    max_abs = (got - want).abs()[both].max().item() if both.any() else 0.0
    close = torch.isclose(got, want, rtol=1e-4, atol=1e-4, equal_nan=True)
    return max_abs, int((~close).sum().item())


def check(d, n):
    spec = importlib.util.spec_from_file_location(f"exported_{n}", os.path.join(d, "model.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ours = mod.load_safetensors(os.path.join(d, "weights.safetensors"))
    official = load_file(os.path.join(d, "weights.safetensors"))
    reader_matches = ours.keys() == official.keys() and all(torch.equal(ours[k], official[k]) for k in ours)
    model = mod.Model().to(next(iter(ours.values())).dtype)
    keys_match = set(model.state_dict().keys()) == set(ours.keys())
    model.load_state_dict(ours, strict=True)
    model.eval()
    want = load_file(os.path.join(d, "check.safetensors"))
    tokens, logits = want["tokens"], want["logits"]
    with torch.no_grad():
        got = model(tokens)
    max_abs, not_close = compare(got, logits)
    out = {"dir": d, "params": len(ours), "keys_match": keys_match, "reader_matches": reader_matches,
           "max_abs": max_abs, "not_close": not_close, "shape": list(got.shape),
           "ts_max_abs": None, "ts_not_close": None, "ts_batch3": None}
    pt = os.path.join(d, "model.pt")
    if os.path.exists(pt):
        traced = torch.jit.load(pt)
        with torch.no_grad():
            ts = traced(tokens)
            out["ts_max_abs"], out["ts_not_close"] = compare(ts, logits)
            three = torch.cat([tokens, tokens[:1].flip(1)], 0)
            out["ts_batch3"] = compare(traced(three), model(three))[1]
    return out


def main(dirs):
    for n, d in enumerate(dirs):
        try:
            print(json.dumps(check(d, n)), flush=True)
        except Exception as e:  # reported, and the Rust test fails on it
            print(json.dumps({"dir": d, "error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
