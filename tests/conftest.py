"""Shared fixtures: tiny CPU configs writing under pytest's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from sweep.config import TrainConfig, to_typed
from tests.helpers import TINY, compose_config

pytest_plugins = ["tests.slurm_cluster"]


def pytest_configure(config):
    """Under `-n N` (pytest-xdist: N worker processes; the README's test command runs 2, each test
    file in one), each worker and the processes its tests start use one thread: N workers of
    torch's default one thread per core would oversubscribe the cores (a 2-core machine ran 4x
    slower)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture
def tiny_config(tmp_path, shared_cache_dir):
    """compose TINY + overrides into a TrainConfig writing under tmp_path."""

    def make(*overrides: str) -> TrainConfig:
        return to_typed(compose_config(
            *TINY, f"out_dir={tmp_path / 'runs'}", f"data.cache_dir={shared_cache_dir}", *overrides))

    return make


@pytest.fixture(autouse=True)
def wandb_isolated(tmp_path_factory, monkeypatch):
    """No test reaches a W&B server, finds the user's W&B login, or writes W&B settings outside
    pytest's folders (runs that track log offline into their own run folder)."""
    home = tmp_path_factory.getbasetemp() / "wandb-home"
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_DIR"):
        monkeypatch.delenv(var, raising=False)
    for var, sub in (("WANDB_CONFIG_DIR", "config"), ("WANDB_CACHE_DIR", "cache"), ("WANDB_DATA_DIR", "data")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("NETRC", str(home / "netrc"))  # no `wandb login` entry
    # A test that goes online by mistake asks a closed port on this machine, never a real server.
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory) -> Path:
    """One token cache for the whole test session: the embedded corpus is tokenized once."""
    return tmp_path_factory.mktemp("token_cache")


SMALL_SWEEP = ("model.d=16,32,48", "budget.tokens_per_param=1,2")  # the grid of `small_sweep`


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory, shared_cache_dir):
    """A real sweep of 6 tiny runs on the embedded corpus: 3 widths x 2 token budgets
    (SMALL_SWEEP over TINY), trained once per session for the tests of the CLI and the API."""
    from sweep.run.loop import train

    out = tmp_path_factory.mktemp("small-sweep")
    for d in (16, 32, 48):
        for tokens_per_param in (1, 2):
            train(to_typed(compose_config(*TINY, f"out_dir={out}", f"data.cache_dir={shared_cache_dir}",
                                          f"model.d={d}", f"budget.tokens_per_param={tokens_per_param}")))
    return out


@pytest.fixture
def wide_console(monkeypatch):
    """The `sweep` command's tables 250 columns wide, so that no cell is cut in what a test reads."""
    monkeypatch.setenv("COLUMNS", "250")
    from launch.commands.printing import console

    monkeypatch.setattr(console, "width", 250)


# --- runs of known parametric laws (tests/parametric_runs.py), for the fits' tests ---------------

@pytest.fixture(scope="module")
def chinchilla_runs():
    """48 runs of a known Chinchilla law, 1% noise: (N_R, tokens_R, loss_R)."""
    from tests import parametric_runs

    return parametric_runs.chinchilla_runs()


@pytest.fixture(scope="module")
def chinchilla_fit(chinchilla_runs):
    from sweep.fit.parametric import fit_chinchilla

    return fit_chinchilla(*chinchilla_runs)


@pytest.fixture(scope="module")
def subscaling_runs():
    """48 runs of Chen et al.'s sub-scaling law, 0.3% noise: (N_R, tokens_R, loss_R)."""
    from tests import parametric_runs

    return parametric_runs.subscaling_runs()

