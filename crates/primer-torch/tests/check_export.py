"""Checks exported models with Python's torch, for the export tests (Rust runs this).

usage: python check_export.py DIR [DIR ...]

Each DIR holds what `primer export` (or the export test) wrote: model.py, weights.safetensors,
check.safetensors (tokens and the Rust model's logits) and, when exported, model.pt (TorchScript).

How close is close enough comes from the computation checked, not from a fixed number: libtorch
picks its CPU kernels by instruction set (ATEN_CPU_CAPABILITY, oneDNN, AMX), so two correct
implementations of one program sum in different orders and their rounding differs by an amount
that depends on the program, its weights and the machine (random programs amplify it: a norm
that divides by the root of a TANH of a squared deviation, a RECIP of a value near 0).

- A float32 export: the exact answer is approximated by model.py run in float64 on the same
  weights and tokens, and model.py's own rounding error `err` is its float32 run's distance
  from that. Another implementation of the same function in float32 (primer's compiled model,
  the traced module) sums in other orders and has a rounding error of the same order; it
  passes when it is no farther from the exact answer than `bound = 4 * err + 2 * u * max|exact|`:
  four times model.py's worst error (the worst of the two maxima over 12,288 logits fluctuates:
  over 104 programs on three kernel paths the compiled model's and the traced module's worst
  error reached 1.78 times model.py's), plus one rounding of the output in each of two
  implementations.
- A float64 export (random programs that amplify rounding): there is no wider type to compare
  with, so `err` is the float32 run's distance from the float64 one, and the float64
  implementations pass when they are no farther from model.py's float64 answer than that plus
  an output rounding each: two float64 computations of one function agree more closely than a
  float32 one agrees with them (rounding errors scale with the unit roundoff, 2^29 times smaller
  in float64), while a wrong weight or op is off by the logits' own scale.

For each DIR, prints one JSON line:
  dir, params (tensors in the state dict), keys_match (state_dict keys == safetensors keys),
  reader_matches (model.py's own safetensors reader == the `safetensors` package, bit for bit),
  dtype, err (as above), bound, max_abs (max |python - rust| over finite
  entries, for information), rust_err (max |rust - exact|), not_close (entries where rust is
  farther than `bound` from the exact answer, or finite where model.py is not, or the reverse),
  and for the TorchScript module (null without model.pt): ts_err and ts_not_close against the
  same exact logits, and ts_batch3 (the traced module on a batch of 3, a batch size it was not
  traced with: entries outside that batch's own bound) with ts_batch3_err and ts_batch3_bound.
"""

import copy
import importlib.util
import json
import os
import sys

import torch
from safetensors.torch import load_file

# Unit roundoff of each floating dtype.
UNIT = {torch.float32: 2.0 ** -24, torch.float64: 2.0 ** -53}


class Exact:
    """model.py in float64 as the exact answer, and model.py's own rounding error on `tokens`."""

    def __init__(self, model, tokens):
        self.dtype = next(model.parameters()).dtype
        self.u = UNIT[self.dtype]
        wide = copy.deepcopy(model).double()
        with torch.no_grad():
            self.exact = wide(tokens)
            self.plain = model(tokens)
            if self.dtype == torch.float64:
                narrow = copy.deepcopy(model).float()
                self.err = max_finite(narrow(tokens).double() - self.exact)
                factor = 1
            else:
                self.err = max_finite(self.plain.double() - self.exact)
                factor = 4
        scale = max_finite(self.exact)
        self.bound = factor * self.err + 2 * self.u * scale

    def outside(self, got):
        """Entries of `got` farther than the bound from the exact answer, or finite where model.py
        is not (and the reverse)."""
        got = got.double()
        plain_finite = torch.isfinite(self.plain)
        finite = torch.isfinite(got)
        both = finite & torch.isfinite(self.exact) & plain_finite
        far = ((got - self.exact).abs() > self.bound) & both
        return int(far.sum().item()) + int((finite != plain_finite).sum().item())

    def distance(self, got):
        return max_finite(got.double() - self.exact)


def max_finite(t):
    t = t.abs()
    t = t[torch.isfinite(t)]
    return t.max().item() if t.numel() else 0.0


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
    exact = Exact(model, tokens)
    both = torch.isfinite(exact.plain) & torch.isfinite(logits)
    max_abs = (exact.plain - logits).abs()[both].max().item() if both.any() else 0.0
    out = {"dir": d, "params": len(ours), "keys_match": keys_match, "reader_matches": reader_matches,
           "dtype": str(exact.dtype).replace("torch.", ""), "err": exact.err, "bound": exact.bound, "max_abs": max_abs,
           "rust_err": exact.distance(logits), "not_close": exact.outside(logits),
           "shape": list(exact.plain.shape),
           "ts_err": None, "ts_not_close": None, "ts_batch3": None, "ts_batch3_err": None,
           "ts_batch3_bound": None}
    pt = os.path.join(d, "model.pt")
    if os.path.exists(pt):
        traced = torch.jit.load(pt)
        with torch.no_grad():
            ts = traced(tokens)
            out["ts_err"], out["ts_not_close"] = exact.distance(ts), exact.outside(ts)
            three = torch.cat([tokens, tokens[:1].flip(1)], 0)
            exact3 = Exact(model, three)
            ts3 = traced(three)
            out["ts_batch3"] = exact3.outside(ts3)
            out["ts_batch3_err"], out["ts_batch3_bound"] = exact3.distance(ts3), exact3.bound
    return out


def main(dirs):
    for n, d in enumerate(dirs):
        try:
            print(json.dumps(check(d, n)), flush=True)
        except Exception as e:  # reported, and the Rust test fails on it
            print(json.dumps({"dir": d, "error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
