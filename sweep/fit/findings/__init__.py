"""The papers' findings (README "Reproducing the papers") checked on a sweep's runs, each with a
verdict: held, did not hold, or cannot tell from these runs (sweep/fit/findings/verdict.py).

The registry: `CHECKS` lists the check functions in the issue's order, each
`assess_NAME(table, *, resamples, seed) -> Finding | None` (None: the table holds no runs that
test it), its docstring's first line the paper's claim. `assess_findings` runs them all on every
run, the stopped ones standing with their predicted loss (`table.with_stopped()`, as the
hyperparameter laws take them); a check that raises ConfigError on odd data gives a CANNOT_TELL
Finding with the error as its reason, so a finding never stops the report. `NEEDS` says, per
finding, which runs make it present (the report's line when none is).
"""

from __future__ import annotations

import numbers
from typing import Callable

from sweep.errors import ConfigError
from sweep.fit.findings.recipes import assess_l2_vs_decay, assess_lr_crossover
from sweep.fit.findings.scaling import assess_density_subscaling, assess_otr
from sweep.fit.findings.ucurves import assess_batch_ucurve, assess_batch_vs_loss, assess_lr_ucurve
from sweep.fit.findings.verdict import CANNOT_TELL, Finding
from sweep.fit.table import RunsTable

Check = Callable[..., "Finding | None"]

# --- the checks, in the order (sweep/fit/findings/ucurves.py, recipes.py, scaling.py)
CHECKS: tuple[Check, ...] = (
    assess_lr_ucurve,
    assess_batch_ucurve,
    assess_l2_vs_decay,
    assess_lr_crossover,
    assess_density_subscaling,
    assess_otr,
    assess_batch_vs_loss,
)
NEEDS = {
    "lr_ucurve": ">= 3 learning rates at one (N, tokens)",
    "batch_ucurve": ">= 3 batch sizes at one (N, tokens)",
    "l2_vs_decay": "runs labelled recipe=l2 and recipe=none (and coupled / independent)",
    "lr_crossover": "runs labelled recipe=lr-constant and recipe=lr-2-over-d at several widths",
    "density_subscaling": "runs on >= 2 corpora of different duplicate rates, each >= 2 token budgets per size",
    "otr": ">= 3 tokens-per-parameter ratios with >= 3 sizes each",
    "batch_vs_loss": ">= 3 batch sizes at each of >= 2 (N, tokens)",
}


def assess_findings(table: RunsTable, *, resamples: int, seed: int,
                    checks: tuple[Check, ...] = CHECKS) -> list[Finding]:
    """The Finding of every check whose runs `table` holds, in the order of `checks`. ConfigError
    unless `resamples` (the redraws of each check's intervals) is an integer >= 1."""
    if isinstance(resamples, bool) or not isinstance(resamples, numbers.Integral) or resamples < 1:
        raise ConfigError(f"resamples {resamples!r}: the findings' redraws are an integer >= 1")
    table = table.with_stopped()
    found = []
    for check in checks:
        try:
            finding = check(table, resamples=resamples, seed=seed)
        except ConfigError as err:
            finding = Finding(name_of(check), claim_of(check), "a check that cannot read its runs says why",
                              CANNOT_TELL, str(err))
        if finding is not None:
            found.append(finding)
    return found


def name_of(check: Check) -> str:
    """The finding's name: the check's name without "assess_" (assess_lr_ucurve: lr_ucurve)."""
    return check.__name__.removeprefix("assess_")


def claim_of(check: Check) -> str:
    """The paper's claim: the first line of the check's docstring."""
    return (check.__doc__ or "").strip().splitlines()[0] if check.__doc__ else ""


def needs_line() -> str:
    """The report's line when no finding is present: the runs each one needs."""
    return ("no finding's runs are present: " +
            "; ".join(f"{name} needs {need}" for name, need in NEEDS.items()) + ".")
