"""A ladder's runs (sweep/run/loop.py with sweep/ladder.py): the trunk trains in segments and
keeps a checkpoint at each branch point; a branch started from it ends bit-identical to the wsd
run of its budget trained straight through with the same warmup; results say who is who."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import sweep.run.loop as train_module
from sweep.errors import ConfigError
from sweep.fit.curve_reader import read_curves
from sweep.fit.table import from_rows
from sweep.ladder import SEGMENT_DONE, plan_ladders
from sweep.results import load_runs
from sweep.rundir import RunDir
from sweep.run.loop import RunInterrupted, train
from sweep.run.optim import warmup_steps
from tests.helpers import StopAtStep, node_lost_at

LADDER = ("optim.schedule=wsd", "budget.branch=true", "optim.warmup_steps=1000")  # warmup: 10% of the trunk's S
BUDGETS = (0.25, 0.5)  # S = 41 and 81 steps of the TINY model; cooldown starts 33 and 65
TIMING = {"tokens_per_second", "mfu", "wall_seconds", "train_tokens_per_second", "step_seconds"}


@pytest.fixture
def ladder(tiny_config):
    """The planned ladder of BUDGETS (trunk, branches, branch steps)."""
    ladder, = plan_ladders([tiny_config(*LADDER, f"budget.tokens_per_param={b}") for b in BUDGETS])
    return ladder


def same_records(a: list[dict], b: list[dict]) -> bool:
    strip = lambda records: [{k: v for k, v in r.items() if k not in TIMING} for r in records]  # noqa: E731
    return strip(a) == strip(b)


def final_model(run: RunDir) -> dict[str, torch.Tensor]:
    return torch.load(run.checkpoint_file, weights_only=True)["model"]


def test_the_ladder_steps_of_the_tiny_model(ladder):
    assert ladder.branch_steps == (33, 65) and ladder.segments == (33, 65)
    assert warmup_steps(ladder.trunk.optim, 81) == 8


def test_a_branch_from_the_trunk_ends_bit_identical_to_the_wsd_run_trained_straight_through(
        ladder, tiny_config, tmp_path):
    small, large = ladder.branches
    assert train(ladder.trunk, until_step=33) == {"status": SEGMENT_DONE, "run": RunDir.for_config(ladder.trunk).path.name,
                                                  "step": 33}
    branch = train(small)
    straight = train(tiny_config("optim.schedule=wsd", "budget.tokens_per_param=0.25", "optim.warmup_steps=8",
                                 "optim.warmup_max_fraction=1.0", f"out_dir={tmp_path / 'straight'}"))
    assert branch["final_eval_loss"] == straight["final_eval_loss"]
    assert branch["final_train_loss"] == straight["final_train_loss"]
    branch_run = RunDir.for_config(small)
    straight_run = RunDir(tmp_path / "straight" / straight["run"])
    assert same_records(branch_run.read_metrics(), straight_run.read_metrics())
    for name, tensor in final_model(straight_run).items():
        assert torch.equal(final_model(branch_run)[name], tensor), name


def straight_run(tiny_config, tmp_path, tokens_per_param: float) -> RunDir:
    """The wsd run of a budget trained straight through with the ladder's warmup (8 steps)."""
    result = train(tiny_config("optim.schedule=wsd", f"budget.tokens_per_param={tokens_per_param}",
                               "optim.warmup_steps=8", "optim.warmup_max_fraction=1.0",
                               f"out_dir={tmp_path / 'straight'}"))
    return RunDir(tmp_path / "straight" / result["run"])


def test_the_trunk_stops_at_each_segment_end_keeps_its_checkpoint_there_and_ends_at_its_cooldown_start(ladder):
    trunk = RunDir.for_config(ladder.trunk)
    assert train(ladder.trunk, until_step=33)["status"] == SEGMENT_DONE
    assert trunk.kept_checkpoint(33).exists() and trunk.checkpoint_file.exists() and not trunk.result_file.exists()
    assert trunk.read_metrics()[-1]["step"] == 32  # a segment end is no extra log step
    result = train(ladder.trunk)  # to its end
    assert sorted(p.name for p in trunk.checkpoint_dir.iterdir()) == ["latest.pt", "step-00000033.pt",
                                                                     "step-00000065.pt"]
    assert (result["status"], result["role"], result["steps_done"]) == ("complete", "trunk", 65)
    assert result["tokens"] == 65 * 128 and result["flops"] == 6 * result["n_params"] * 65 * 128
    assert result["epochs"] == pytest.approx(65 * 128 / result["train_tokens_available"])  # not B's 81 steps
    assert trunk.read_result() == result
    lrs = [r["lr"] for r in trunk.read_metrics()]
    assert lrs[:4] == [3e-3 * s / 8 for s in (2, 4, 6, 8)] and set(lrs[3:]) == {3e-3}  # it never cools down


def test_a_segment_done_already_trains_nothing(ladder):
    trunk = RunDir.for_config(ladder.trunk)
    train(ladder.trunk, until_step=33)
    kept = trunk.kept_checkpoint(33).stat().st_mtime_ns, trunk.checkpoint_file.stat().st_mtime_ns
    assert train(ladder.trunk, until_step=33)["step"] == 33
    assert (trunk.kept_checkpoint(33).stat().st_mtime_ns, trunk.checkpoint_file.stat().st_mtime_ns) == kept
    train(ladder.trunk)
    assert train(ladder.trunk, until_step=33) == {"status": SEGMENT_DONE, "run": trunk.path.name, "step": 33}
    assert train(ladder.trunk, until_step=65) == trunk.read_result()


def test_a_trunk_interrupted_mid_segment_resumes_and_keeps_the_same_checkpoint(ladder, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(train_module, "StopRequest", StopAtStep)
        with pytest.raises(RunInterrupted):
            train(ladder.trunk, until_step=33)
    trunk = RunDir.for_config(ladder.trunk)
    assert not trunk.kept_checkpoint(33).exists()
    assert train(ladder.trunk, until_step=33)["step"] == 33
    elsewhere = dataclasses.replace(ladder.trunk, out_dir=str(tmp_path / "elsewhere"))  # never interrupted
    train(elsewhere, until_step=33)
    for name, tensor in torch.load(RunDir.for_config(elsewhere).kept_checkpoint(33), weights_only=True)["model"].items():
        assert torch.equal(torch.load(trunk.kept_checkpoint(33), weights_only=True)["model"][name], tensor), name


def test_a_trunk_already_past_a_segment_end_it_did_not_keep_is_one_clear_error_before_training(ladder):
    train(ladder.trunk, until_step=40)
    trunk = RunDir.for_config(ladder.trunk)
    with pytest.raises(ConfigError, match="at step 40, past step 33 where this trunk should have kept "
                                          "step-00000033.pt"):
        train(ladder.trunk, until_step=33)
    assert not trunk.kept_checkpoint(33).exists()


def test_a_trunk_segment_that_failed_is_recorded_as_failed_until_a_rerun_ends_the_segment(ladder, monkeypatch):
    with node_lost_at(20, monkeypatch):
        with pytest.raises(RuntimeError, match="node lost"):
            train(ladder.trunk, until_step=33)
    trunk = RunDir.for_config(ladder.trunk)
    assert (trunk.read_result()["status"], trunk.read_result()["role"]) == ("failed", "trunk")
    assert train(ladder.trunk, until_step=33)["status"] == SEGMENT_DONE
    assert not trunk.result_file.exists() and trunk.kept_checkpoint(33).exists()


def test_the_branch_of_the_largest_budget_starts_at_the_trunks_end_and_records_what_it_shares(
        ladder, tiny_config, tmp_path):
    _, large = ladder.branches
    train(ladder.trunk, until_step=33)
    train(ladder.trunk)
    result = train(large)
    trunk = RunDir.for_config(ladder.trunk)
    assert (result["status"], result["role"], result["parent"], result["branched_at_step"]) == (
        "complete", "branch", trunk.path.name, 65)
    n, tokens_per_step = result["n_params"], 128
    assert result["flops"] == 6 * n * result["tokens"] == 6 * n * 81 * tokens_per_step  # 6 N T, as any run
    assert result["own_flops"] == 6 * n * (81 - 65) * tokens_per_step
    assert result["shared_flops"] == 6 * n * 65 * tokens_per_step
    assert 0 < result["own_wall_seconds"] < result["wall_seconds"]
    straight = straight_run(tiny_config, tmp_path, 0.5)
    assert result["final_eval_loss"] == straight.read_result()["final_eval_loss"]
    assert same_records(RunDir.for_config(large).read_metrics(), straight.read_metrics())


def test_a_branch_interrupted_in_its_cooldown_resumes_from_its_own_checkpoint_and_ends_the_same(
        ladder, tiny_config, tmp_path, monkeypatch):
    small, _ = ladder.branches
    train(ladder.trunk, until_step=33)
    with monkeypatch.context() as patch:
        patch.setattr(train_module, "StopRequest", StopAtStep)
        with pytest.raises(RunInterrupted):
            train(small)  # stopped at step 33 + 5
    branch = RunDir.for_config(small)
    assert branch.read_metrics()[-1]["step"] == 38
    result = train(small)
    straight = straight_run(tiny_config, tmp_path, 0.25)
    assert result["final_eval_loss"] == straight.read_result()["final_eval_loss"]
    assert same_records(branch.read_metrics(), straight.read_metrics())
    assert 0 < result["own_wall_seconds"] < result["wall_seconds"]


def test_a_branch_before_its_trunk_segment_is_one_clear_error_naming_the_checkpoint(ladder):
    small, _ = ladder.branches
    trunk = RunDir.for_config(ladder.trunk)
    with pytest.raises(ConfigError, match=f"{trunk.kept_checkpoint(33)} does not exist.*segment up to that step must "
                                          "run first"):
        train(small)
    assert not RunDir.for_config(small).path.exists()


def test_a_branch_whose_ended_trunk_lost_or_damaged_its_checkpoint_says_to_train_the_trunk_again(ladder):
    """Was: 'the trunk's segment must run first (run the whole grid)', which failed the same way each
    time, and for a truncated checkpoint 'move it away to restart the run', which restarts nothing."""
    from sweep.ladder import lost_trunk_checkpoint

    small, large = ladder.branches
    train(ladder.trunk, until_step=33)
    train(ladder.trunk)  # to its end, having kept its checkpoints at steps 33 and 65
    trunk = RunDir.for_config(ladder.trunk)
    assert lost_trunk_checkpoint(small) is None
    trunk.kept_checkpoint(65).write_bytes(trunk.kept_checkpoint(65).read_bytes()[:1000])  # truncated
    with pytest.raises(ConfigError, match=f"checkpoint {trunk.kept_checkpoint(65)} cannot be loaded .*; this cooldown "
                                          f"branch starts from it, and it is made only by training the trunk: move "
                                          f"the trunk's folder {trunk.path} away"):
        train(large)
    trunk.kept_checkpoint(33).unlink()  # deleted
    lost = lost_trunk_checkpoint(small)
    assert f"{trunk.kept_checkpoint(33)} does not exist, though its trunk has ended" in lost
    assert "its finished branches are kept" in lost
    with pytest.raises(ConfigError, match="though its trunk has ended"):
        train(small)


def test_only_a_trunk_stops_at_a_segment_end(ladder):
    small, _ = ladder.branches
    with pytest.raises(ValueError, match="until_step=33: only a ladder's trunk"):
        train(small, until_step=33)


def test_a_single_run_asking_for_branches_is_one_clear_error_before_any_compute(tiny_config):
    cfg = tiny_config("optim.schedule=wsd", "budget.branch=true")
    with pytest.raises(ConfigError, match="grid over budget.tokens_per_param.*-m hydra/launcher=local "
                                          "optim.schedule=wsd budget.branch=true"):
        train(cfg)
    assert not RunDir.for_config(cfg).path.exists()


def test_a_single_wsd_run_trains_as_any_run(tiny_config):
    result = train(tiny_config("optim.schedule=wsd", "optim.cooldown_shape=linear"))
    assert result["status"] == "complete" and "role" not in result
    lrs = [r["lr"] for r in RunDir.for_config(tiny_config("optim.schedule=wsd", "optim.cooldown_shape=linear"))
           .read_metrics()]
    assert lrs[-1] == pytest.approx(3e-4) and max(lrs) == 3e-3


def test_the_fits_leave_the_trunk_out_and_status_still_lists_it(ladder, tiny_config):
    train(ladder.trunk, until_step=33)
    train(ladder.trunk)
    for branch in ladder.branches:
        train(branch)
    out_dir = ladder.trunk.out_dir
    rows = load_runs(out_dir)
    assert sorted(r.get("role") for r in rows) == ["branch", "branch", "trunk"]
    table = from_rows(rows)
    assert sorted(table.names) == sorted(RunDir.for_config(b).path.name for b in ladder.branches)
    assert table.excluded == {"trunk": 1}
    curves = read_curves(out_dir)
    assert len(curves.runs) == 2 and curves.excluded == {"trunk": 1}
