"""A sweep's loss-vs-FLOPs curves, the input of Approach 1 (sweep/fit/envelope.py): the types
both readers return, from run folders (sweep/fit/curve_reader.py `read_curves`) and from a W&B
group (sweep/wandb_curves.py, which read_curves hands a `wandb:` source to).

Letters (README "The science: Letters"): N parameters, T tokens, C compute; S the records of one
run's curve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Curve:
    """One run's loss against training compute: S points, flops increasing."""

    name: str
    n_params: float
    tokens_S: np.ndarray
    flops_S: np.ndarray
    loss_S: np.ndarray


@dataclass(frozen=True)
class Curves:
    """The curves of the complete runs of a sweep; `loss_key` says which loss they hold
    (eval_loss or train_loss); `excluded` counts the runs left out, by status."""

    runs: list[Curve]
    loss_key: str
    excluded: dict[str, int] = field(default_factory=dict)
    source: str = ""


LOSS_KEYS = ("auto", "eval_loss", "train_loss")


def excluded_text(excluded: dict[str, int]) -> str:
    """The runs left out, by reason, for a message: '1 diverged, 2 failed'."""
    return ", ".join(f"{n} {status}" for status, n in sorted(excluded.items()))
