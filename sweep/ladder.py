"""Cooldown-branch ladders (README "Cooldown branches"): every token budget of a model for
little more than the price of its longest run.

With `optim.schedule=wsd` and `budget.branch=true`, the grid points that differ only in
`budget.tokens_per_param` are one ladder. Its trunk trains at the constant peak learning rate
(after the warmup) up to the largest budget's cooldown start; each budget is a branch: a normal
run that starts from the trunk's checkpoint at its own cooldown start and decays over its
cooldown (Hägele et al. 2024, arXiv 2405.18392).

Letters: S a run's steps, c = S - round(cooldown_fraction S) its cooldown start (the trunk step a
branch starts from), B the ladder's largest tokens_per_param (the trunk's budget).

    budgets {5, 10, 20, 40}, cooldown 20%:   trunk  0 ── c5 ── c10 ──── c20 ──────── c40 (stops)
                                             branch 5          c5 ─ S5
                                             branch 40                               c40 ─ S40

The trunk runs in segments, each ending at a branch point where it keeps a checkpoint
(`RunDir.kept_checkpoint(c)`); a branch needs only the segment that ends at its c. Both the
trunk and the branches are runs with their own folder (identity-named: the planner sets
`budget.ladder_tokens_per_param` = B on each, `budget.trunk` on the trunk). The warmup of every
member is that of the trunk (computed from S of budget B), so a branch is step for step the wsd
run of its budget with that warmup. The trunk is not a point of the fits.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Iterable, Sequence

from sweep.budget import compute_budget
from sweep.config import TrainConfig
from sweep.errors import ConfigError
from sweep.record import BRANCH, FINISHED, TRUNK, training_flops  # TRUNK, BRANCH: importable from here too
from sweep.rundir import RunDir, identity_fields
from sweep.run.optim import cooldown_start, warmup_steps  # cooldown_start: importable from here too

SEGMENT_DONE = "segment"  # what a trunk job returns when it stopped at a segment end (no result.json)


def is_member(cfg: TrainConfig) -> bool:
    """Whether the run is a ladder's trunk or branch (planned: its ladder budget is set)."""
    return cfg.budget.branch and cfg.budget.ladder_tokens_per_param is not None


def with_budget(cfg: TrainConfig, **changes: object) -> TrainConfig:
    """A copy of `cfg` with budget fields changed (the rest shared: configs are not mutated)."""
    return dataclasses.replace(cfg, budget=dataclasses.replace(cfg.budget, **changes))


def trunk_config(cfg: TrainConfig) -> TrainConfig:
    """The trunk of a planned member's ladder (the member itself when it is the trunk)."""
    return with_budget(cfg, tokens_per_param=cfg.budget.ladder_tokens_per_param, trunk=True)


def ladder_steps(cfg: TrainConfig) -> int:
    """S of the ladder's largest budget: every member's warmup is computed from it."""
    return compute_budget(with_budget(cfg, tokens_per_param=cfg.budget.ladder_tokens_per_param,
                                      trunk=False)).steps


def branch_step(cfg: TrainConfig) -> int:
    """The trunk step a branch starts from: its cooldown start. For the trunk: where it stops."""
    return cooldown_start(compute_budget(cfg).steps, cfg.optim.cooldown_fraction)


RETRAIN_TRUNK = ("it is made only by training the trunk: move the trunk's folder {trunk} away and run the "
                 "sweep again (its finished branches are kept; the trunk trains again to the same checkpoints)")


def lost_trunk_checkpoint(cfg: TrainConfig) -> str | None:
    """For a branch `cfg` not yet started on its own: the problem, when its trunk has ended without
    the checkpoint the branch starts from (deleted since), which no launch of the grid can make
    again; None otherwise (kept, or still to be made by the trunk's segment)."""
    trunk = RunDir.for_config(trunk_config(cfg))
    path, step = trunk.kept_checkpoint(branch_step(cfg)), branch_step(cfg)
    if path.exists() or (trunk.read_result() or {}).get("status") not in FINISHED:
        return None
    return (f"{path} does not exist, though its trunk has ended: the cooldown branch {RunDir.for_config(cfg).path.name} "
            f"starts from the trunk's checkpoint at step {step}; " + RETRAIN_TRUNK.format(trunk=trunk.path))


def check_trunk_checkpoint(cfg: TrainConfig) -> None:
    """A branch `cfg` (not yet started on its own) can start: its trunk has kept its checkpoint at
    the branch's cooldown start. ConfigError naming the checkpoint and the remedy otherwise."""
    path, step = RunDir.for_config(trunk_config(cfg)).kept_checkpoint(branch_step(cfg)), branch_step(cfg)
    if path.exists():
        return
    lost = lost_trunk_checkpoint(cfg)
    if lost is not None:
        raise ConfigError(lost)
    raise ConfigError(f"{path} does not exist: this cooldown branch starts from its trunk's checkpoint at step "
                      f"{step}; the trunk's segment up to that step must run first (the launchers order it so: "
                      "run the whole grid)")


def trunk_segment_done(trunk: TrainConfig, step: int) -> bool:
    """Whether the trunk has kept its checkpoint at `step` (or has ended)."""
    run = RunDir.for_config(trunk)
    return run.kept_checkpoint(step).exists() or (run.read_result() or {}).get("status") in FINISHED


def segment_ends(branch_steps: Iterable[int]) -> tuple[int, ...]:
    """A trunk's stop steps from its branches' cooldown starts c: ascending and distinct (the last
    is the trunk's end)."""
    return tuple(sorted(set(branch_steps)))


@dataclass(frozen=True)
class Ladder:
    """One trunk and its branches (ascending budgets); `segments`: the trunk's stop steps
    (segment_ends of its branches' cooldown starts)."""

    trunk: TrainConfig
    branches: tuple[TrainConfig, ...]
    branch_steps: tuple[int, ...]  # c of each branch, in the order of `branches`

    @property
    def segments(self) -> tuple[int, ...]:
        return segment_ends(self.branch_steps)


def ladder_key(cfg: TrainConfig) -> str:
    """What the points of one ladder share: the identity less the budget per parameter."""
    fields = identity_fields(cfg)
    fields["budget"].pop("tokens_per_param")
    return json.dumps(fields, sort_keys=True)


def plan_ladders(cfgs: Sequence[TrainConfig], labels: Sequence[str] | None = None) -> list[Ladder]:
    """The ladders of the points asking for branching (all of `cfgs` must): grouped by
    `ladder_key`, each with at least two budgets, each branch's cooldown start after the trunk's
    warmup. One ConfigError naming every problem (by the points' `labels`), before anything runs."""
    labels = list(labels) if labels is not None else [f"budget.tokens_per_param={c.budget.tokens_per_param:g}"
                                                       for c in cfgs]
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        groups.setdefault(ladder_key(cfg), []).append(i)
    ladders, errors = [], []
    for members in groups.values():
        budgets = sorted({cfgs[i].budget.tokens_per_param for i in members})
        first = cfgs[members[0]]
        if len(budgets) < 2:
            errors.append(f"{labels[members[0]]}: budget.branch=true needs a grid over budget.tokens_per_param "
                          f"(e.g. -m budget.tokens_per_param=5,10,20,40); this point's ladder has only "
                          f"{budgets[0]:g}")
            continue
        top = budgets[-1]
        trunk = with_budget(first, tokens_per_param=top, ladder_tokens_per_param=top, trunk=True)
        branches = tuple(with_budget(first, tokens_per_param=b, ladder_tokens_per_param=top, trunk=False)
                         for b in budgets)
        warm = warmup_steps(first.optim, ladder_steps(trunk))
        steps = tuple(branch_step(b) for b in branches)
        for b, c in zip(branches, steps):
            if c < warm:
                errors.append(f"budget.tokens_per_param={b.budget.tokens_per_param:g} in its ladder (budgets "
                              f"{','.join(f'{x:g}' for x in budgets)}; first point: {labels[members[0]]}): its "
                              f"cooldown would start at step {c}, before the trunk's "
                              f"warmup ends at step {warm}: the trunk cannot reach it. Use "
                              + ("" if first.optim.cooldown_fraction >= 1 else "larger budgets, ")
                              + "a smaller optim.cooldown_fraction or a shorter warmup")
        ladders.append(Ladder(trunk, branches, steps))
    if errors:
        many = f"{len(errors)} problems" if len(errors) > 1 else "a problem"
        raise ConfigError(f"{many} with the cooldown-branch ladders; nothing was run:\n"
                          + "\n".join(f"  {e}" for e in errors))
    return ladders


def member_result_fields(cfg: TrainConfig) -> dict[str, object]:
    """What result.json adds for a ladder member (none for other runs): its `role`; a branch also
    its `parent` (the trunk's folder name), `branched_at_step` c, and the FLOPs of its S steps
    split into `own_flops` (6 N (S - c) tokens_per_step, what it trained itself) and
    `shared_flops` (6 N c tokens_per_step, the trunk's part); its `flops` stays 6 N T."""
    if not is_member(cfg):
        return {}
    if cfg.budget.trunk:
        return {"role": TRUNK}
    budget, start = compute_budget(cfg), branch_step(cfg)
    return {"role": BRANCH, "parent": RunDir.for_config(trunk_config(cfg)).path.name, "branched_at_step": start,
            "own_flops": training_flops(budget.n_params, (budget.steps - start) * budget.tokens_per_step),
            "shared_flops": training_flops(budget.n_params, start * budget.tokens_per_step)}


def check_planned(cfg: TrainConfig) -> None:
    """A run with budget.branch=true is a ladder member the planner made (a grid point): one
    ConfigError for a single run that asks for branching."""
    if cfg.budget.branch and not is_member(cfg):
        raise ConfigError("budget.branch=true makes one trunk and one cooldown branch per budget of a grid over "
                          "budget.tokens_per_param, and this run is no point of such a grid: run the grid (e.g. "
                          "python -m sweep.train -m hydra/launcher=local optim.schedule=wsd budget.branch=true "
                          "budget.tokens_per_param=5,10,20,40), or set budget.branch=false for a single wsd run")
