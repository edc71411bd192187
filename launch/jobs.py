"""The job plan of a grid: which jobs train it, and which job waits for which.

A plain run is one job. A cooldown-branch ladder (sweep/ladder.py) is one job per trunk
segment, each after the previous segment, and one job per branch, after the segment that ends
at its cooldown start c:

    trunk  [0 -> c5] -> [c5 -> c10] -> [c10 -> c20] -> [c20 -> c40]
               |             |              |               |
           branch 5      branch 10      branch 20       branch 40

An early-stopped budget group (sweep/early_stop.py) is two jobs per member: a probe, steps 0 -> P,
and the rest, steps P -> S, after every probe of its group; the rest decides the group first
(launch/job.py), then trains on or records its stop:

    probe a [0 -> Pa]   probe b [0 -> Pb]   probe c [0 -> Pc]
           \\___________________|___________________/
           |                    |                   |
      rest a [Pa -> Sa]   rest b [Pb -> Sb]   rest c [Pc -> Sc]

With early_stop.again_at (decision steps P_0 = P < P_1 < ...: sweep/early_stop.py decision_steps)
a rung job stands between them for each later step, P_k -> P_k+1, after every job of its group
ending at P_k; it decides the group at P_k, then trains on to P_k+1 or records its stop, and the
rest decides at the last step.

A member already settled (finished, or stopped early while early stopping is on) keeps one plain
job, done: it is not run again but counts in its group's decision. With early_stop.floor (a member
predicted from the finished smaller run at its settings: sweep/fit/collapse.py) those smaller runs
are plain runs, planned first, and a group's first decision also waits for the jobs that end them
(references_of).

Both launchers run this plan: Slurm orders it with `afterok` dependencies (launch/submit.py),
the local launcher starts a job once its dependencies are done (launch/local.py). Pure: nothing
here submits or trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from launch.grid import GridPoint
from sweep.config import TrainConfig
from sweep.early_stop import decision_steps, early_stopped_groups, is_settled
from sweep.errors import DamagedFile
from sweep.ladder import BRANCH, TRUNK, branch_step, segment_ends, trunk_config, trunk_segment_done
from sweep.record import DAMAGED, FINISHED, STOPPED_EARLY, training_flops
from sweep.run.checkpoint import saved_at_or_past
from sweep.rundir import RunDir, reference_key

RUN, SEGMENT, PROBE, RUNG, REST = "run", "segment", "probe", "rung", "rest"  # a Job's kind, beside BRANCH
PARTIAL = (SEGMENT, PROBE, RUNG)  # kinds that train part of a run and leave it to a later job


@dataclass(frozen=True, eq=False)
class Job:
    """One job: a plain run, a branch, a trunk segment (steps first_step -> last_step), or an
    early-stopped run's probe (0 -> P), rung (P_k -> P_k+1) or rest (P_last -> S)."""

    point: GridPoint
    kind: str  # run | segment | branch | probe | rung | rest
    first_step: int  # 0; a segment: the previous segment's end; a branch: its cooldown start c; a rung, a rest: P_k
    last_step: int  # the run's steps S; a segment: its end c_k; a probe: P; a rung: P_k+1
    after: tuple["Job", ...] = ()  # the jobs that must end well first
    until_step: int | None = None  # what the job passes to train(): a segment's end, P or P_k+1; None at the run's end
    group: tuple[TrainConfig, ...] | None = None  # a rung, a rest: its budget group's configs (itself included)
    rung: int = 0  # a rung, a rest: the decision step k it decides at first

    @property
    def key(self) -> tuple[str, int | None]:
        """(run folder name, segment end or probe or next decision step, else None): names the job in
        the manifest."""
        return self.point.run.path.name, self.last_step if self.kind in PARTIAL else None

    @property
    def label(self) -> str:
        name = self.point.run.path.name
        if self.kind == SEGMENT:
            return f"{name} [steps {self.first_step} -> {self.last_step}]"
        if self.kind in (PROBE, RUNG, REST):
            return f"{name} [{self.kind}: steps {self.first_step} -> {self.last_step}]"
        return name

    @property
    def role(self) -> str:
        """What the plan's `job` column shows: 'trunk tpp=40', 'branch tpp=5', 'probe', 'rung', 'rest'
        or 'run'."""
        if self.kind in (RUN, PROBE, RUNG, REST):
            return self.kind
        name = "trunk" if self.kind == SEGMENT else BRANCH
        return f"{name} tpp={self.point.cfg.budget.tokens_per_param:g}"

    @property
    def flops(self) -> float:
        """The FLOPs the job really spends: 6 N x the tokens of its own steps."""
        b = self.point.budget
        return training_flops(b.n_params, (self.last_step - self.first_step) * b.tokens_per_step)

    @property
    def share(self) -> float:
        """The fraction of its run's planned steps the job trains (for GPU-hour estimates)."""
        return (self.last_step - self.first_step) / max(1, self.point.budget.steps)

    @property
    def cosine_flops(self) -> float:
        """What the job's point costs as a cosine run from scratch: its 6 N T; a segment (no point
        of the fit), a probe and a rung (its rest stands for the point), none."""
        return 0.0 if self.kind in PARTIAL else self.point.budget.flops

    def done(self) -> bool:
        """A segment: the trunk kept its checkpoint at the segment's end (or ended); a probe or a
        rung: `probe_done`; any other job: its run is settled (finished, or stopped early while early
        stopping is on). Not done while a file of the run cannot be read (its point's state is
        then `damaged`)."""
        try:
            if self.kind == SEGMENT:
                return trunk_segment_done(self.point.cfg, self.last_step)
            if self.kind in (PROBE, RUNG):
                return probe_done(self.point, self.last_step)
        except DamagedFile:
            return False
        return is_settled(self.point.cfg, self.point.state())


def probe_done(point: GridPoint, step: int) -> bool:
    """Whether a run is past its decision step P = `step`: it is finished or stopped, or its
    checkpoint is at P or later (saved after its metrics record at P: a probe whose checkpoint write
    failed, on a full disk, is not done, and runs again; its group's decision, even one taken, needs
    the checkpoint to stop the run at, or to go on from). Raises DamagedFile when its result cannot
    be read."""
    state = point.state()
    if state == DAMAGED:
        return False
    if state in FINISHED or state == STOPPED_EARLY:
        return True
    return saved_at_or_past(point.run.checkpoint_file, step)


def job_plan(grid: Sequence[GridPoint]) -> list[Job]:
    """The jobs of a grid (launch/grid.py build_grid's, ladders and early-stopped groups
    expanded) in grid order, each after the jobs it waits for: a plain run as it comes; a ladder
    where its trunk stands, each trunk segment followed by the branches that start at its end;
    an early-stopped group where its first member stands, its probes then its rests (with
    early_stop.floor: every group after the other jobs, smallest model first; a run that a larger
    run is predicted from is a plain run then: sweep/early_stop.py early_stopped_groups). A trunk's
    segments end at its branches' cooldown starts (the last one at its own end: it runs to the
    end then)."""
    branches: dict[str, list[GridPoint]] = {}
    for point in grid:
        if point.role == BRANCH:
            branches.setdefault(RunDir.for_config(trunk_config(point.cfg)).path.name, []).append(point)
    groups = {members[0]: [grid[i] for i in members]
              for members in early_stopped_groups([p.cfg for p in grid]).values()}
    in_group = {id(p) for members in groups.values() for p in members}
    floor = any(members[0].cfg.early_stop.floor is not None for members in groups.values())
    jobs: list[Job] = []
    finals: dict[str, Job] = {}  # run folder name -> the job that ends it (early_stop.floor's references)
    for i, point in enumerate(grid):
        if point.role == TRUNK:
            jobs += _ladder_jobs(point, branches)
        elif i in groups and not floor:
            jobs += group_jobs(groups[i])
        elif point.role is None and id(point) not in in_group:
            job = Job(point, RUN, 0, point.budget.steps)
            finals[point.run.path.name] = job
            jobs.append(job)
    if floor:  # after the plain runs (the references among them), smaller models first
        for g in sorted(groups, key=lambda g: min(p.budget.n_params for p in groups[g])):
            built = group_jobs(groups[g], references_of(groups[g], finals))
            finals.update({j.point.run.path.name: j for j in built if j.kind in (RUN, REST)})
            jobs += built
    return jobs


def _ladder_jobs(trunk: GridPoint, branches: dict[str, list[GridPoint]]) -> list[Job]:
    """A ladder's jobs: its trunk's segments, each followed by the branches that start at its end."""
    members = branches.get(trunk.run.path.name, [])
    ends = segment_ends(branch_step(b.cfg) for b in members)
    jobs: list[Job] = []
    first, previous = 0, ()
    for end in ends:
        segment = Job(trunk, SEGMENT, first, end, previous, None if end == ends[-1] else end)
        jobs.append(segment)
        jobs += [Job(b, BRANCH, end, b.budget.steps, (segment,)) for b in members if branch_step(b.cfg) == end]
        first, previous = end, (segment,)
    return jobs


def references_of(members: Sequence[GridPoint], finals: dict[str, Job]) -> tuple[Job, ...]:
    """With early_stop.floor: the jobs that end the smaller runs of the grid at a member's settings
    but the learning rate (sweep/rundir.py reference_key: a member is predicted from the smaller
    runs whose learning rates bracket its matched one, sweep/fit/collapse.py area_matched), planned
    before (`finals`: run folder name -> its job), which the group's rests wait for, so that each
    member can be predicted from finished smaller runs."""
    keys = {reference_key(p.cfg) for p in members}
    smallest = min(p.budget.n_params for p in members)
    return tuple(job for job in finals.values()
                 if job.point.budget.n_params < smallest and reference_key(job.point.cfg) in keys)


def group_jobs(members: Sequence[GridPoint], references: tuple[Job, ...] = ()) -> list[Job]:
    """An early-stopped group's jobs: each member not settled a probe (0 -> P_0), a rung per later
    decision step (P_k -> P_k+1, after all the group's jobs ending at P_k) and a rest (P_last -> S,
    likewise), each of these carrying the group's configs and deciding at its first step; the
    first decision also waits for the `references`' jobs (early_stop.floor). A settled member (it
    counts in the decisions) one plain job, done."""
    configs = tuple(p.cfg for p in members)
    done = [settled(p) for p in members]  # each run's files read once
    live = [p for p, d in zip(members, done) if not d]
    at = [decision_steps(p.cfg) for p in live]  # as many steps for each: one per fraction
    jobs = [Job(p, RUN, 0, p.budget.steps) for p, d in zip(members, done) if d]
    previous = [Job(p, PROBE, 0, steps[0], (), steps[0]) for p, steps in zip(live, at)]
    jobs += previous
    waits = tuple(previous) + tuple(r for r in references if not r.done())
    for k in range(len(at[0]) if at else 0):
        last = k == len(at[0]) - 1
        previous = [Job(p, REST, steps[k], p.budget.steps, waits, None, configs, k) if last else
                    Job(p, RUNG, steps[k], steps[k + 1], waits, steps[k + 1], configs, k)
                    for p, steps in zip(live, at)]
        jobs += previous
        waits = tuple(previous)
    return jobs


def settled(point: GridPoint) -> bool:
    """Not run again (sweep/early_stop.py is_settled); a damaged point is not (its jobs are
    planned, and skipped as damaged)."""
    return is_settled(point.cfg, point.state())
