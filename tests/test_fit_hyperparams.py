"""sweep/fit/hyperparams.py: optimal learning rate and batch size per budget from losses drawn as
known quadratics in log lr / log batch, their power laws of compute, Kaplan's batch-vs-loss law,
the near-optimal band, flagged and skipped budgets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.hyperparams import fit_hyperparameter_law
from sweep.fit.table import RunsTable

BUDGETS = np.logspace(17, 21, 5)
LR_C, LR_E = 0.3118, -0.125  # DeepSeek LLM's eta_opt = 0.3118 C^-0.125
B_C, B_E = 0.292, 0.3271  # and B_opt = 0.292 C^0.3271
B_STAR, ALPHA_B = 2e8, 0.21  # Kaplan's B_crit = B* / loss^(1/alpha_B)


def table_of(flops_R, loss_R, lr_R=None, batch_R=None):
    flops_R = np.asarray(flops_R, dtype=float)
    n_R = np.sqrt(flops_R / 120)  # 20 tokens per parameter: one N per budget
    return RunsTable(tuple(f"run{i}" for i in range(len(flops_R))), n_R, 20 * n_R, np.asarray(loss_R, dtype=float),
                     flops_R, lr_R=None if lr_R is None else np.asarray(lr_R, dtype=float),
                     batch_size_R=None if batch_R is None else np.asarray(batch_R, dtype=float))


def swept(opt_of_c, base_of_c, noise=0.0, seed=0):
    """Per budget 7 values a factor 2 apart, the grid off-centre from the optimum by 2^0.3;
    loss = base(C) + 0.05 ln(value / opt(C))^2 (+ noise)."""
    rng = np.random.default_rng(seed)
    flops, values, losses = [], [], []
    for c in BUDGETS:
        for k in range(-3, 4):
            value = opt_of_c(c) * 2.0 ** (k + 0.3)
            flops.append(c)
            values.append(value)
            losses.append(base_of_c(c) + 0.05 * np.log(value / opt_of_c(c)) ** 2 + noise * rng.standard_normal())
    return flops, losses, values


def test_recovers_the_learning_rate_law():
    flops, losses, lrs = swept(lambda c: LR_C * c**LR_E, lambda c: 2.0 + 1e3 * c**-0.15, noise=1e-4)
    law = fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "lr")
    assert len(law.used) == 5 and all(g.status == "vertex" for g in law.groups)
    assert law.law.exponent == pytest.approx(LR_E, abs=0.01)
    assert law.law.coefficient == pytest.approx(LR_C, rel=0.03)
    assert law.loss_law is None
    json.dumps(law.to_dict())


def test_recovers_the_batch_size_laws():
    b_opt = lambda c: B_C * c**B_E  # noqa: E731
    flops, losses, batches = swept(b_opt, lambda c: (B_STAR / b_opt(c)) ** ALPHA_B)
    law = fit_hyperparameter_law(table_of(flops, losses, batch_R=batches), "batch_size")
    assert law.law.exponent == pytest.approx(B_E, abs=1e-6)
    assert law.law.coefficient == pytest.approx(B_C, rel=1e-4)
    assert law.alpha_B == pytest.approx(ALPHA_B, rel=1e-4)
    assert law.B_star == pytest.approx(B_STAR, rel=1e-3)
    assert law.to_dict()["loss_law"]["alpha_B"] == pytest.approx(ALPHA_B, rel=1e-4)


def test_groups_by_model_size():
    """C = 120 N^2 in table_of, so lr_opt = c C^e = c 120^e N^(2e)."""
    flops, losses, lrs = swept(lambda c: LR_C * c**LR_E, lambda c: 2.0)
    law = fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "lr", by="n_params")
    assert law.law.exponent == pytest.approx(2 * LR_E, abs=1e-6)
    assert law.law.coefficient == pytest.approx(LR_C * 120**LR_E, rel=1e-4)


def test_near_optimal_band_membership():
    """One budget: best 2.0, so the 0.25% band holds the losses <= 2.005."""
    loss = [2.0, 2.0049, 2.0051, 2.003, 2.3, 2.004]
    lr = [1e-3, 2e-3, 4e-3, 5e-4, 8e-3, 1e-3]
    batch = [64, 64, 64, 128, 64, 256]
    flops = [1e18] * 6 + [1e19] * 3
    table = table_of(flops, loss + [3.0, 2.9, 3.1], lr_R=lr + [1e-3, 2e-3, 4e-3], batch_R=batch + [64] * 3)
    law = fit_hyperparameter_law(table, "lr", include_flagged=True)
    band = law.groups[0].band
    assert band.runs == ("run0", "run1", "run3", "run5")
    assert band.lr_range == (5e-4, 2e-3) and band.batch_size_range == (64, 256)
    assert law.groups[1].band.runs == ("run7",)
    wider = fit_hyperparameter_law(table, "lr", include_flagged=True, band=0.01)
    assert wider.groups[0].band.runs == ("run0", "run1", "run2", "run3", "run5")


def test_flagged_and_skipped_budgets_are_reported():
    flops = [1e18] * 4 + [1e19] * 4 + [1e20] * 2 + [1e21] * 3 + [1e22] * 3
    lr = [1e-3, 2e-3, 4e-3, 8e-3] * 2 + [1e-3, 2e-3] + [1e-3, 2e-3, 4e-3] * 2
    loss = ([3.0, 2.9, 2.85, 2.83]  # best at the edge, vertex beyond it: clipped
            + [3.0, 2.9, 2.95, 2.8]  # opens downward around the best: no curvature
            + [3.0, 2.9]  # two values: skipped
            + [3.0, 2.9, 3.0] + [2.9, 2.8, 2.9])  # vertex
    law = fit_hyperparameter_law(table_of(flops, loss, lr_R=lr), "lr")
    status = [g.status for g in law.groups]
    assert status == ["clipped", "no_curvature", "skipped", "vertex", "vertex"]
    clipped = law.groups[0]
    assert clipped.opt_value == pytest.approx(8e-3) and "outside the sampled" in clipped.note
    assert law.groups[1].opt_value == 8e-3 and law.groups[2].opt_value is None
    assert len(law.used) == 2 and law.law.exponent == pytest.approx(0.0, abs=1e-9)
    assert len(fit_hyperparameter_law(table_of(flops, loss, lr_R=lr), "lr", include_flagged=True).used) == 4


def test_bad_input_is_an_error():
    flops, losses, lrs = swept(lambda c: LR_C * c**LR_E, lambda c: 2.0)
    with pytest.raises(ConfigError, match="needs at least 2 flops groups.*0 of 5 qualify.*skipped"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=[1e-3] * len(flops)), "lr")  # one lr only
    with pytest.raises(ConfigError, match="has no 'batch_size' values"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "batch_size")
    with pytest.raises(ConfigError, match="param 'wd'"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "wd")
    bad = np.array(lrs)
    bad[4] = -1.0
    with pytest.raises(ConfigError, match="run 'run4': lr = -1.0"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=bad), "lr")
    losses[2] = float("nan")
    with pytest.raises(ConfigError, match="run 'run2': loss = nan"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "lr")
