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


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory) -> Path:
    """One token cache for the whole test session: the embedded corpus is tokenized once."""
    return tmp_path_factory.mktemp("token_cache")
