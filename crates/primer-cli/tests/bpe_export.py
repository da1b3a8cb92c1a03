"""Encodes text with an export's tokenizer.json, runs model.py with its weights on the ids,
and decodes: prints one JSON line (the test asserts on it).

    python bpe_export.py EXPORT_DIR TEXT
"""

import importlib.util
import json
import os
import sys

import torch
from tokenizers import Tokenizer


def main(d, text):
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    ids = tok.encode(text).ids
    spec = importlib.util.spec_from_file_location("exported", os.path.join(d, "model.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.Model.from_safetensors(os.path.join(d, "weights.safetensors"))
    with torch.no_grad():
        logits = model(torch.tensor([ids[: mod.SEQ_LEN]], dtype=torch.int64))
        # The next-token loss of the text, in nats per token and bits per byte.
        x = torch.tensor([ids[: mod.SEQ_LEN + 1]], dtype=torch.int64)
        nll = torch.nn.functional.cross_entropy(model(x[:, :-1])[0].float(), x[0, 1:], reduction="sum").item()
    n = x.shape[1] - 1
    covered = len(tok.decode(ids[1 : n + 1]).encode("utf-8"))
    print(json.dumps({
        "vocab": tok.get_vocab_size(),
        "tokens": len(ids),
        "round_trip": tok.decode(ids) == text,
        "shape": list(logits.shape),
        "finite": bool(torch.isfinite(logits).all()),
        "nats_per_token": nll / n,
        "bits_per_byte": nll / n / 0.6931471805599453 * n / covered,
        "greedy": tok.decode(logits[0].argmax(-1).tolist()),
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
