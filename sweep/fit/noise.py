"""The one noise rule every comparison of two losses uses: the findings' verdicts
(sweep/fit/findings/) and whether a hyperparameter grid brackets its optimum
(sweep/fit/hyperparams.py `bracketed_sides`).

Two losses differ when their difference exceeds `Z` combined standard errors,
|a - b| > Z sqrt(se_a^2 + se_b^2), the standard errors being each run's eval standard error
(result.json's final_eval_loss_stderr: the spread of the held-out loss over eval batches, divided by
sqrt(batches)). A run without one counts with `FALLBACK_RELATIVE_STDERR` of its loss. The functions
take numbers or numpy arrays of them (one comparison per element).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Z = 2.0  # standard errors a difference must exceed to count
FALLBACK_RELATIVE_STDERR = 0.002  # a run's eval standard error when it has none recorded: 0.2% of its loss


def stderr_or_fallback(loss: float, stderr: float | None) -> float:
    """A run's eval standard error, or FALLBACK_RELATIVE_STDERR of its loss when none is known."""
    if stderr is None or not math.isfinite(stderr) or stderr <= 0:
        return FALLBACK_RELATIVE_STDERR * abs(loss)
    return float(stderr)


def noise_rule_text(assumed: bool) -> str:
    """The noise rule as a note names it, saying where the standard errors were assumed (`assumed`:
    some run compared had none recorded, so FALLBACK_RELATIVE_STDERR of its loss stood in)."""
    rule = f"Z = {Z:g} combined standard errors"
    return rule + (f", each assumed {FALLBACK_RELATIVE_STDERR:.1%} of the run's loss: none in the table" if assumed
                   else "")


def combined(se_a: Any, se_b: Any) -> Any:
    return _plain(np.hypot(se_a, se_b))


def lower_by(a: Any, se_a: Any, b: Any, se_b: Any) -> Any:
    """Whether loss `a` is below loss `b` beyond the noise rule (b - a > Z combined stderr)."""
    return _plain(np.asarray(b) - a > Z * combined(se_a, se_b))


def same_within_noise(a: Any, se_a: Any, b: Any, se_b: Any) -> Any:
    return _plain(np.abs(np.asarray(a) - b) <= Z * combined(se_a, se_b))


def _plain(value: Any) -> Any:
    """A numpy scalar as Python's float or bool (a finding's numbers go to JSON); arrays as they are."""
    return value.item() if isinstance(value, np.generic) else value
