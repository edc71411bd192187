"""launch/grid.py: grid expansion and validation of every point before any runs."""

import pytest

from launch.grid import compose_grid, split_grid
from sweep.errors import ConfigError


def test_split_grid_is_the_cartesian_product_in_launch_order():
    points = split_grid(["model.d=64,128", "model.l=1,2", "seed=3"])
    assert points == [
        ["model.d=64", "model.l=1", "seed=3"],
        ["model.d=64", "model.l=2", "seed=3"],
        ["model.d=128", "model.l=1", "seed=3"],
        ["model.d=128", "model.l=2", "seed=3"],
    ]


def test_hydra_range_and_choice_syntax_expand_too():
    assert len(split_grid(["seed=range(0,3)", "optim.lr=choice(1e-3,3e-3)"])) == 6


def test_compose_grid_gives_budgets_and_pending_state(tmp_path):
    grid = compose_grid(["model.d=64,128", "model.l=2", f"out_dir={tmp_path}"])
    assert [p.cfg.model.d for p in grid] == [64, 128]
    assert grid[0].budget.n_params < grid[1].budget.n_params
    assert {p.state() for p in grid} == {"pending"}
    assert grid[0].run.path.parent == tmp_path


def test_every_invalid_point_is_named_in_one_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        compose_grid(["model.d=64,100,130", "model.l=1,0", f"out_dir={tmp_path}"])
    message = str(err.value)
    assert message.startswith("5 of 6 grid points are invalid; nothing was run")
    assert "model.d=100 model.l=1: model.d=100 is not a multiple of model.head_dim=64" in message
    assert "model.d=64 model.l=0: model.l=0" in message


def test_a_typo_in_a_grid_is_reported_with_its_point(tmp_path):
    with pytest.raises(ConfigError, match="modle"):
        compose_grid(["modle.d=64,128", f"out_dir={tmp_path}"])


def test_the_demo_config_declares_its_own_grid(tmp_path):
    grid = compose_grid([f"out_dir={tmp_path}"], config_name="demo")
    assert len(grid) >= 6
    assert len({p.budget.n_params for p in grid}) >= 3
