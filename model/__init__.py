"""The NanoDO-style decoder-only transformer and its arithmetic (parameters, FLOPs)."""

from model.arithmetic import PEAK_FLOPS_BF16, ParamCounts, flops_per_token, param_counts, peak_flops
from model.transformer import Transformer, TransformerShape

__all__ = ["PEAK_FLOPS_BF16", "peak_flops", "ParamCounts", "Transformer", "TransformerShape", "flops_per_token", "param_counts"]
