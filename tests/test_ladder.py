"""sweep/ladder.py: which grid points make a ladder, its trunk, branches and segments, what a
member's result adds, and the bad inputs of a cooldown-branch grid (one clear error each)."""

from __future__ import annotations

import random

import pytest

from sweep.config import validate
from sweep.errors import ConfigError
from sweep.ladder import (BRANCH, TRUNK, branch_step, cooldown_start, is_member, ladder_key, ladder_steps,
                          member_result_fields, plan_ladders, segment_ends, trunk_config, trunk_segment_done)
from sweep.rundir import RunDir

WSD = ("optim.schedule=wsd", "budget.branch=true", "optim.warmup_steps=1000")  # warmup: 10% of the trunk's S


def grid(tiny_config, *overrides_per_point: tuple[str, ...]):
    return [tiny_config(*WSD, *overrides) for overrides in overrides_per_point]


def test_the_points_that_differ_only_in_their_budget_are_one_ladder(tiny_config):
    points = grid(tiny_config, *[(f"model.d={d}", f"budget.tokens_per_param={b}")
                                 for d in (32, 48) for b in (0.25, 1, 0.5)])
    random.Random(0).shuffle(points)
    ladders = sorted(plan_ladders(points), key=lambda ladder: ladder.trunk.model.d)
    assert [ladder.trunk.model.d for ladder in ladders] == [32, 48]
    for ladder in ladders:
        assert ladder.trunk.budget.trunk and ladder.trunk.budget.tokens_per_param == 1
        assert [b.budget.tokens_per_param for b in ladder.branches] == [0.25, 0.5, 1]
        assert all(b.budget.ladder_tokens_per_param == 1 and not b.budget.trunk for b in ladder.branches)
        assert ladder.branch_steps == tuple(branch_step(b) for b in ladder.branches)
        assert ladder.segments == ladder.branch_steps and ladder.segments[-1] == branch_step(ladder.trunk)
    assert ladders[0].branch_steps == (33, 65, 129)  # S = 41, 81, 161; the last 20% cool down


def test_the_points_of_one_ladder_share_everything_but_their_budget(tiny_config):
    a, b, c = grid(tiny_config, ("budget.tokens_per_param=0.5",), ("budget.tokens_per_param=1",),
                   ("budget.tokens_per_param=1", "optim.lr=1e-3"))
    assert ladder_key(a) == ladder_key(b) != ladder_key(c)
    assert len(plan_ladders([a, b])) == 1


def test_budgets_with_the_same_cooldown_start_share_a_segment(tiny_config):
    ladder, = plan_ladders(grid(tiny_config, ("budget.tokens_per_param=0.25",), ("budget.tokens_per_param=0.2502",),
                                ("budget.tokens_per_param=0.5",)))
    assert ladder.branch_steps == (33, 33, 65) and ladder.segments == (33, 65)


def test_a_trunks_segment_ends_are_its_branches_cooldown_starts_ascending_and_distinct():
    assert segment_ends([65, 33, 33, 120]) == (33, 65, 120)  # what launch/jobs.py plans the trunk's jobs by
    assert segment_ends(c for c in (7,)) == (7,)


def test_a_members_trunk_its_ladders_steps_and_its_branch_step(tiny_config):
    ladder, = plan_ladders(grid(tiny_config, ("budget.tokens_per_param=0.25",), ("budget.tokens_per_param=0.5",)))
    small, large = ladder.branches
    assert is_member(small) and is_member(ladder.trunk)
    assert not is_member(tiny_config("optim.schedule=wsd"))
    assert trunk_config(small) == trunk_config(large) == ladder.trunk == trunk_config(ladder.trunk)
    assert ladder_steps(small) == ladder_steps(ladder.trunk) == 81
    assert branch_step(small) == cooldown_start(41, 0.2) == 33 and branch_step(ladder.trunk) == 65


def test_a_trunk_segment_is_done_once_its_checkpoint_is_kept(tiny_config):
    ladder, = plan_ladders(grid(tiny_config, ("budget.tokens_per_param=0.25",), ("budget.tokens_per_param=0.5",)))
    assert not trunk_segment_done(ladder.trunk, 33)
    kept = RunDir.for_config(ladder.trunk).kept_checkpoint(33)
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"")
    assert trunk_segment_done(ladder.trunk, 33) and not trunk_segment_done(ladder.trunk, 65)


def test_what_a_members_result_adds(tiny_config):
    ladder, = plan_ladders(grid(tiny_config, ("budget.tokens_per_param=0.25",), ("budget.tokens_per_param=0.5",)))
    small, _ = ladder.branches
    assert member_result_fields(tiny_config("optim.schedule=wsd")) == {}
    assert member_result_fields(ladder.trunk) == {"role": TRUNK}
    fields = member_result_fields(small)
    n = fields["own_flops"] / (6 * 8 * 128)  # 41 - 33 = 8 own steps of 128 tokens
    assert fields == {"role": BRANCH, "parent": RunDir.for_config(ladder.trunk).path.name, "branched_at_step": 33,
                      "own_flops": 6 * n * 8 * 128, "shared_flops": 6 * n * 33 * 128}


def test_a_branch_budget_the_trunk_cannot_reach_is_one_clear_error(tiny_config):
    with pytest.raises(ConfigError, match=r"budget.tokens_per_param=0.02 .*cooldown would start at step 3, before "
                                          r"the trunk's warmup ends at step 8: the trunk cannot reach it"):
        plan_ladders(grid(tiny_config, ("budget.tokens_per_param=0.02",), ("budget.tokens_per_param=0.5",)))


def test_branching_without_a_budget_grid_is_one_clear_error(tiny_config):
    with pytest.raises(ConfigError, match="needs a grid over budget.tokens_per_param .*only 0.5"):
        plan_ladders(grid(tiny_config, ("budget.tokens_per_param=0.5",)))


def test_every_ladder_problem_is_named_in_the_one_error(tiny_config):
    points = grid(tiny_config, ("budget.tokens_per_param=0.5",), ("budget.tokens_per_param=0.5", "optim.lr=1e-3"))
    with pytest.raises(ConfigError, match=r"2 problems .*nothing was run:\n  lr=3e-3: .*\n  lr=1e-3: "):
        plan_ladders(points, labels=["lr=3e-3", "lr=1e-3"])


@pytest.mark.parametrize("fraction", ["0", "-0.1", "1.5"])
def test_a_cooldown_fraction_outside_zero_to_one_is_one_clear_error(tiny_config, fraction):
    with pytest.raises(ConfigError, match=rf"optim.cooldown_fraction={float(fraction)}: must be in \(0, 1\]"):
        validate(tiny_config("optim.schedule=wsd", f"optim.cooldown_fraction={fraction}"))


def test_a_whole_run_cooling_down_is_accepted(tiny_config):
    validate(tiny_config("optim.schedule=wsd", "optim.cooldown_fraction=1"))


def test_a_cosine_grid_asking_for_branches_is_one_clear_error(tiny_config):
    with pytest.raises(ConfigError, match="budget.branch=true with optim.schedule=cosine: cooldown branches need "
                                          "optim.schedule=wsd"):
        validate(tiny_config("budget.branch=true"))
