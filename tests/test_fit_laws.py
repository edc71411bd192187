"""sweep/fit/laws.py: every `sweep fit --law` on a runs table, as JSON-able numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.laws import LAWS, fit_law
from sweep.fit.table import from_rows

TRUE = dict(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)


def rows(noise=0.002, seed=1, recipe=None):
    rng = np.random.default_rng(seed)
    out = []
    for i, n in enumerate(np.geomspace(1e6, 1e8, 8)):
        for j, tpp in enumerate((5, 10, 20, 40)):
            d = n * tpp
            loss = (TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]) * np.exp(rng.normal(0, noise))
            out.append({"run": f"r{i}-{j}", "status": "complete", "n_params": n, "tokens": d, "flops": 6 * n * d,
                        "final_eval_loss": loss, "recipe": recipe})
    return out


def test_chinchilla_gives_the_published_quantities_and_intervals():
    table = from_rows(rows() + [{"run": "x", "status": "diverged", "n_params": 1.0, "tokens": 1.0}])
    out = fit_law("chinchilla", table, bootstrap=50, compute=1e21)
    json.dumps(out)  # JSON as it is
    assert out["n_runs"] == 32 and out["excluded"] == {"diverged": 1}
    assert out["E"] == pytest.approx(1.7, rel=0.05) and out["alpha"] == pytest.approx(0.34, abs=0.03)
    assert out["a"] == pytest.approx(out["beta"] / (out["alpha"] + out["beta"]))
    assert out["tokens_per_param"] == pytest.approx(out["d_opt"] / out["n_opt"]) and out["compute"] == 1e21
    assert out["converged"] and out["n_starts"] == 4500
    lo, hi = out["bootstrap"]["intervals"]["E"]
    assert lo <= out["E"] <= hi and out["bootstrap"]["n_resamples"] == 50


def test_compare_holds_out_the_largest_size_by_default():
    out = fit_law("compare", from_rows(rows()))
    assert out["n_held_out"] == 4 and out["cutoff"] == pytest.approx(1e8)
    assert set(out["held_out_errors"]) == {"chinchilla", "subscaling"}
    assert out["held_out_errors"]["chinchilla"]["rms_log"] < 0.02


def test_crossover_needs_two_labelled_recipes():
    with pytest.raises(ConfigError, match="recipe=NAME"):
        fit_law("crossover", from_rows(rows()))
    table = from_rows(rows(recipe="a") + rows(seed=2, recipe="b"))
    out = fit_law("crossover", table, bootstrap=20)
    assert sorted(out["recipes"]) == ["a", "b"] and isinstance(out["summary"], str)


def test_unknown_laws_and_missing_curves_are_named():
    table = from_rows(rows())
    with pytest.raises(ConfigError, match="--law 'kaplan': accepted are " + ", ".join(LAWS)):
        fit_law("kaplan", table)
    with pytest.raises(ConfigError, match="metrics.jsonl"):
        fit_law("envelope", table)
    with pytest.raises(ConfigError, match="6"):
        fit_law("chinchilla", from_rows(rows()[:3]))


def test_parametric_laws_see_the_best_run_of_each_point_and_one_recipe_at_a_time():
    worse = [dict(r, run=r["run"] + "-high-lr", final_eval_loss=r["final_eval_loss"] * 1.1) for r in rows()]
    out = fit_law("chinchilla", from_rows(rows() + worse))
    assert (out["n_runs"], out["n_points"]) == (64, 32) and out["E"] == pytest.approx(1.7, rel=0.05)
    table = from_rows(rows(recipe="a") + rows(seed=2, recipe="b"))
    with pytest.raises(ConfigError, match=r"2 recipes \(a, b\).*--recipe NAME"):
        fit_law("chinchilla", table)
    assert fit_law("chinchilla", table, recipe="b")["n_runs"] == 32
    with pytest.raises(ConfigError, match=r"--recipe 'c': the runs' recipes are \['a', 'b'\]"):
        fit_law("chinchilla", table, recipe="c")


def test_the_optimal_learning_rate_is_found_per_budget_or_per_size():
    rng = np.random.default_rng(0)
    lr_rows = []
    for n in np.geomspace(1e6, 1e8, 4):
        d = 20 * n
        lr_opt = 0.3118 * (6 * n * d) ** -0.125
        for lr in lr_opt * np.array([0.25, 0.5, 1, 2, 4]):
            loss = (2.0 + 0.05 * np.log(lr / lr_opt) ** 2) * np.exp(rng.normal(0, 1e-5))
            lr_rows.append({"run": f"{n:.0f}-{lr:.2e}", "status": "complete", "n_params": n, "tokens": d,
                            "final_eval_loss": loss, "lr": lr})
    per_budget = fit_law("lr", from_rows(lr_rows))
    per_size = fit_law("lr", from_rows(lr_rows), by="n_params")
    assert per_budget["by"] == "flops" and per_size["by"] == "n_params" and per_budget["law"] == "lr"
    assert per_budget["power_law"]["exponent"] == pytest.approx(-0.125, abs=0.01)
    assert per_size["power_law"]["exponent"] == pytest.approx(-0.25, abs=0.02)  # C = 120 N^2 here
    assert per_budget["step_law"] is None and "one line" in per_budget["step_law_skipped"]  # D = 20 N


def test_isoflop_records_each_budgets_window_and_gives_intervals_with_a_bootstrap():
    rng = np.random.default_rng(0)
    iso_rows = []
    for c in np.logspace(17, 20, 4):
        for k, n in enumerate(np.sqrt(c / 120) * np.geomspace(1 / 30, 30, 12)):  # 3 decades around 20 T/N
            d = c / (6 * n)
            loss = (TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]) * np.exp(
                rng.normal(0, 0.002))
            iso_rows.append({"run": f"c{c:.0e}-{k}", "status": "complete", "n_params": n, "tokens": d, "flops": c,
                             "final_eval_loss": loss})
    table = from_rows(iso_rows)
    plain = fit_law("isoflop", table)
    assert "bootstrap" not in plain and plain["neighbours"] == 3
    assert [b["n_sizes_fitted"] for b in plain["budgets"]] == [7, 7, 7, 7]
    out = fit_law("isoflop", table, bootstrap=50, seed=3)
    json.dumps(out)
    lo, hi = out["bootstrap"]["intervals"]["a"]
    assert lo < 0.28 / (0.34 + 0.28) < hi and out["bootstrap"]["seed"] == 3


def test_the_learning_rate_per_cell_gives_step_laws_form_in_n_and_d():
    """Sizes x tokens per parameter, an lr grid in each cell around lr_opt = 1.79 N^-0.713 D^0.307
    (Step Law's fit): --by cell finds it; --by flops keeps one optimum per budget beside it."""
    rng = np.random.default_rng(0)
    lr_rows = []
    for n in np.geomspace(1e6, 1e8, 3):
        for tpp in (5, 20, 80):
            d = tpp * n
            lr_opt = 1.79 * n**-0.713 * d**0.307
            for lr in lr_opt * 2.0 ** np.arange(-3, 4):
                loss = (2.0 + 0.05 * np.log(lr / lr_opt) ** 2) * np.exp(rng.normal(0, 1e-5))
                lr_rows.append({"run": f"{n:.0f}-{tpp}-{lr:.2e}", "status": "complete", "n_params": n, "tokens": d,
                                "final_eval_loss": loss, "lr": lr})
    per_cell = fit_law("lr", from_rows(lr_rows), by="cell")
    assert per_cell["by"] == "cell" and per_cell["groups_used"] == 9
    step = per_cell["step_law"]
    assert step["form"] == "lr_opt = c N^a D^b" and step["n_points"] == 9
    assert step["a"] == pytest.approx(-0.713, abs=0.005) and step["b"] == pytest.approx(0.307, abs=0.005)
    assert step["c"] == pytest.approx(1.79, rel=0.05) and step["a_stderr"] < 0.005
    per_budget = fit_law("lr", from_rows(lr_rows))
    assert per_budget["by"] == "flops" and per_budget["step_law"] == step
    json.dumps(per_cell)
    with pytest.raises(ConfigError, match="by='cell'"):  # a cutoff is in N or C
        fit_law("compare", from_rows(rows()), by="cell")
