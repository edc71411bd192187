"""sweep/fit/candidates.py: the runs `sweep suggest` chooses among, from a sweep folder, a W&B group
or a table file."""

import pytest

from sweep.budget import compute_budget
from sweep.config import to_plain
from sweep.errors import ConfigError
from sweep.fit.candidates import NO_CONFIGS, candidate_set, candidate_widths, replaced, table_candidates
from sweep.fit.table import from_rows
from sweep.rundir import RunDir
from tests.helpers import write_runs


BASE_LR = "optim.lr=0.002"  # the tuned learning rate of the best run of the largest N


def finished_run(tiny_config, d, tokens_per_param, loss, lr="optim.lr=0.003"):
    """A complete run folder (config, overrides, result) written without training."""
    overrides = [f"model.d={d}", f"budget.tokens_per_param={tokens_per_param}", lr, "model.head_dim=16"]
    cfg = tiny_config(*overrides)
    budget = compute_budget(cfg)
    run = RunDir.for_config(cfg)
    run.write_config(cfg)
    run.record_overrides(overrides)
    run.write_result({"status": "complete", "d": d, "l": cfg.model.l, "tokens_per_param": tokens_per_param,
                      "n_params": budget.n_params, "tokens": budget.tokens, "flops": budget.flops,
                      "steps": budget.steps, "final_eval_loss": loss})
    return run


@pytest.fixture
def sweep_folder(tiny_config, tmp_path):
    """3 widths x 2 token budgets; at the largest width a second learning rate that did better."""
    for d, loss in ((16, 5.0), (32, 4.6), (48, 4.4)):
        for tokens_per_param in (1, 2):
            finished_run(tiny_config, d, tokens_per_param, loss - 0.1 * tokens_per_param)
    finished_run(tiny_config, 48, 2, 4.0, lr=BASE_LR)
    return tmp_path / "runs"


def test_a_sweep_s_candidates_take_the_best_run_of_the_largest_n_and_vary_width_depth_and_tokens(sweep_folder):
    cands = candidate_set(str(sweep_folder))
    assert cands.base.cfg.optim.lr == 0.002 and cands.base.cfg.model.d == 48
    assert cands.axes == {"model.d": (16, 32, 48, 64, 80, 96), "model.l": (1,), "budget.tokens_per_param": (1, 2)}
    assert len(cands.candidates) == 6 * 2 and cands.left_out == 0
    for c in cands.candidates:
        cfg = cands.configs[c.label]
        assert cfg.model.d % cfg.model.head_dim == 0 and c.steps >= 1
        budget = compute_budget(cfg)
        assert (c.n_params, c.tokens, c.flops, c.steps) == (budget.n_params, budget.tokens, budget.flops, budget.steps)
        assert cfg.optim.lr == 0.002  # the base's tuned settings
    (d64,) = [c for c in cands.candidates if c.label == "d64-l1-tpp2"]
    keys = [o.split("=")[0] for o in d64.overrides]
    assert sorted(keys) == sorted(set(keys))  # each key once
    assert {"model.d=64", "budget.tokens_per_param=2", BASE_LR, "model.head_dim=16", "model.l=1"} <= set(d64.overrides)


def test_given_axes_replace_the_sweep_s_and_points_without_one_step_are_left_out(sweep_folder):
    cands = candidate_set(str(sweep_folder), "model.l=1,2 budget.tokens_per_param=0.01")
    assert cands.axes["model.l"] == (1, 2) and cands.axes["model.d"] == (16, 32, 48, 64, 80, 96)
    # 0.01 tokens per parameter of the narrowest models is less than one step of 4 x 32 tokens
    assert cands.left_out > 0 and "smaller than one step" in cands.left_out_reason
    assert len(cands.candidates) + cands.left_out == 6 * 2
    assert all(c.steps >= 1 for c in cands.candidates)


@pytest.mark.parametrize("text, message", [
    ("model.x=1", "accepted for a sweep folder or W&B group are model.d, model.l, budget.tokens_per_param"),
    ("model.d=abc", "model.d='abc': accepted is a whole number >= 1"),
    ("model.l=1.5", "model.l='1.5': accepted is a whole number >= 1"),
    ("budget.tokens_per_param=-2", "accepted is a number > 0"),
    ("model.d=40", "model.d=40: not a multiple of model.head_dim=16"),
    ("model.d=32 model.d=64", "model.d is given twice"),
])
def test_bad_candidates_are_one_clear_error_naming_the_value(sweep_folder, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        candidate_set(str(sweep_folder), text)


def test_many_widths_are_thinned_geometrically_keeping_the_sweep_s_own():
    widths = candidate_widths([64, 320, 1024], head_dim=64, max_widths=10)
    assert {64, 320, 1024} <= set(widths) and max(widths) == 2048
    assert all(d % 64 == 0 for d in widths) and len(widths) <= 13 < len(range(64, 2049, 64))
    assert candidate_widths([16, 48], head_dim=16, max_widths=10) == (16, 32, 48, 64, 80, 96)  # few: every one


def test_replaced_overrides_set_the_axes_once_and_keep_the_others_in_order():
    assert replaced(["model.d=48", "optim.lr=0.002", "+budget.tokens_per_param=2"],
                    {"model.d": 64, "budget.tokens_per_param": 20.0, "model.l": 2}) == (
        "model.d=64", "optim.lr=0.002", "budget.tokens_per_param=20.0", "model.l=2")


def test_a_table_file_s_candidates_are_on_n_only_without_a_command(tmp_path):
    rows = [{"run": f"r{n}-{r}", "status": "complete", "n_params": n, "tokens": n * r, "final_eval_loss": 3.0}
            for n in (1e6, 2e6) for r in (10, 20.0004)]
    path = tmp_path / "runs.csv"
    from_rows(rows)  # a valid table
    write_runs(path, rows)
    cands = candidate_set(str(path))
    assert cands.axes == {"n_params": (1e6, 2e6, 4e6, 8e6), "budget.tokens_per_param": (10.0, 20.0)}
    assert len(cands.candidates) == 8 and all(c.overrides == () and c.steps is None for c in cands.candidates)
    assert cands.why_no_command == NO_CONFIGS and cands.configs == {}
    assert candidate_set(str(path), "n_params=3e6 budget.tokens_per_param=40").axes == {
        "n_params": (3e6,), "budget.tokens_per_param": (40.0,)}
    with pytest.raises(ConfigError, match="accepted for a table file .* are n_params, budget.tokens_per_param"):
        candidate_set(str(path), "model.d=64")


def test_a_published_table_of_runs_at_every_ratio_gives_a_bounded_set_of_candidates():
    """234 Chinchilla-scale runs, each at its own tokens per parameter and copies of a model differing
    in the last digits of N, gave 29,468 candidates and a covariance too large to hold: the ratios
    are spread over the middle 90% of them past suggest_max_ratios, a model's copies are one size."""
    import numpy as np

    rng = np.random.default_rng(0)
    n_R = np.repeat([7.3824672e7, 1.4e8, 5.5e8, 2.3e9], 50) + rng.integers(0, 400, 200)  # 4 models, copies
    ratios_R = np.exp(rng.uniform(np.log(1.1), np.log(250), 200))
    ratios_R[:50] = np.exp(rng.uniform(np.log(50), np.log(250), 50))  # the smallest model trained long only
    table = from_rows([{"run": f"r{i}", "status": "complete", "n_params": float(n), "tokens": float(n * r),
                        "final_eval_loss": 3.0} for i, (n, r) in enumerate(zip(n_R, ratios_R))])
    cands = table_candidates(table, {})
    ratios = cands.axes["budget.tokens_per_param"]
    low, high = np.quantile(ratios_R, (0.05, 0.95))  # the far ends of a table's ratios set no candidate
    assert len(ratios) <= 10 and ratios[0] == pytest.approx(low, rel=0.05) and ratios[-1] == pytest.approx(high, rel=0.05)
    assert cands.axes["n_params"] == (7.38e7, 1.4e8, 5.5e8, 2.3e9, 4.6e9, 9.2e9)  # 4 models, 2x and 4x the largest
    fewest = float(table.tokens_R.min())  # no candidate below the table's fewest tokens: the law is unknown there
    assert all(c.tokens >= fewest for c in cands.candidates) and cands.left_out > 0
    assert "fewer than any run of the table" in cands.left_out_reason
    assert len(cands.candidates) + cands.left_out == 6 * len(ratios)
    assert table_candidates(table, {"budget.tokens_per_param": (5.0, 20.0)}).axes["budget.tokens_per_param"] == (
        5.0, 20.0)  # given values are taken as they are


def test_a_table_at_one_tokens_per_parameter_gets_candidates_at_other_ratios():
    """Cerebras-GPT's 7 models at 19.6 .. 20.2 tokens per parameter: the candidates were those five
    ratios only, so `sweep suggest` could propose nothing the law needed (and N2.56e8-tpp19.6, 2% from a
    run it had)."""
    import numpy as np

    n_R = np.geomspace(1.1e8, 1.3e10, 7)
    table = from_rows([{"run": f"r{i}", "status": "complete", "n_params": float(n), "tokens": float(n * r),
                        "final_eval_loss": 3.0} for i, (n, r) in enumerate(zip(n_R, (19.6, 19.8, 19.9, 20.0, 20.2,
                                                                                        19.8, 20.0)))])
    assert table_candidates(table, {}).axes["budget.tokens_per_param"] == (5.0, 10.0, 20.0, 40.0, 80.0)
    two = from_rows([{"run": f"r{i}-{r}", "status": "complete", "n_params": float(n), "tokens": float(n * r),
                      "final_eval_loss": 3.0} for i, n in enumerate(n_R) for r in (10.1, 19.8 + i / 10)])
    assert table_candidates(two, {}).axes["budget.tokens_per_param"] == (10.1, 20.0)  # two ratios: the table's


class FakeRun:
    """A W&B public-API Run as sweep/wandb_runs.py reads it."""

    def __init__(self, cfg, loss, run_id):
        budget = compute_budget(cfg)
        self.id, self.name, self.url, self.state = run_id, f"run-{run_id}", f"https://wandb/{run_id}", "finished"
        self.config = {"d": cfg.model.d, "l": cfg.model.l, "tokens_per_param": cfg.budget.tokens_per_param,
                       "config": to_plain(cfg)}
        self.summary_metrics = {"status": "complete", "n_params": budget.n_params, "tokens": budget.tokens,
                                "final_eval_loss": loss}


class FakeApi:
    def __init__(self, runs):
        self._runs = runs

    def runs(self, path, filters=None):
        return self._runs


def test_a_w_and_b_group_s_command_is_rebuilt_from_the_config_keys_that_differ_from_conf(tiny_config):
    runs = [FakeRun(tiny_config("model.d=16", "model.head_dim=16"), 5.0, "a"),
            FakeRun(tiny_config("model.d=32", "model.head_dim=16", "optim.lr=0.002"), 4.0, "b")]
    cands = candidate_set("wandb:team/project/group", api=FakeApi(runs))
    assert cands.base.name == "run-b" and cands.why_no_command is None
    (c,) = [c for c in cands.candidates if c.label == "d64-l1-tpp0.5"]
    assert {"model.d=64", "model.l=1", "budget.tokens_per_param=0.5", "optim.lr=0.002", "model.head_dim=16",
            "train.device=cpu"} <= set(c.overrides)
    assert not any(o.startswith(("model.rope_base=", "optim.b1=")) for o in c.overrides)  # conf's defaults


def test_a_w_and_b_run_without_its_full_config_is_one_clear_error(tiny_config):
    run = FakeRun(tiny_config("model.head_dim=16"), 4.0, "a")
    del run.config["config"]
    with pytest.raises(ConfigError, match="W&B run a .* has no full config"):
        candidate_set("wandb:team/project/group", api=FakeApi([run]))


def test_overrides_that_rebuild_the_base_config_are_its_command_line(tiny_config, tmp_path, shared_cache_dir):
    from tests.helpers import TINY

    full = [*TINY, f"out_dir={tmp_path / 'runs'}", f"data.cache_dir={shared_cache_dir}"]
    for d in (16, 32, 48):
        for ratio in (1, 2):
            run = finished_run(tiny_config, d, ratio, 5.0 - d / 100 - ratio / 10)
            run.record_overrides([*full, f"model.d={d}", f"budget.tokens_per_param={ratio}", "optim.lr=0.003"])
    cands = candidate_set(str(tmp_path / "runs"), "model.d=64 budget.tokens_per_param=2")
    (c,) = cands.candidates
    assert c.overrides == replaced([*full, "model.d=48", "budget.tokens_per_param=2", "optim.lr=0.003"],
                                   {"model.d": 64, "model.l": 1, "budget.tokens_per_param": 2.0})


def test_overrides_recorded_with_their_config_name_are_the_command_line_on_that_config(tmp_path):
    """`sweep demo` records `--config-name demo` beside its overrides: they rebuild the run from
    conf/demo.yaml, so the candidates keep them (the axes replaced) and name that config, not every
    setting in which conf/demo.yaml differs from conf/train.yaml."""
    from sweep.fit.candidates import composed_config

    for d in (16, 32, 48):
        for ratio in (1, 2):
            overrides = [f"model.d={d}", "model.l=1", f"budget.tokens_per_param={ratio}",
                         f"out_dir={tmp_path / 'runs'}"]
            cfg = composed_config(overrides, "demo")
            budget = compute_budget(cfg)
            run = RunDir.for_config(cfg)
            run.write_config(cfg)
            run.record_overrides(overrides, config_name="demo")
            run.write_result({"status": "complete", "d": d, "l": 1, "tokens_per_param": ratio,
                              "n_params": budget.n_params, "tokens": budget.tokens, "flops": budget.flops,
                              "steps": budget.steps, "final_eval_loss": 5.0 - d / 100 - ratio / 10})
    cands = candidate_set(str(tmp_path / "runs"), "model.d=64 budget.tokens_per_param=2")
    (c,) = cands.candidates
    assert cands.why_no_command is None and c.config_name == "demo"
    assert c.overrides == ("model.d=64", "model.l=1", "budget.tokens_per_param=2.0", f"out_dir={tmp_path / 'runs'}")
    assert to_plain(composed_config(c.overrides, "demo")) == to_plain(cands.configs[c.label])


def test_overrides_of_another_config_file_give_way_to_the_settings_that_differ_from_conf(
        tiny_config, tmp_path, shared_cache_dir):
    """A sweep run with --config-name demo records only its command line's overrides: composed onto
    conf/train.yaml they are another config, so the command line is every setting of the base run
    that differs from conf/train.yaml's, and it rebuilds the base run exactly."""
    from sweep.fit.candidates import composed_config

    for d in (16, 32, 48):
        for ratio in (1, 2):
            run = finished_run(tiny_config, d, ratio, 5.0 - d / 100 - ratio / 10)
            run.record_overrides([f"model.d={d}", f"budget.tokens_per_param={ratio}"])  # not the TINY settings
    cands = candidate_set(str(tmp_path / "runs"), "model.d=48 model.l=1 budget.tokens_per_param=2")
    assert cands.why_no_command is None
    (c,) = [c for c in candidate_set(str(tmp_path / "runs"), "model.d=64 budget.tokens_per_param=2").candidates]
    assert "model.seq_len=32" in c.overrides and "train.batch_size=4" in c.overrides
    same_axes = [o for o in c.overrides if not o.startswith("model.d=")] + ["model.d=48"]
    assert to_plain(composed_config(same_axes)) == to_plain(cands.base.cfg)
