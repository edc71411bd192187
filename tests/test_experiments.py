"""The experiment presets (conf/experiment/NAME.yaml, `+experiment=NAME`): each of the papers'
findings as a ready grid at two scales, the CPU one and the paper's (launch/grid.py
config_grids / experiment_scale; README "Reproducing the papers")."""

import subprocess
import sys
from pathlib import Path

import pytest

import yaml

from hydra_plugins.sweep_launchers import launcher_options
from launch.grid import compose_grid, experiment_names
from launch.submit import SlurmOptions, plan_slurm
from sweep.errors import ConfigError
from tests.helpers import slurm_tools

REPO = Path(__file__).resolve().parent.parent
FINDINGS = ("lr_ucurve", "batch_ucurve", "l2_vs_decay", "lr_crossover", "density_subscaling", "otr", "batch_vs_loss")


def plan(tmp_path, name, *overrides):
    return compose_grid([f"+experiment={name}", f"out_dir={tmp_path}", "logger=none", *overrides])


def test_every_finding_of_the_issue_has_a_preset():
    assert sorted(FINDINGS) == experiment_names()


@pytest.mark.parametrize("name", FINDINGS)
def test_each_preset_plans_at_the_cpu_scale_on_the_synthetic_corpus_and_the_cpu(tmp_path, name):
    grid = plan(tmp_path, name)
    assert len(grid) >= 10
    for point in grid:
        cfg = point.cfg
        assert cfg.experiment.name == name and cfg.experiment.scale == "cpu"
        assert cfg.data.source.value == "synthetic" and cfg.train.device.value == "cpu"
        assert cfg.model.d % cfg.model.head_dim == 0 and point.budget.steps >= 1
    assert len({p.run.path for p in grid}) == len(grid)  # no two points are one run


@pytest.mark.parametrize("name", FINDINGS)
def test_each_preset_plans_at_the_papers_scale_with_gpu_hours(tmp_path, name):
    grid = plan(tmp_path, name, "experiment.scale=paper")
    assert {p.cfg.model.head_dim for p in grid} == {64} and {p.cfg.model.seq_len for p in grid} == {512}
    defaults = yaml.safe_load((REPO / "conf/hydra/launcher/slurm.yaml").read_text())
    defaults.pop("_target_")
    options = launcher_options(SlurmOptions, {**defaults, "folder": str(tmp_path / "submitit")})
    planned = plan_slurm(grid, options, slurm_states=False)
    hours = sum(p.gpu_hours for p in planned)
    assert hours > 1.0  # GPU-hours, not CPU-minutes
    assert max(p.point.budget.n_params for p in planned) > 1e8 or name in ("otr", "density_subscaling")


def test_the_grids_of_a_scale_are_a_union_of_arms_each_labelled_by_its_recipe(tmp_path):
    grid = plan(tmp_path, "lr_crossover")
    by_recipe = {}
    for point in grid:
        by_recipe.setdefault(point.cfg.recipe, set()).add((point.cfg.model.d, point.cfg.optim.lr))
    assert set(by_recipe) == {"lr-constant", "lr-2-over-d"}
    assert {lr for _, lr in by_recipe["lr-constant"]} == {2.4e-2}
    assert all(d * lr == pytest.approx(0.768) for d, lr in by_recipe["lr-2-over-d"])  # lr = c / D
    assert len(grid) == 16  # 2 recipes x 4 widths x 2 token budgets


def test_a_command_line_override_replaces_a_presets_dimension(tmp_path):
    grid = plan(tmp_path, "lr_ucurve", "model.d=32", "optim.lr=3e-3,6e-3")
    assert [(p.cfg.model.d, p.cfg.optim.lr) for p in grid] == [(32, 3e-3), (32, 6e-3)]


def test_a_scale_the_preset_lacks_is_one_error_naming_the_scales(tmp_path):
    with pytest.raises(ConfigError, match=r"experiment.scale=huge: the experiment lr_ucurve has the scales cpu, paper"):
        plan(tmp_path, "lr_ucurve", "experiment.scale=huge")


def test_a_scale_without_an_experiment_names_the_presets(tmp_path):
    with pytest.raises(ConfigError, match=r"no experiment is selected: add \+experiment=NAME \(accepted: batch_ucurve"):
        compose_grid([f"out_dir={tmp_path}", "experiment.scale=paper"])


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sweep.train", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_a_preset_without_multirun_is_one_error_saying_to_add_m(tmp_path):
    proc = cli("+experiment=otr", f"out_dir={tmp_path / 'x'}")
    assert proc.returncode == 2
    assert "error: +experiment=otr is a grid: run it with -m" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_the_papers_scale_dry_run_on_slurm_shows_gpu_hours_and_writes_nothing(tmp_path, monkeypatch):
    slurm_tools(tmp_path / "bin", monkeypatch, sinfo="")  # planned for a GPU cluster, not this machine's Slurm
    proc = cli("-m", "+experiment=batch_vs_loss", "experiment.scale=paper", "hydra/launcher=slurm", "logger=none",
               f"out_dir={tmp_path / 'x'}", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "GPU-h" in proc.stdout and "GPU-hours estimated" in proc.stdout and "plan: 18 runs" in proc.stdout
    assert not (tmp_path / "x").exists()
