"""A ladder's runs (sweep/run/loop.py with sweep/ladder.py): the trunk trains in segments and
keeps a checkpoint at each branch point; a branch started from it ends bit-identical to the wsd
run of its budget trained straight through with the same warmup; results say who is who."""

from __future__ import annotations

import pytest
import torch

from sweep.ladder import SEGMENT_DONE, plan_ladders
from sweep.rundir import RunDir
from sweep.run.loop import train
from sweep.run.optim import warmup_steps

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
