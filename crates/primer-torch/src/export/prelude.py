
# ---- building blocks: the primitives with weights, and the shape rules ----
#
# Weights carry the copies axis first: a block inside `CALL[8]` holds 8 sets of weights in one
# tensor and runs them at once. An input whose copies are all still equal may carry 1 instead
# of the number of copies (it broadcasts).


class Dense(nn.Module):
    """DENSE: a linear map with bias, per copy. w [copies, c_in, c_out], b [copies, c_out]."""

    def __init__(self, copies, c_in, c_out):
        super().__init__()
        self.w = nn.Parameter(torch.randn(copies, c_in, c_out) / math.sqrt(c_in))
        self.b = nn.Parameter(torch.zeros(copies, c_out))

    def forward(self, x):
        return x @ self.w + self.b[None, :, None, :]


class Conv(nn.Module):
    """CONV3/7/15/31: a causal convolution over time with bias, per copy (time t sees t-width+1..t).
    w [copies * c_out, c_in, width], b [copies, c_out]."""

    def __init__(self, copies, c_in, c_out, width):
        super().__init__()
        self.width = width
        self.w = nn.Parameter(torch.randn(copies * c_out, c_in, width) / math.sqrt(c_in * width))
        self.b = nn.Parameter(torch.zeros(copies, c_out))

    def forward(self, x):
        n = self.b.shape[0]
        x = expand_copies(x, n)
        B, _, T, C = x.shape
        x = F.pad(x.permute(0, 1, 3, 2).reshape(B, n * C, T), (self.width - 1, 0))
        y = F.conv1d(x, self.w, self.b.reshape(-1), groups=n)
        return y.reshape(B, n, -1, T).permute(0, 1, 3, 2)


class DepthwiseConv(nn.Module):
    """DCONV3/7/15/31: a causal convolution over time of each channel on its own, no bias (the
    paper's multi-dconv-head attention puts one after Q, K and V). w [copies * channels, 1, width],
    initialised 0.5 on the current position and 0.5/width on each earlier one."""

    def __init__(self, copies, channels, width):
        super().__init__()
        self.copies, self.width = copies, width
        init = torch.full((width,), 0.5 / width)
        init[-1] = 0.5
        self.w = nn.Parameter(init.repeat(copies * channels, 1, 1))

    def forward(self, x):
        x = expand_copies(x, self.w.shape[0] // x.shape[3])
        B, n, T, C = x.shape
        x = F.pad(x.permute(0, 1, 3, 2).reshape(B, n * C, T), (self.width - 1, 0))
        y = F.conv1d(x, self.w, groups=n * C)
        return y.reshape(B, n, C, T).permute(0, 1, 3, 2)


class Scale(nn.Module):
    """SCALE: times a learned per-channel gain (init 1). g [copies, channels]."""

    def __init__(self, copies, channels):
        super().__init__()
        self.g = nn.Parameter(torch.ones(copies, channels))

    def forward(self, x):
        return x * self.g[None, :, None, :]


class Shift(nn.Module):
    """SHIFT: plus a learned per-channel bias (init 0). g [copies, channels]."""

    def __init__(self, copies, channels):
        super().__init__()
        self.g = nn.Parameter(torch.zeros(copies, channels))

    def forward(self, x):
        return x + self.g[None, :, None, :]


def cyclic(x, width):
    """The last axis repeated cyclically to `width` (how a narrower input meets a wider one)."""
    c = x.shape[-1]
    if c == width:
        return x
    if c == 1:
        return x.expand(*x.shape[:-1], width)
    return x.repeat(*([1] * (x.dim() - 1)), -(-width // c))[..., :width]


def causal_mask(scores):
    """MASK: entries of a square with key s after query t set to -1e9."""
    T = scores.shape[-2]
    future = torch.ones(T, T, dtype=torch.bool, device=scores.device).triu(1)
    return scores.masked_fill(future, -1e9)


def expand_copies(x, n):
    """`x` with n copies on the copies axis (an input whose copies are still equal carries 1)."""
    if x.shape[1] == n:
        return x
    return x.expand(-1, n, -1, -1).contiguous()


def spread(x, k):
    """The input of a `CALL[k]` inside copies: each copy repeated k times."""
    if x.shape[1] == 1:
        return x
    return x.repeat_interleave(k, dim=1)


def join_copies(y, k):
    """The output of a `CALL[k]`: the k copies of each caller copy concatenated on channels."""
    B, n, T, C = y.shape
    return y.reshape(B, n // k, k, T, C).permute(0, 1, 3, 2, 4).reshape(B, n // k, T, k * C)


def attention(q, k, v, scale):
    """Causal softmax attention of queries q and keys k ([B, copies, T, c]) over values v."""
    n = max(q.shape[1], k.shape[1], v.shape[1])
    q, k, v = expand_copies(q, n), expand_copies(k, n), expand_copies(v, n)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
