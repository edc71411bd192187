import pytest

from launch import eta
from launch.eta import JobTimes, JobWork, eval_flops, fit_pace, training_seconds
from sweep.progress import eta_seconds

# The demo grid model.d=16,32,48 model.l=1 budget.tokens_per_param=2,5 on 2 slots (2 CPU cores):
# its jobs' steps and FLOPs (steps and evals) in the order they start, and what the first one to end recorded.
DEMO_WORK = [JobWork(14, 1.087e9), JobWork(35, 2.01e9), JobWork(40, 6.37e9), JobWork(100, 1.394e10),
             JobWork(78, 2.17e10), JobWork(195, 5.30e10)]
FIRST_RESULT = {"status": "complete", "wall_seconds": 1.99, "first_step_seconds": 0.231, "startup_seconds": 9.37}


@pytest.fixture
def clock(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(eta.time, "monotonic", lambda: now[0])
    return now


def test_after_the_first_tiny_run_the_eta_is_near_the_time_left(clock):
    """Measured: the first run ended 14.1 s into the sweep, which then took 187 s more; the bar said
    ETA 13m22s (802 s), a rate over all FLOPs that counted the run's 12 s of start-up as compute."""
    times = JobTimes()
    times.start(0)
    times.start(1)
    clock[0] = 14.1
    times.end(0, DEMO_WORK[0], FIRST_RESULT)
    left = times.seconds_left([(1, DEMO_WORK[1], 0.0)], DEMO_WORK[2:], slots=2)
    assert 187 / 1.5 < left < 187 * 1.5
    assert eta_seconds(DEMO_WORK[0].flops, sum(w.flops for w in DEMO_WORK), 14.1) > 187 * 4  # the rate over the whole sweep's FLOPs


def test_a_job_s_time_splits_into_overhead_and_seconds_per_flop(clock):
    times = JobTimes()
    times.start(0)
    clock[0] = 30.0
    times.end(0, JobWork(100, 1e10), {"wall_seconds": 21.0, "first_step_seconds": 1.0, "startup_seconds": 9.0})
    assert times.overheads == [10.0] and times.trained == [(20.0, JobWork(100, 1e10))]
    assert times.duration(JobWork(200, 2e10)) == pytest.approx(50.0)  # 10 s + twice the 20 s of training


def test_the_jobs_left_are_laid_out_on_the_free_slots(clock):
    times = JobTimes()
    times.start(0)
    clock[0] = 20.0
    times.end(0, JobWork(100, 1e10), {"wall_seconds": 11.0, "first_step_seconds": 1.0, "startup_seconds": 10.0})  # 10 s + 10 s
    assert times.seconds_left([], [JobWork(100, 1e10)] * 3, slots=3) == pytest.approx(20.0)
    assert times.seconds_left([], [JobWork(100, 1e10)] * 3, slots=1) == pytest.approx(60.0)
    times.start(1)
    clock[0] = 25.0  # 5 s into a 20 s job
    assert times.seconds_left([(1, JobWork(100, 1e10), 0.0)], [], slots=2) == pytest.approx(15.0)
    assert times.seconds_left([(1, JobWork(100, 1e10), 0.0)], [JobWork(100, 1e10)] * 2, slots=2) == pytest.approx(35.0)


def test_no_estimate_before_a_job_ended_with_its_times(clock):
    times = JobTimes()
    times.start(0)
    assert times.seconds_left([(0, JobWork(100, 1e10), 0.5)], [JobWork(100, 1e10)], slots=1) is None
    clock[0] = 3.0
    times.end(0, JobWork(100, 1e10), {"status": "failed", "error": "boom"})  # no times in its result: not measured
    assert times.seconds_left([], [JobWork(100, 1e10)], slots=1) is None


def test_a_resumed_run_s_clock_counts_no_more_than_its_job_s_time_after_start_up():
    """A resumed run's wall_seconds holds its earlier attempts too."""
    result = {"wall_seconds": 500.0, "first_step_seconds": 1.0, "startup_seconds": 8.0}
    assert training_seconds(result, elapsed_s=30.0) == 22.0
    assert training_seconds({**result, "own_wall_seconds": 11.0}, elapsed_s=30.0) == 10.0  # a branch's own clock
    assert training_seconds({"status": "failed"}, elapsed_s=30.0) is None


def test_a_job_s_evals_count_one_forward_pass_per_eval_token():
    assert eval_flops(1000, 500, 0, 250, 100) == 2 * 1000 * 500 * 3  # at steps 100, 200 and its last, 250
    assert eval_flops(1000, 500, 0, 200, 100) == 2 * 1000 * 500 * 2
    assert eval_flops(1000, 500, 80, 100, 100) == 2 * 1000 * 500  # a branch from step 80: its own


def ended_one_job(times: JobTimes, clock) -> None:
    """A job of 100 steps, 1e10 FLOPs that took 20 s: 10 s of overhead, 10 s of training."""
    times.start(0)
    clock[0] = 20.0
    times.end(0, JobWork(100, 1e10), {"wall_seconds": 11.0, "first_step_seconds": 1.0, "startup_seconds": 10.0})


def test_a_running_job_goes_at_its_own_pace_between_two_progress_points(clock):
    times = JobTimes()
    ended_one_job(times, clock)
    times.start(1)
    work = JobWork(400, 4e10)  # modelled: 10 s + 40 s
    clock[0] = 50.0  # 30 s in, its first progress noticed: one point, the model's time left
    assert times.seconds_left([(1, work, 0.25)], [], slots=1) == pytest.approx(20.0)
    clock[0] = 60.0  # a tenth more in 10 s: 100 s a whole, 0.65 of it left
    assert times.seconds_left([(1, work, 0.35)], [], slots=1) == pytest.approx(65.0)
    clock[0] = 65.0  # no new record yet: the time left falls with the clock, it does not rise
    assert times.seconds_left([(1, work, 0.35)], [], slots=1) == pytest.approx(60.0)
    times.start(2, fraction=0.5)  # resumed from its checkpoint half-way: its pace is from there
    clock[0] = 95.0
    assert times.seconds_left([(2, work, 0.5)], [], slots=1) == pytest.approx(20.0)  # 50 s modelled, 30 s in
    clock[0] = 100.0
    times.seconds_left([(2, work, 0.6)], [], slots=1)
    clock[0] = 120.0
    assert times.seconds_left([(2, work, 0.8)], [], slots=1) == pytest.approx(20.0)  # a fifth in 20 s, a fifth left


def test_a_larger_run_s_longer_start_up_is_not_read_as_its_pace(clock):
    """Seen on a 6-run grid: with the ended runs' start-up at 10 s, a larger run that took 40 s to
    start and logged its first 2.5% of steps at 42 s read ETA (1 - 0.025) / 0.025 x 32 s = 21 min,
    rising until its next record, where about 80 s were left."""
    times = JobTimes()
    ended_one_job(times, clock)
    times.start(1)
    work = JobWork(400, 4e10)
    clock[0] = 62.0
    times.seconds_left([(1, work, 0.025)], [], slots=1)
    clock[0] = 64.0  # 2.5% of its steps in 2 s
    assert times.seconds_left([(1, work, 0.05)], [], slots=1) == pytest.approx(76.0)


def test_once_two_model_sizes_ended_a_job_s_time_is_seconds_per_step_plus_seconds_per_flop():
    small, large = JobWork(100, 1e10), JobWork(100, 1e11)  # ten times the FLOPs per step
    a, b = 0.05, 2e-10  # 5 s of per-step work and 2 s / 20 s of FLOPs
    assert fit_pace([(a * w.steps + b * w.flops, w) for w in (small, large)]) == pytest.approx((a, b))


def test_with_one_model_size_ended_the_time_is_seconds_per_flop():
    """Its steps and FLOPs move together: per FLOP over-reads a larger model's time, which is safer."""
    assert fit_pace([(10.0, JobWork(100, 1e10)), (20.0, JobWork(200, 2e10))]) == pytest.approx((0.0, 1e-9))


def test_a_pace_that_fits_a_negative_term_keeps_the_better_one_term_fit():
    """Twice the FLOPs per step in less time (a machine that got faster) would fit a < 0."""
    a, b = fit_pace([(10.0, JobWork(100, 1e10)), (8.0, JobWork(100, 2e10))])
    assert (a, b) == (pytest.approx(0.0878, rel=0.01), 0.0)  # steps alone: 0.1 and 0.08 s a step


def test_after_the_readme_demo_s_first_two_sizes_its_largest_runs_are_modelled_closer():
    """`sweep demo` measured (2-vCPU Xeon, 2026-12-06): d32 x 3 budgets, then d48 at 5 tokens per
    parameter, ended; the d64 runs of 560 and 1120 steps then took 82.4 s and 160.2 s of training.
    Seconds per FLOP alone read 1.96x and 2.01x (a d32 step is mostly per-step work)."""
    ended = [(14.4, JobWork(160, 3.65e10)), (29.8, JobWork(320, 7.3e10)), (59.7, JobWork(640, 1.44e11)),
             (46.0, JobWork(330, 1.55e11))]
    a, b = fit_pace(ended)
    for work, took in ((JobWork(560, 4.4e11), 82.4), (JobWork(1120, 8.79e11), 160.2)):
        assert 1.0 < (a * work.steps + b * work.flops) / took < 1.45
        assert work.flops * sum(t for t, _ in ended) / sum(w.flops for _, w in ended) / took > 1.9
