"""The job plan of a grid: which jobs train it, and which job waits for which.

A plain run is one job. A cooldown-branch ladder (sweep/ladder.py) is one job per trunk
segment, each after the previous segment, and one job per branch, after the segment that ends
at its cooldown start c:

    trunk  [0 -> c5] -> [c5 -> c10] -> [c10 -> c20] -> [c20 -> c40]
               |             |              |               |
           branch 5      branch 10      branch 20       branch 40

Both launchers run this plan: Slurm orders it with `afterok` dependencies (launch/submit.py),
the local launcher starts a job once its dependency is done (launch/local.py). Pure: nothing
here submits or trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from launch.grid import GridPoint
from sweep.errors import DamagedFile
from sweep.ladder import BRANCH, TRUNK, branch_step, trunk_config, trunk_segment_done
from sweep.record import FINISHED, training_flops
from sweep.rundir import RunDir

RUN, SEGMENT = "run", "segment"  # a Job's kind, beside BRANCH


@dataclass(frozen=True, eq=False)
class Job:
    """One job: a plain run, a branch, or a trunk segment (steps first_step -> last_step)."""

    point: GridPoint
    kind: str  # run | segment | branch
    first_step: int  # 0; a segment: the previous segment's end; a branch: its cooldown start c
    last_step: int  # the run's steps S; a segment: its end c_k
    after: "Job | None" = None  # the job that must end well first
    until_step: int | None = None  # what the job passes to train(): a segment's end, None at the trunk's end

    @property
    def key(self) -> tuple[str, int | None]:
        """(run folder name, segment end or None): names the job in the manifest."""
        return self.point.run.path.name, self.last_step if self.kind == SEGMENT else None

    @property
    def label(self) -> str:
        name = self.point.run.path.name
        return f"{name} [steps {self.first_step} -> {self.last_step}]" if self.kind == SEGMENT else name

    @property
    def role(self) -> str:
        """What the plan's `job` column shows: 'trunk tpp=40', 'branch tpp=5', or 'run'."""
        if self.kind == RUN:
            return RUN
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
        """What the job's point costs as a cosine run from scratch: its 6 N T; a segment, no
        point of the fit, none."""
        return 0.0 if self.kind == SEGMENT else self.point.budget.flops

    def done(self) -> bool:
        """A segment: the trunk kept its checkpoint at the segment's end (or ended); any other
        job: its run is finished (complete or diverged). Not done while a file of the run cannot
        be read (its point's state is then `damaged`)."""
        if self.kind == SEGMENT:
            try:
                return trunk_segment_done(self.point.cfg, self.last_step)
            except DamagedFile:
                return False
        return self.point.state() in FINISHED


def job_plan(grid: Sequence[GridPoint]) -> list[Job]:
    """The jobs of a grid (launch/grid.py build_grid's, ladders expanded) in grid order, each
    after the job it waits for: a plain run as it comes; a ladder where its trunk stands, each
    trunk segment followed by the branches that start at its end. A trunk's segments end at its
    branches' cooldown starts (the last one at its own end: it runs to the end then)."""
    branches: dict[str, list[GridPoint]] = {}
    for point in grid:
        if point.role == BRANCH:
            branches.setdefault(RunDir.for_config(trunk_config(point.cfg)).path.name, []).append(point)
    jobs: list[Job] = []
    for point in grid:
        if point.role == TRUNK:
            members = branches.get(point.run.path.name, [])
            ends = sorted({branch_step(b.cfg) for b in members})
            first, previous = 0, None
            for end in ends:
                previous = Job(point, SEGMENT, first, end, previous, None if end == ends[-1] else end)
                jobs.append(previous)
                jobs += [Job(b, BRANCH, end, b.budget.steps, previous) for b in members if branch_step(b.cfg) == end]
                first = end
        elif point.role is None:
            jobs.append(Job(point, RUN, 0, point.budget.steps))
    return jobs
