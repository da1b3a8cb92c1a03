

# ---- weights ----

_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}


def load_safetensors(path):
    """The tensors of a .safetensors file, by name (a plain reader: only torch is needed)."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=_DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    weights = argv[1] if len(argv) > 1 else os.path.join(here, "weights.safetensors")
    check = argv[2] if len(argv) > 2 else os.path.join(here, "check.safetensors")
    model = Model.from_safetensors(weights).eval()
    print(f"{sum(p.numel() for p in model.parameters())} parameters loaded from {weights}")
    if not os.path.exists(check):
        print(f"no check file {check}: nothing to compare")
        return 0
    want = load_safetensors(check)
    with torch.no_grad():
        got = model(want["tokens"])
    diff = (got - want["logits"]).abs().max().item()
    ok = diff <= 1e-4
    print(f"logits of {tuple(want['tokens'].shape)} tokens: max |difference| from primer's = {diff:.3g} "
          f"({'ok' if ok else 'MISMATCH'}, tolerance 1e-4)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
