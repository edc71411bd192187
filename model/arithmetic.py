"""Parameter and FLOP arithmetic of the transformer, as closed formulas.

The scaling-law parameter count is N = 12 D^2 L (+ D V): per block 4 D^2 in attention
(q, k, v, out) and 2 F D = 8 D^2 in the MLP. The real module adds the norm gains, counted
separately so that tests can check the formulas against `Transformer.parameters()` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.transformer import TransformerShape


@dataclass(frozen=True)
class ParamCounts:
    blocks_matmul: int  # L * (4 D^2 + 2 F D): 12 D^2 L when F = 4 D
    norms: int  # RMSNorm gains: 2 D + 2 K per block, plus the final D
    embedding: int  # V * D (input embedding)
    head: int  # D * V (untied output head)

    @property
    def nonembedding(self) -> int:
        """Everything but the embedding and the head: 12 D^2 L up to norms."""
        return self.blocks_matmul + self.norms

    @property
    def total(self) -> int:
        return self.nonembedding + self.embedding + self.head


def param_counts(shape: TransformerShape) -> ParamCounts:
    d, l, v, k = shape.d, shape.l, shape.vocab_size, shape.head_dim
    return ParamCounts(
        blocks_matmul=l * (4 * d * d + 2 * shape.f * d),
        norms=l * (2 * d + 2 * k) + d,
        embedding=v * d,
        head=d * v,
    )


def flops_per_token(shape: TransformerShape, seq_len: int | None = None) -> float:
    """Training FLOPs per token (forward + backward = 3x forward): 6 x the matmul weights that
    a token passes through (blocks and head; an embedding lookup is free) plus attention's
    score and value products, 12 L D T (no discount for the causal mask), at T = seq_len."""
    t = shape.seq_len if seq_len is None else seq_len
    counts = param_counts(shape)
    return 6.0 * (counts.blocks_matmul + counts.head) + 12.0 * shape.l * shape.d * t


# Dense (no sparsity) bf16 tensor-core peak FLOP/s from vendor datasheets, per device. Used for
# MFU and for GPU-hour estimates; keys are the names `device` settings accept.
PEAK_FLOPS_BF16 = {
    "h100-sxm": 989e12,
    "h100-pcie": 756e12,
    "h200": 989e12,
    "a100": 312e12,
    "l40s": 362e12,
    "l4": 121e12,
}


def peak_flops(device: str) -> float:
    try:
        return PEAK_FLOPS_BF16[device]
    except KeyError:
        raise KeyError(f"unknown device {device!r}: known peaks are for {', '.join(PEAK_FLOPS_BF16)}") from None


# Substrings of torch.cuda.get_device_name() -> PEAK_FLOPS_BF16 key, most specific first
# ("NVIDIA H100 80GB HBM3" is an SXM part, "NVIDIA H100 PCIe" is not).
_DEVICE_NAMES = (("h100 pcie", "h100-pcie"), ("h100", "h100-sxm"), ("h200", "h200"), ("a100", "a100"),
                 ("l40s", "l40s"), ("l4", "l4"))


def device_key(device_name: str) -> str | None:
    """The PEAK_FLOPS_BF16 key of a CUDA device name, or None when its peak is not known."""
    name = device_name.lower()
    return next((key for part, key in _DEVICE_NAMES if part in name), None)
