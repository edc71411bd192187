"""launch/jobs.py: the job plan of a grid with cooldown-branch ladders (which jobs, which waits
for which, what each really spends), without running anything."""

from launch.grid import compose_grid
from launch.jobs import BRANCH, RUN, SEGMENT, job_plan
from sweep.ladder import branch_step, cooldown_start
from sweep.record import training_flops
from tests.helpers import TINY

LADDER = [o for o in TINY if not o.startswith("budget.tokens_per_param=")] + [
    "optim.schedule=wsd", "budget.branch=true", "budget.tokens_per_param=1,2,4"]


def ladder_grid(tmp_path, *more):
    return compose_grid([*LADDER, f"out_dir={tmp_path}", *more])


def test_a_ladder_is_a_chain_of_trunk_segments_each_branch_after_the_segment_ending_at_its_cooldown_start(tmp_path):
    jobs = job_plan(ladder_grid(tmp_path))
    segments = [j for j in jobs if j.kind == SEGMENT]
    branches = [j for j in jobs if j.kind == BRANCH]
    assert len(segments) == 3 and len(branches) == 3
    trunk = segments[0].point
    assert all(s.point is trunk and trunk.role == "trunk" for s in segments)
    c = [branch_step(b.point.cfg) for b in branches]  # cooldown starts of budgets 1, 2, 4
    assert c == sorted(c) and c[-1] == cooldown_start(trunk.budget.steps, 0.2)
    assert [(s.first_step, s.last_step) for s in segments] == [(0, c[0]), (c[0], c[1]), (c[1], c[2])]
    assert [s.after for s in segments] == [(), (segments[0],), (segments[1],)]
    assert [s.until_step for s in segments] == [c[0], c[1], None]  # the last one runs to the trunk's end
    for branch, segment in zip(branches, segments):
        assert branch.after == (segment,) and branch.first_step == segment.last_step
        assert branch.last_step == branch.point.budget.steps and branch.until_step is None
    assert all(jobs.index(a) < jobs.index(j) for j in jobs for a in j.after)  # dependencies first


def test_plain_points_are_one_job_each_beside_the_ladders(tmp_path):
    jobs = job_plan(compose_grid([*LADDER, "budget.branch=true,false", f"out_dir={tmp_path}"]))
    plain = [j for j in jobs if j.kind == RUN]
    assert len(plain) == 3 and len(jobs) == 3 + 6
    assert all(j.after == () and j.first_step == 0 and j.last_step == j.point.budget.steps for j in plain)


def test_each_job_spends_the_flops_of_its_own_steps_and_the_segments_add_up_to_the_trunk(tmp_path):
    jobs = job_plan(ladder_grid(tmp_path))
    segments = [j for j in jobs if j.kind == SEGMENT]
    trunk = segments[0].point.budget
    assert sum(s.flops for s in segments) == training_flops(trunk.n_params, segments[-1].last_step * trunk.tokens_per_step)
    for branch in (j for j in jobs if j.kind == BRANCH):
        b = branch.point.budget
        assert branch.flops == training_flops(b.n_params, (b.steps - branch.first_step) * b.tokens_per_step)
        assert branch.cosine_flops == b.flops  # as a cosine run from scratch: its 6 N T
    assert all(s.cosine_flops == 0 for s in segments)  # the trunk is no point of the fit


def test_a_segment_is_done_once_the_trunk_kept_its_checkpoint_there_and_a_branch_once_complete(tmp_path):
    jobs = job_plan(ladder_grid(tmp_path))
    first, branch = jobs[0], next(j for j in jobs if j.kind == BRANCH)
    assert first.kind == SEGMENT and not first.done() and not branch.done()
    kept = first.point.run.kept_checkpoint(first.last_step)
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"")
    assert first.done() and not jobs[1].done()
    branch.point.run.path.mkdir(parents=True)
    branch.point.run.write_result({"status": "complete"})
    assert branch.done()


def test_a_segment_of_a_trunk_whose_result_cannot_be_read_is_not_done_and_its_point_is_damaged(tmp_path):
    first = job_plan(ladder_grid(tmp_path))[0]
    first.point.run.path.mkdir(parents=True)
    first.point.run.result_file.write_text('{"status": "comp')
    assert not first.done() and first.point.state() == "damaged"
