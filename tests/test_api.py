"""launch/api.py: a sweep driven from Python the way a notebook does: plan a grid, run it, load
its runs as a DataFrame, filter them in pandas, fit a law from the DataFrame, draw report
figures onto the user's own axes, with matplotlib's backend left alone."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from launch import api
from sweep.config import to_typed
from sweep.errors import ConfigError
from sweep.fit.parametric import LawFit
from sweep.run.loop import train
from tests.conftest import SMALL_SWEEP
from tests.helpers import TINY, compose_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sweep(small_sweep, tmp_path_factory, shared_cache_dir):
    """The session's small sweep (3 widths x 2 token budgets) copied, its grid planned with the
    API together with one more point (the smallest width again, seed 1), and the points the plan
    says are pending trained from the overrides their rows hold."""
    out = tmp_path_factory.mktemp("api") / "sweep"
    shutil.copytree(small_sweep, out, ignore=shutil.ignore_patterns("wandb", "report"))
    common = [*TINY, f"out_dir={out}", f"data.cache_dir={shared_cache_dir}"]
    before = [api.plan([*common, *SMALL_SWEEP]), api.plan([*common, "model.d=16", "budget.tokens_per_param=1",
                                                           "seed=1"])]
    for frame in before:
        for overrides in frame[frame["state"] == "pending"]["overrides"]:
            train(to_typed(compose_config(*overrides.split())))
    return out, common, before


@pytest.fixture(scope="module")
def fitted(sweep):
    """The law a notebook fits to the runs of seed 0 (a pandas filter of the loaded runs)."""
    runs = api.load(sweep[0])
    return runs, api.fit(runs[runs["seed"] == 0], "chinchilla")


def test_plan_gives_one_row_per_point_with_its_budget_state_and_folder(sweep):
    out, common, (grid, extra) = sweep
    assert len(grid) == 6 and list(grid["state"]) == ["complete"] * 6  # the copied runs, found by identity
    assert list(extra["state"]) == ["pending"]
    assert sorted(set(grid["d"])) == [16, 32, 48] and sorted(set(grid["tokens_per_param"])) == [1, 2]
    d32 = grid[(grid["d"] == 32) & (grid["tokens_per_param"] == 1)].iloc[0]
    assert d32["n_params"] == 12 * 32**2 * 1 + 32 * 257  # as `sweep plan` counts N
    assert d32["flops"] == 6 * d32["n_params"] * d32["tokens"] and d32["steps"] > 0
    (again,) = api.plan([*common, "model.d=16", "budget.tokens_per_param=1", "seed=1"])["state"]
    assert again == "complete"
    assert all(Path(p).parent == out for p in grid["path"]) and {Path(p).name for p in grid["path"]} < {
        p.name for p in out.iterdir()}


def test_a_misspelt_fit_option_names_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"fit\(\.\.\., boostrap=\): not an option of fit; accepted: bootstrap, "
                                          r"seed, columns, compute"):  # was: TypeError naming fit_result
        api.fit("runs.csv", "chinchilla", boostrap=100)


def test_a_bad_override_is_one_config_error_naming_the_point(tmp_path):
    with pytest.raises(ConfigError, match="model.d=100 is not a multiple"):
        api.plan(["model.d=64,100", f"out_dir={tmp_path}"])
    with pytest.raises(ConfigError, match=r"overrides='model.d=64,128': accepted is a list of override strings"):
        api.plan("model.d=64,128")  # was: "missing EQUAL at '<EOF>'", a character at a time
    with pytest.raises(ConfigError, match=r"unknown key 'dd' in model; accepted keys of model: d, l"):
        api.plan(["model.dd=64"])  # was: Hydra's ConfigCompositionException
    with pytest.raises(ConfigError, match=r"'--config-name' is a command-line flag, not an override; accepted are "
                                          r"overrides \(KEY=VALUE\), with the config as api.plan\(overrides, "
                                          r"config_name=\"demo\"\)"):
        api.plan(["--config-name", "demo"])  # was: "token recognition error at: '-'"
    with pytest.raises(ConfigError, match=r"Cannot find primary config 'demoo'; accepted config names: train, demo"):
        api.plan(["model.d=64"], config_name="demoo")  # was: MissingConfigException and the search path


def test_a_notebook_loads_filters_fits_and_draws_onto_its_own_axes(fitted):
    runs, fitted = fitted
    assert len(runs) == 7 and set(runs["status"]) == {"complete"} and sorted(set(runs["seed"])) == [0, 1]
    assert {"n_params", "tokens", "flops", "final_eval_loss", "lr", "seed"} <= set(runs.columns)
    assert not any(isinstance(v, dict) for column in runs for v in runs[column])  # nested fields are dotted
    assert isinstance(fitted.fit, LawFit) and fitted.summary["n_runs"] == 6  # the seed-1 run filtered out
    assert fitted.summary["E"] == fitted.fit.law.E and fitted.summary["converged"] == fitted.fit.converged
    assert fitted.predict(1e5, 1e6) == pytest.approx(fitted.fit.law.predict(1e5, 1e6))
    user = Figure()
    left, right = user.subplots(1, 2)
    assert api.draw("loss_vs_n", fitted, ax=left) is user
    assert api.draw("residuals", fitted, ax=right) is user
    assert "Approach 3 fit" in left.get_title() and len(right.collections[0].get_offsets()) == 6
    fresh = api.draw("loss_vs_size", runs[runs["tokens_per_param"] == 2])
    assert isinstance(fresh, Figure) and fresh is not user
    assert [len(line.get_xdata()) for line in fresh.axes[0].lines] == [3]  # the 3 widths at 2 tokens/param


def test_a_figure_of_another_law_or_an_unknown_figure_is_a_config_error(fitted):
    _, fitted = fitted
    with pytest.raises(ConfigError, match="figure 'isoflop' draws a fit of isoflop .* given a chinchilla fit"):
        api.draw("isoflop", fitted)
    with pytest.raises(ConfigError, match="figure 'loss': accepted are loss_vs_n, "):
        api.draw("loss", fitted)
    with pytest.raises(ConfigError, match=r"figure 'loss_vs_size' draws runs \(api.load\(source\).*given a FittedLaw"):
        api.draw("loss_vs_size", fitted)  # was: TypeError, 'FittedLaw' object is not iterable


def test_a_figure_given_the_wrong_count_of_axes_says_how_many_it_draws(fitted):
    runs, fitted = fitted
    left, right = Figure().subplots(1, 2)
    with pytest.raises(ConfigError, match=r"this figure draws one panel: give ax=one Axes; given 2 Axes"):
        api.draw("loss_vs_n", fitted, ax=[left, right])  # was: AttributeError, 'list' object has no attribute
    with pytest.raises(ConfigError, match=r"draws 2 panels \(left, right\): give ax=\[left, right\]; given 1 Axes"):
        api.draw("loss_vs_size", runs, ax=left)  # was: ValueError
    assert api.draw("loss_vs_n", fitted, ax=[left]) is left.figure


def test_loss_vs_size_draws_a_runs_file_as_api_load_reads_it(fitted, tmp_path):
    runs, _ = fitted
    runs.to_csv(tmp_path / "runs.csv", index=False)
    figure = api.draw("loss_vs_size", tmp_path / "runs.csv")  # was: "is a file ... --runs-table FILE"
    assert [len(line.get_xdata()) for line in figure.axes[0].lines] == [
        len(line.get_xdata()) for line in api.draw("loss_vs_size", runs).axes[0].lines]


def test_a_notebook_s_fit_averages_a_setting_s_seeds_and_reads_its_own_column_names(sweep):
    """The sweep holds d16 at 1 token per parameter at seeds 0 and 1: one point, at their mean loss.
    A frame whose loss column was renamed is read by naming it."""
    import numpy as np

    runs = api.load(sweep[0])
    seeds = runs[(runs["d"] == 16) & (runs["tokens_per_param"] == 1)]
    assert sorted(seeds["seed"]) == [0, 1] and seeds["setting"].nunique() == 1
    whole = api.fit(runs, "chinchilla")
    assert (whole.summary["n_runs"], whole.summary["n_points"]) == (7, 6)
    point = whole.table.loss_R[np.isclose(whole.table.n_params_R, seeds["n_params"].iloc[0])
                               & np.isclose(whole.table.tokens_R, seeds["tokens"].iloc[0])]
    assert point.tolist() == pytest.approx([seeds["final_eval_loss"].mean()])
    renamed = runs.rename(columns={"final_eval_loss": "c4_val"})
    with pytest.raises(ConfigError, match="lacks the column\\(s\\) loss.*--column loss=COLUMN"):
        api.fit(renamed)
    assert api.fit(renamed, columns={"loss": "c4_val"}).summary["E"] == whole.summary["E"]


def test_runs_that_cannot_be_read_are_config_errors(tmp_path):
    import pandas as pd

    with pytest.raises(ConfigError, match=r"nope does not exist; accepted: a sweep folder .* also read a table of runs: "
                                          r"a file ending \.csv"):  # was: a folder or wandb: only
        api.load(tmp_path / "nope")
    with pytest.raises(ConfigError, match="runs file .*nope.csv does not exist"):
        api.load(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="lacks the column\\(s\\) n_params"):
        api.fit(pd.DataFrame({"tokens": [1e6], "loss": [3.0]}))
    with pytest.raises(ConfigError, match="source '' is empty; accepted: a sweep folder"):
        api.load("")  # was: ". holds no run folders"
    run = tmp_path / "sweep" / "d16-l1-b4-lr3.0e-03-wd0.1-tpp1-0123abcd"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    with pytest.raises(ConfigError, match=f"is a run folder; accepted: a sweep folder .*: give its sweep folder, "
                                          f"{tmp_path / 'sweep'}"):
        api.load(run)  # was: "holds no run folders (folders with a config.yaml)", of a folder with one


def test_importing_and_drawing_leave_matplotlib_s_backend_as_the_user_set_it():
    """A notebook's inline backend stays: no module switches it (it was Agg at import)."""
    code = ("import matplotlib; matplotlib.use('svg')\n"
            "import launch.api, launch.cli, sweep.fit.figures, sweep.fit.report, sweep.plots\n"
            "fig = launch.api.draw('loss_vs_size', [{'status': 'complete', 'n_params': 1e4, 'flops': 1e9, "
            "'final_eval_loss': 3.0}])\n"
            "print(matplotlib.get_backend(), type(fig).__name__)")
    env = {**os.environ, "MPLBACKEND": "svg"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["svg", "Figure"]


def test_the_plan_of_a_ladder_has_its_trunk_and_one_branch_per_budget(tmp_path):
    base = [o for o in TINY if not o.startswith("budget.tokens_per_param=")]
    planned = api.plan([*base, "optim.schedule=wsd", "budget.branch=true", "budget.tokens_per_param=1,2",
                        f"out_dir={tmp_path}"])
    assert list(zip(planned["role"], planned["tokens_per_param"])) == [("trunk", 2), ("branch", 1), ("branch", 2)]
    assert "budget.trunk=true" in planned["overrides"][0]
