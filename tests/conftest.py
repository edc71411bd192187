"""Shared fixtures: tiny CPU configs writing under pytest's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweep.config import TrainConfig, to_typed
from tests.helpers import TINY, compose_config

pytest_plugins = ["tests.slurm_cluster"]


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
