"""What a run is on a scaling plot, defined once: the arithmetic every reader of runs shares.

`training_flops(n_params, tokens)` is the compute C = 6·N·T of a run with N parameters trained on
T tokens (forward and backward of every weight once per token; attention's share is left out, as
the scaling-law papers do), for one run or element-wise for arrays of runs.
"""

from __future__ import annotations

from typing import TypeVar

Number = TypeVar("Number")


def training_flops(n_params: Number, tokens: Number) -> Number:
    """C = 6·N·T: the compute of training N parameters on T tokens (scalars or arrays)."""
    return 6.0 * n_params * tokens
