

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


def _max_finite(t):
    t = t.abs()
    t = t[torch.isfinite(t)]
    return t.max().item() if t.numel() else 0.0


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
    tokens, theirs = want["tokens"], want["logits"]
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        got = model(tokens)
        exact = copy.deepcopy(model).double()(tokens)
        # This file's own float32 rounding error. Another float32 implementation (primer's)
        # sums in other orders, with an error of the same order: four times it is allowed. In
        # float64 there is no wider type: the two must agree more closely than a float32 run
        # agrees with them.
        if dtype == torch.float64:
            err = _max_finite(copy.deepcopy(model).float()(tokens).double() - exact)
            unit, factor = 2.0 ** -53, 1
        else:
            err = _max_finite(got.double() - exact)
            unit, factor = 2.0 ** -24, 4
    bound = factor * err + 2 * unit * _max_finite(exact)
    finite = torch.isfinite(got) & torch.isfinite(theirs)
    diff = _max_finite(got - theirs)
    off = _max_finite((theirs.double() - exact)[finite])
    ok = bool((torch.isfinite(got) == torch.isfinite(theirs)).all()) and off <= bound
    print(f"logits of {tuple(tokens.shape)} tokens: max |difference| from primer's = {diff:.3g}; "
          f"from float64, primer's {off:.3g}, this file's {err:.3g} "
          f"({'ok' if ok else 'MISMATCH'}, bound {bound:.3g} from this file's float32 rounding error "
          f"+ one rounding each)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
