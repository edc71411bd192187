"""The NanoDO-style decoder-only transformer and its arithmetic (parameters, FLOPs)."""

from model.arithmetic import ParamCounts, flops_per_token, param_counts
from model.transformer import Transformer, TransformerShape

__all__ = ["ParamCounts", "Transformer", "TransformerShape", "flops_per_token", "param_counts"]
