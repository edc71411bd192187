"""sweep/fit/findings/__init__.py: the registry runs the checks in the issue's order, on every
run with the stopped ones standing with their prediction; a check absent from the runs gives no
finding; a check that raises ConfigError on odd data gives a cannot-tell finding with the error
as its reason."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.findings import CHECKS, NEEDS, assess_findings, name_of, needs_line
from sweep.fit.findings.verdict import CANNOT_TELL, Finding, HELD
from sweep.fit.table import RunsTable

ISSUE_ORDER = ("lr_ucurve", "batch_ucurve", "l2_vs_decay", "lr_crossover", "density_subscaling", "otr",
               "batch_vs_loss")


def grid_table():
    """Two sizes, each a 5 x 5 grid of lr and batch size around a known optimum."""
    lrs, batches = np.geomspace(1e-3, 3e-2, 5), np.array([32.0, 64, 128, 256, 512])
    rows = [(n, lr, b, 3.0 + 0.05 * np.log(lr / lr_opt) ** 2 + 0.05 * np.log(b / b_opt) ** 2)
            for n, lr_opt, b_opt in ((1e7, 1e-2, 100.0), (1e8, 3e-3, 200.0)) for lr in lrs for b in batches]
    n_R, lr_R, b_R, loss_R = (np.array(c, dtype=float) for c in zip(*rows))
    return RunsTable(tuple(f"r{i}" for i in range(len(n_R))), n_R, 20 * n_R, loss_R, 120 * n_R**2, lr_R=lr_R,
                     batch_size_R=b_R, loss_stderr_R=np.full(len(n_R), 1e-3))


def test_the_checks_are_in_the_issue_s_order():
    names = [name_of(check) for check in CHECKS]
    assert names == [n for n in ISSUE_ORDER if n in names]
    assert list(NEEDS) == names
    findings = assess_findings(grid_table(), resamples=20, seed=0)
    assert [f.name for f in findings] == ["lr_ucurve", "batch_ucurve", "batch_vs_loss"]
    assert [f.verdict for f in findings] == [HELD, HELD, CANNOT_TELL]  # batch_vs_loss: 2 cells, a slope needs 3


def test_a_check_that_raises_on_odd_data_becomes_cannot_tell():
    def assess_odd(table, *, resamples, seed):
        """Odd data stays odd."""
        raise ConfigError("run 'r3': lr = -1.0; must be finite and positive")

    def assess_absent(table, *, resamples, seed):
        """Nothing here."""
        return None

    (finding,) = assess_findings(grid_table(), resamples=20, seed=0, checks=(assess_odd, assess_absent))
    assert isinstance(finding, Finding) and finding.name == "odd" and finding.verdict == CANNOT_TELL
    assert finding.because == "run 'r3': lr = -1.0; must be finite and positive"
    assert finding.claim == "Odd data stays odd."


def test_the_checks_see_the_stopped_runs_with_their_prediction():
    seen = []

    def assess_count(table, *, resamples, seed):
        """Counts."""
        seen.append((len(table), table.stopped, table.is_predicted().sum()))

    table = grid_table()
    stopped = replace(table.select(np.arange(len(table)) < 2), names=("s0", "s1"), interval_Rx2=np.full((2, 2), np.nan),
                      predicted_R=np.ones(2, dtype=bool))
    assert assess_findings(replace(table, stopped=stopped), resamples=5, seed=0, checks=(assess_count,)) == []
    assert seen == [(len(table) + 2, None, 2)]


def test_a_number_of_redraws_that_is_not_a_positive_integer_is_one_clear_error():
    for resamples in (0, 2.5, True):
        with pytest.raises(ConfigError, match=f"resamples {resamples!r}: the findings' redraws are an integer >= 1"):
            assess_findings(grid_table(), resamples=resamples, seed=0)


def test_with_no_finding_present_the_line_says_what_each_needs():
    line = needs_line()
    assert line.startswith("no finding's runs are present: ")
    assert all(f"{name} needs" in line for name in NEEDS) and ">= 3 learning rates" in line
