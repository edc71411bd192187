"""launch/jobs.py: the job plan of a grid with cooldown-branch ladders and early-stopped budget
groups (which jobs, which waits for which, what each really spends), without running anything."""

import json

import torch

from launch.grid import compose_grid
from launch.jobs import BRANCH, PROBE, REST, RUN, RUNG, SEGMENT, job_plan
from sweep.early_stop import CONTINUE, STOP, MemberDecision, decision_steps, decisions_file, group_key, probe_step
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


# --- early-stopped budget groups: a probe per member, then the rests after all the group's probes ---

def early_stop_grid(tmp_path, *more):
    """Two budget groups (d=16 and d=32) of two learning rates each."""
    return compose_grid([*TINY, "early_stop.enabled=true", "model.d=16,32", "optim.lr=1e-3,3e-3",
                         f"out_dir={tmp_path}", *more])


def save_checkpoint_at(point, step):
    """The run's latest.pt at `step` (what probe_done reads of it)."""
    point.run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"step": step}, point.run.checkpoint_file)


def finish(point, status):
    point.run.path.mkdir(parents=True, exist_ok=True)
    point.run.write_result({"status": status})


def test_each_member_of_an_early_stopped_group_gets_a_probe_to_its_probe_step_and_a_rest_after_all_its_group_s_probes(
        tmp_path):
    grid = early_stop_grid(tmp_path)
    jobs = job_plan(grid)
    assert len(jobs) == 8 and {j.kind for j in jobs} == {PROBE, REST}
    for group in ({grid[0].run.path, grid[1].run.path}, {grid[2].run.path, grid[3].run.path}):
        probes = [j for j in jobs if j.kind == PROBE and j.point.run.path in group]
        rests = [j for j in jobs if j.kind == REST and j.point.run.path in group]
        assert len(probes) == len(rests) == 2
        assert max(jobs.index(j) for j in probes) < min(jobs.index(j) for j in rests)  # probes first
        for probe, rest in zip(probes, rests):
            p, steps = probe_step(probe.point.cfg), probe.point.budget.steps
            assert probe.point is rest.point and 0 < p < steps
            assert (probe.first_step, probe.last_step, probe.until_step, probe.after) == (0, p, p, ())
            assert (rest.first_step, rest.last_step, rest.until_step) == (p, steps, None)
            assert rest.after == tuple(probes)  # every probe of its group, not the other group's
            assert [c for c in rest.group] == [j.point.cfg for j in probes]  # decides its group first
            assert probe.flops + rest.flops == probe.point.budget.flops
            assert probe.cosine_flops == 0 and rest.cosine_flops == rest.point.budget.flops  # the rest: the point
            assert probe.key != rest.key and rest.key == (rest.point.run.path.name, None)
    assert len({group_key(p.cfg) for p in grid}) == 2


def test_with_again_at_each_member_gets_a_rung_per_later_decision_step_after_all_its_group_s_jobs_before_it(tmp_path):
    grid = early_stop_grid(tmp_path, "early_stop.fraction=0.25", "early_stop.again_at=[0.5,0.75]")
    jobs = job_plan(grid)
    assert sorted(j.kind for j in jobs) == [PROBE] * 4 + [REST] * 4 + [RUNG] * 8
    group = {grid[0].run.path, grid[1].run.path}
    mine = [j for j in jobs if j.point.run.path in group]
    assert [j.kind for j in mine] == [PROBE, PROBE, RUNG, RUNG, RUNG, RUNG, REST, REST]  # each decision's jobs together
    p0, p1, p2 = decision_steps(grid[0].cfg)
    probes, first, second, rests = mine[0:2], mine[2:4], mine[4:6], mine[6:8]
    for job, (start, end, until, after, rung) in zip([first[0], second[0], rests[0]], [
            (p0, p1, p1, probes, 0), (p1, p2, p2, first, 1), (p2, grid[0].budget.steps, None, second, 2)]):
        assert (job.first_step, job.last_step, job.until_step, list(job.after), job.rung) == (start, end, until, after, rung)
        assert job.group == (grid[0].cfg, grid[1].cfg)  # decides its group at its first step, then trains on
    assert sum(j.flops for j in mine if j.point is grid[0]) == grid[0].budget.flops
    assert len({j.key for j in jobs}) == len(jobs)  # each job has its own manifest key
    assert first[0].label.endswith(f"[rung: steps {p0} -> {p1}]") and first[0].cosine_flops == 0


def test_a_rung_is_done_once_its_run_saved_its_checkpoint_at_its_end_step_or_stopped(tmp_path):
    grid = early_stop_grid(tmp_path, "early_stop.fraction=0.25", "early_stop.again_at=[0.5]")
    rung = next(j for j in job_plan(grid) if j.kind == RUNG)
    p0, p1 = decision_steps(rung.point.cfg)
    write_decision = lambda **d: decisions_file(rung.point.cfg).write_text(json.dumps(  # noqa: E731
        {"rungs": [{rung.point.run.path.name: MemberDecision(run=rung.point.run.path.name, **d).to_dict()}]}))
    decisions_file(rung.point.cfg).parent.mkdir(parents=True)
    write_decision(action=CONTINUE, rung=0)
    assert not rung.done()  # decided at P0 to go on: not yet at P1
    write_decision(action=CONTINUE, rung=1)
    assert not rung.done()  # decided at P1, its checkpoint there not saved (a full disk): trained again to P1
    save_checkpoint_at(rung.point, p1)
    assert rung.done()
    save_checkpoint_at(rung.point, p0)
    write_decision(action=STOP, rung=0)
    assert not rung.done()  # stopped at P0: the rung's job records the stop (and is done then)
    finish(rung.point, "stopped_early")
    assert rung.done()


def test_with_a_floor_the_smaller_runs_train_whole_first_and_the_larger_group_s_decision_waits_for_them(tmp_path):
    """A run stopped early has no final loss for a larger run to be predicted from: with
    early_stop.floor the d16 runs, the references of the d32 runs at their settings, are plain runs."""
    # the larger width listed first: the smaller runs are planned first all the same
    grid = compose_grid([*TINY, "early_stop.enabled=true", "early_stop.floor=auto", "model.d=32,16",
                         "optim.lr=1e-3,3e-3", f"out_dir={tmp_path}"])
    jobs = job_plan(grid)
    assert [(j.kind, j.point.cfg.model.d) for j in jobs] == [(RUN, 16), (RUN, 16), (PROBE, 32), (PROBE, 32),
                                                             (REST, 32), (REST, 32)]
    small, probes = jobs[:2], jobs[2:4]
    for rest in jobs[4:]:
        assert rest.after == tuple(probes) + tuple(small)  # its probes, then the d16 runs at its settings
    finish(small[0].point, "complete")  # a finished reference is no longer waited for
    rest = next(j for j in job_plan(grid) if j.kind == REST)
    assert [j.point.cfg.model.d for j in rest.after].count(16) == 1
    three = compose_grid([*TINY, "early_stop.enabled=true", "early_stop.floor=auto", "model.d=16,32,48",
                          "optim.lr=1e-3,3e-3", f"out_dir={tmp_path / 'three'}"])
    assert [(j.kind, j.point.cfg.model.d) for j in job_plan(three)][:4] == [(RUN, 16), (RUN, 16), (RUN, 32), (RUN, 32)]
    without = job_plan(compose_grid([*TINY, "early_stop.enabled=true", "model.d=32,16", "optim.lr=1e-3,3e-3",
                                     f"out_dir={tmp_path / 'plain'}"]))
    assert all(j.point.cfg.model.d == 32 for j in without[:4])  # grid order, each group after its own probes only
    assert all(len(j.after) == 2 for j in without if j.kind == REST)


def test_a_finished_member_gets_no_job_to_run_and_still_counts_in_its_group_s_decision(tmp_path):
    grid = early_stop_grid(tmp_path)
    finish(grid[0], "complete")
    jobs = job_plan(grid)
    mine = [j for j in jobs if j.point is grid[0]]
    assert [(j.kind, j.done()) for j in mine] == [(RUN, True)]  # listed, done: never run again
    rest = next(j for j in jobs if j.kind == REST and j.point is grid[1])
    assert [j.point for j in rest.after] == [grid[1]]  # waits only for the probe still to train
    assert grid[0].cfg in rest.group and len(rest.group) == 2


def test_a_stopped_run_is_settled_while_early_stopping_is_on_and_planned_plainly_to_resume_when_it_is_off(tmp_path):
    finish(early_stop_grid(tmp_path)[0], "stopped_early")
    on = job_plan(early_stop_grid(tmp_path))
    assert [(j.kind, j.done()) for j in on if j.point.run.path == on[0].point.run.path] == [(RUN, True)]
    assert sorted(j.kind for j in on) == [PROBE] * 3 + [REST] * 3 + [RUN]
    off = job_plan(early_stop_grid(tmp_path, "early_stop.enabled=false"))
    assert [j.kind for j in off] == [RUN] * 4 and all(j.after == () for j in off)
    stopped = next(j for j in off if j.point.run.path == on[0].point.run.path)
    assert not stopped.done()  # train() resumes it from its checkpoint to its end


def test_runs_outside_an_early_stopped_group_keep_one_plain_job(tmp_path):
    alone = compose_grid([*TINY, "early_stop.enabled=true", "model.d=16,32", f"out_dir={tmp_path}"])  # groups of one
    assert [j.kind for j in job_plan(alone)] == [RUN, RUN]
    no_probe = compose_grid([*TINY, "early_stop.enabled=true", "early_stop.fraction=0.01", "optim.lr=1e-3,3e-3",
                             f"out_dir={tmp_path}"])  # 1% of its steps is before its first log step
    assert [probe_step(p.cfg) for p in no_probe] == [None, None] and [j.kind for j in job_plan(no_probe)] == [RUN, RUN]
    assert [j.kind for j in job_plan(early_stop_grid(tmp_path, "early_stop.enabled=false"))] == [RUN] * 4


def test_a_probe_is_done_once_its_run_saved_its_checkpoint_at_its_probe_step_or_it_finished(tmp_path):
    grid = early_stop_grid(tmp_path)
    probes = [j for j in job_plan(grid) if j.kind == PROBE]
    first, second, third = probes[:3]
    assert not any(j.done() for j in probes)
    run = first.point.run
    run.path.mkdir(parents=True)
    run.metrics_file.write_text("".join(json.dumps({"step": s}) + "\n" for s in range(2, first.last_step + 1, 2)))
    save_checkpoint_at(first.point, first.last_step - 2)
    assert not first.done()  # a checkpoint short of P
    assert run.read_metrics()[-1]["step"] == first.last_step  # its record at P is written before its checkpoint:
    save_checkpoint_at(first.point, first.last_step)  # a checkpoint write that failed there (a full disk) was done
    assert first.done()
    decisions = decisions_file(second.point.cfg)
    decisions.parent.mkdir(parents=True, exist_ok=True)
    decision = MemberDecision(run=second.point.run.path.name, action=STOP)
    decisions.write_text(json.dumps({"members": {decision.run: decision.to_dict()}}))
    assert not second.done()  # decided from its record at P, without its checkpoint: trained again to P first
    save_checkpoint_at(second.point, second.last_step)
    assert second.done()
    finish(third.point, "diverged")
    assert third.done()
    decisions.write_text('{"members": ')  # a damaged decisions file: the rest's decision names it, never a traceback
    assert second.done()  # was: not done, announced as "probe: steps 0 -> P" for a run at its last step
    second.point.run.checkpoint_file.write_bytes(b"not a checkpoint")
    assert not second.done()  # a damaged checkpoint: not done, never a traceback (its load names it)
