"""The token and compute budget of a run, from its config alone (no data is read).

N = 12 D^2 L (+ D V when budget.count_embedding), T = tokens_per_param x N rounded up to whole
steps of batch_size x seq_len tokens, FLOPs = 6 N T.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from model import TransformerShape, param_counts
from sweep.config import TrainConfig
from sweep.data import vocab_size
from sweep.errors import ConfigError
from sweep.record import training_flops


def model_shape(cfg: TrainConfig) -> TransformerShape:
    m = cfg.model
    return TransformerShape(
        d=m.d,
        l=m.l,
        vocab_size=vocab_size(cfg.data),
        seq_len=m.seq_len,
        head_dim=m.head_dim,
        mlp_ratio=m.mlp_ratio,
        rope_base=m.rope_base,
    )


@dataclass(frozen=True)
class Budget:
    n_params: int  # N, the count the budget uses
    n_params_nonembedding: int  # of the real module (12 D^2 L + norms)
    n_params_embedding: int  # V D
    n_params_total: int  # of the real module (embedding and head included)
    tokens_target: int  # tokens_per_param x N
    tokens_per_step: int  # batch_size x seq_len
    steps: int  # ceil(tokens_target / tokens_per_step)
    tokens: int  # steps x tokens_per_step: what the run trains on
    flops: float  # 6 N tokens

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.n_params

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"N={self.n_params:,} (non-embedding {self.n_params_nonembedding:,}, "
            f"total {self.n_params_total:,}) tokens={self.tokens:,} "
            f"({self.tokens_per_param:.1f}/param) steps={self.steps:,} FLOPs={self.flops:.3e}"
        )


def compute_budget(cfg: TrainConfig) -> Budget:
    counts = param_counts(model_shape(cfg))
    n = counts.blocks_matmul + (counts.embedding if cfg.budget.count_embedding else 0)
    tokens_target = math.ceil(cfg.budget.tokens_per_param * n)
    tokens_per_step = cfg.train.batch_size * cfg.model.seq_len
    if tokens_target < tokens_per_step:
        raise ConfigError(
            f"budget of {tokens_target:,} tokens (budget.tokens_per_param="
            f"{cfg.budget.tokens_per_param} x N={n:,}) is smaller than one step of "
            f"train.batch_size={cfg.train.batch_size} x model.seq_len={cfg.model.seq_len} = "
            f"{tokens_per_step:,} tokens: use a smaller batch or a larger model"
        )
    steps = math.ceil(tokens_target / tokens_per_step)
    tokens = steps * tokens_per_step
    return Budget(
        n_params=n,
        n_params_nonembedding=counts.nonembedding,
        n_params_embedding=counts.embedding,
        n_params_total=counts.total,
        tokens_target=tokens_target,
        tokens_per_step=tokens_per_step,
        steps=steps,
        tokens=tokens,
        flops=training_flops(n, tokens),
    )
