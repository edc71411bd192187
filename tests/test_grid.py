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


def test_a_point_whose_result_cannot_be_read_is_damaged_and_says_which_file(tmp_path):
    grid = compose_grid(["model.d=64,128", "model.l=2", f"out_dir={tmp_path}"])
    grid[0].run.path.mkdir(parents=True)
    grid[0].run.result_file.write_text('{"status": "comp')
    assert [p.state() for p in grid] == ["damaged", "pending"]
    assert grid[1].damage() is None
    assert str(grid[0].damage()).startswith(f"{grid[0].run.result_file}: not valid JSON")


def test_a_grid_skips_its_damaged_point_trains_the_others_and_names_what_it_skipped(tmp_path, shared_cache_dir):
    from tests.test_local import multirun, results

    out = tmp_path / "sweep"
    damaged = compose_grid(["model.d=16", "model.l=1", "model.head_dim=16", "model.seq_len=32",
                            "train.batch_size=4", "budget.tokens_per_param=0.5", "data.eval_tokens=2048",
                            f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"])[0].run
    damaged.path.mkdir(parents=True)
    damaged.result_file.write_text("[]")
    proc = multirun(out, shared_cache_dir, "model.d=16,32")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert [(name.split("-")[0], r["status"]) for name, r in results(out).items() if name != damaged.path.name] \
        == [("d32", "complete")]
    assert f"skipped: {damaged.result_file}: holds a list, not a JSON object" in output
    assert "1 of 2 runs were skipped as damaged" in output and "Traceback" not in output
