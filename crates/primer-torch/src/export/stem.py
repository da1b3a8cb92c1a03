

# ---- the stem around the layers ----


class Model(nn.Module):
    """Byte embedding + learned positions, N_LAYERS x `@MAIN@`, final layer norm, projection."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Parameter(torch.randn(VOCAB, D_MODEL) * @STD@)
        self.pos = nn.Parameter(torch.randn(SEQ_LEN, D_MODEL) * @STD@)
        for i in range(N_LAYERS):
            self.add_module(f"l{i}", @MAIN@())
        self.norm_g = nn.Parameter(torch.ones(D_MODEL))
        self.norm_b = nn.Parameter(torch.zeros(D_MODEL))
        self.head_w = nn.Parameter(torch.randn(D_MODEL, VOCAB) / math.sqrt(D_MODEL))
        self.head_b = nn.Parameter(torch.zeros(VOCAB))

    def forward(self, tokens):
        """Logits [batch, time, VOCAB] for tokens [batch, time] (int64, time <= SEQ_LEN)."""
        T = tokens.shape[1]
        h = (self.tok[tokens] + self.pos[:T]).unsqueeze(1)  # [batch, 1 copy, time, D_MODEL]
        for i in range(N_LAYERS):
            h = getattr(self, f"l{i}")(h)
        h = F.layer_norm(h.squeeze(1), (D_MODEL,), self.norm_g, self.norm_b, 1e-5)
        return h @ self.head_w + self.head_b

    def loss(self, window):
        """Mean next-byte cross-entropy (nats) of windows [batch, time + 1]."""
        logits = self(window[:, :-1])
        return F.cross_entropy(logits.reshape(-1, VOCAB), window[:, 1:].reshape(-1))

    @classmethod
    def from_safetensors(cls, path):
        """A model with the weights of a .safetensors file (in their precision)."""
        weights = load_safetensors(path)
        model = cls().to(next(iter(weights.values())).dtype)
        model.load_state_dict(weights, strict=True)
        return model
