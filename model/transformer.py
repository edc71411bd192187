"""NanoDO-style decoder-only transformer (README "The science: The model and its training setup").

Pre-norm blocks (RMSNorm), rotary position embedding, QK-norm, causal SDPA attention, GELU MLP
with F = mlp_ratio * D, no biases anywhere, untied input embedding and output head.

Letters: B batch, T sequence length, D width, H heads, K head dim (D = H * K), F MLP hidden
size, V vocabulary size, L depth. Tensor names carry their shapes: `x_BxTxD`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class TransformerShape:
    """Everything that fixes the architecture (values come from the config, `model.*`)."""

    d: int  # width D
    l: int  # depth L
    vocab_size: int  # V
    seq_len: int  # longest sequence T the rotary tables cover
    head_dim: int  # K
    mlp_ratio: int  # F = mlp_ratio * D
    rope_base: float

    @property
    def n_heads(self) -> int:
        return self.d // self.head_dim

    @property
    def f(self) -> int:
        return self.mlp_ratio * self.d


def rotary_tables(seq_len: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos_TxK2, sin_TxK2 (K2 = K / 2) for rotating query / key channel pairs (i, i + K/2)."""
    inv_freq_K2 = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angle_TxK2 = torch.outer(torch.arange(seq_len, dtype=torch.float64), inv_freq_K2)
    return angle_TxK2.cos().float(), angle_TxK2.sin().float()


def apply_rotary(x_BxHxTxK: torch.Tensor, cos_TxK2: torch.Tensor, sin_TxK2: torch.Tensor) -> torch.Tensor:
    x1, x2 = x_BxHxTxK.float().chunk(2, dim=-1)
    rotated = torch.cat((x1 * cos_TxK2 - x2 * sin_TxK2, x2 * cos_TxK2 + x1 * sin_TxK2), dim=-1)
    return rotated.type_as(x_BxHxTxK)


def norm_and_rotate(x_BxHxTxK: torch.Tensor, weight_K: torch.Tensor, cos_TxK2: torch.Tensor,
                    sin_TxK2: torch.Tensor) -> torch.Tensor:
    """apply_rotary(RMSNorm(x)) (QK-norm, then rotary) as one expression: rotating the channel pairs
    (i, i + K/2) keeps a vector's RMS, so x's RMS scale multiplies the rotated x * weight. Inductor
    then makes fewer passes than for the two modules: on an H200 at D = 1024, L = 8 the compiled
    step ran 1.04x faster (benchmarks/RESULTS.md "A third H200"). The values are the two modules'
    (fp32 math, eps as nn.RMSNorm's for fp32), with one bf16 rounding fewer under autocast.
    Compiled models use it; eager ones the modules (Attention.forward)."""
    x_BxHxTxK32 = x_BxHxTxK.float()
    scale_BxHxTx1 = torch.rsqrt(x_BxHxTxK32.pow(2).mean(-1, keepdim=True) + torch.finfo(torch.float32).eps)
    x1, x2 = (x_BxHxTxK32 * weight_K).chunk(2, dim=-1)
    rotated = torch.cat((x1 * cos_TxK2 - x2 * sin_TxK2, x2 * cos_TxK2 + x1 * sin_TxK2), dim=-1)
    return (rotated * scale_BxHxTx1).type_as(x_BxHxTxK)


class Attention(nn.Module):
    def __init__(self, shape: TransformerShape):
        super().__init__()
        self.n_heads, self.head_dim = shape.n_heads, shape.head_dim
        self.qkv = nn.Linear(shape.d, 3 * shape.d, bias=False)
        self.out = nn.Linear(shape.d, shape.d, bias=False)
        self.q_norm = nn.RMSNorm(shape.head_dim)
        self.k_norm = nn.RMSNorm(shape.head_dim)

    def forward(self, x_BxTxD: torch.Tensor, cos_TxK2: torch.Tensor, sin_TxK2: torch.Tensor) -> torch.Tensor:
        B, T, D = x_BxTxD.shape
        qkv_BxTx3xHxK = self.qkv(x_BxTxD).view(B, T, 3, self.n_heads, self.head_dim)
        q_BxHxTxK, k_BxHxTxK, v_BxHxTxK = qkv_BxTx3xHxK.permute(2, 0, 3, 1, 4).unbind(0)
        if torch.compiler.is_compiling():  # QK-norm, then rotary, as one expression for Inductor to fuse
            q_BxHxTxK = norm_and_rotate(q_BxHxTxK, self.q_norm.weight, cos_TxK2, sin_TxK2)
            k_BxHxTxK = norm_and_rotate(k_BxHxTxK, self.k_norm.weight, cos_TxK2, sin_TxK2)
        else:  # eager: nn.RMSNorm's own kernel (the expression's dozen ops ran 4% slower on a CPU)
            q_BxHxTxK = apply_rotary(self.q_norm(q_BxHxTxK), cos_TxK2, sin_TxK2)
            k_BxHxTxK = apply_rotary(self.k_norm(k_BxHxTxK), cos_TxK2, sin_TxK2)
        y_BxHxTxK = F.scaled_dot_product_attention(q_BxHxTxK, k_BxHxTxK, v_BxHxTxK, is_causal=True)
        return self.out(y_BxHxTxK.transpose(1, 2).reshape(B, T, D))


class Mlp(nn.Module):
    def __init__(self, shape: TransformerShape):
        super().__init__()
        self.up = nn.Linear(shape.d, shape.f, bias=False)
        self.down = nn.Linear(shape.f, shape.d, bias=False)

    def forward(self, x_BxTxD: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x_BxTxD)))


class Block(nn.Module):
    def __init__(self, shape: TransformerShape):
        super().__init__()
        self.attn_norm = nn.RMSNorm(shape.d)
        self.attn = Attention(shape)
        self.mlp_norm = nn.RMSNorm(shape.d)
        self.mlp = Mlp(shape)

    def forward(self, x_BxTxD: torch.Tensor, cos_TxK2: torch.Tensor, sin_TxK2: torch.Tensor) -> torch.Tensor:
        x_BxTxD = x_BxTxD + self.attn(self.attn_norm(x_BxTxD), cos_TxK2, sin_TxK2)
        return x_BxTxD + self.mlp(self.mlp_norm(x_BxTxD))


HEAD_ALIGN = 64  # the head's matmul runs on V rounded up to a multiple of this (see Transformer.logits; the
# chunked loss, sweep/run/loss.py, pads the head it multiplies by the same)


class Transformer(nn.Module):
    def __init__(self, shape: TransformerShape):
        super().__init__()
        self.shape = shape
        self.head_align = HEAD_ALIGN
        self.embed = nn.Embedding(shape.vocab_size, shape.d)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.l))
        self.norm = nn.RMSNorm(shape.d)
        self.head = nn.Linear(shape.d, shape.vocab_size, bias=False)
        cos_TxK2, sin_TxK2 = rotary_tables(shape.seq_len, shape.head_dim, shape.rope_base)
        self.register_buffer("cos_TxK2", cos_TxK2, persistent=False)
        self.register_buffer("sin_TxK2", sin_TxK2, persistent=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Fan-in init; the two projections back into the residual stream are further scaled by
        1/sqrt(2L) so the residual variance stays O(1) with depth; unit-variance embedding."""
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name == "embed.weight":
                nn.init.normal_(p, std=1.0)
            else:  # a Linear weight, shaped (out, in)
                std = p.shape[1] ** -0.5
                if name.endswith(("attn.out.weight", "mlp.down.weight")):
                    std /= math.sqrt(2 * self.shape.l)
                nn.init.trunc_normal_(p, std=std, a=-3 * std, b=3 * std)

    def hidden(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """The final normed hidden states, hidden_BxTxD: what the output head turns into logits."""
        T = tokens_BxT.shape[1]
        if T > self.shape.seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than seq_len={self.shape.seq_len}")
        cos_TxK2, sin_TxK2 = self.cos_TxK2[:T], self.sin_TxK2[:T]
        x_BxTxD = self.embed(tokens_BxT)
        for block in self.blocks:
            x_BxTxD = block(x_BxTxD, cos_TxK2, sin_TxK2)
        return self.norm(x_BxTxD)

    def logits(self, hidden_BxTxD: torch.Tensor) -> torch.Tensor:
        """logits_BxTxV from the hidden states. The head's weight is padded with zero rows to Vp,
        V rounded up to a multiple of `head_align`, and the padded columns cut off again: an output
        row of V = 32,101 columns (T5's vocabulary) has an odd stride that rules out the aligned
        tensor-core kernels (on an H200 at D = 1024, L = 8 the step ran 1.7% faster with 10% less
        peak memory; benchmarks/RESULTS.md). The values are the unpadded head's; the parameter keeps V rows."""
        V = self.head.weight.shape[0]
        pad = -V % self.head_align
        if pad == 0:
            return self.head(hidden_BxTxD)
        weight_VpxD = F.pad(self.head.weight, (0, 0, 0, pad))
        return F.linear(hidden_BxTxD, weight_VpxD)[..., :V]

    def forward(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """Logits_BxTxV for next-token prediction (a view of B x T x Vp: see `logits`)."""
        return self.logits(self.hidden(tokens_BxT))
