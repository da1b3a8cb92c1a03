
The evolved decoder layer is the program's `main` (class `@MAIN@` below); around it sits the
fixed stem: a token embedding plus learned positions, N_LAYERS copies of the layer with their
own weights, a final layer norm and an output projection. @PARAMS@ parameters.

Inside the layer every value is a tensor [batch, copies, time, channels], or
[batch, copies, time, time] for a "square" of attention-like scores. `CALL[k]` runs k copies of
a subprogram side by side, each with its own weights, on the copies axis, and concatenates
their outputs on channels (a multi-head attention is `CALL[8] attention_head`). Each line of a
`forward` is one instruction of the program, written in the comment beside it as primer prints
it. Causal softmax attention and layer norm run as PyTorch's fused kernels, with the
primitives they stand for in the comments.

Use:
    from model import Model
    model = Model.from_safetensors("weights.safetensors")
    logits = model(tokens)  # tokens: int64 [batch, time], ids below VOCAB, time <= SEQ_LEN

    Tokens are bytes when VOCAB is 256; otherwise the tokenizer.json exported beside this
    file gives them (byte-level BPE, read by the `tokenizers` package):
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file("tokenizer.json")
        tokens = torch.tensor([tok.encode(text).ids])   # ... tok.decode(ids) gives text back

    python model.py [weights.safetensors] [check.safetensors]
        loads the weights and checks the logits against the ones primer computed (check file):
        primer's may differ from this file's by rounding alone, as the two sum in other orders,
        so both are measured against this model run in float64, and primer's must be no
        farther from it than four times this file's own float32 rounding error (plus one
        rounding of the output each).

Only torch is needed (the safetensors reader is below).
"""

import copy
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

D_MODEL = @D@
SEQ_LEN = @T@
N_LAYERS = @L@
VOCAB = @VOCAB@

# The program, as primer prints it.
PROGRAM = r"""
@PROGRAM@"""

