"""launch/resources.py: GPU-hour estimates and resource buckets."""

import pytest

from launch.resources import Bucket, check_attempts, estimate_gpu_hours, pick_bucket
from model import flops_per_token
from sweep.budget import compute_budget, model_shape
from sweep.errors import ConfigError

BUCKETS = [Bucket("small", 0.5, 60, 1), Bucket("medium", 4, 360, 1), Bucket("large", 24, 1440, 1)]


def test_gpu_hours_are_flops_over_mfu_times_peak(tiny_config):
    cfg = tiny_config()
    budget = compute_budget(cfg)
    hours = estimate_gpu_hours(cfg, budget, assumed_mfu=0.5, device="h100-sxm")
    assert hours == pytest.approx(flops_per_token(model_shape(cfg)) * budget.tokens / (0.5 * 989e12) / 3600)


def test_unknown_device_or_bad_mfu_is_a_clear_error(tiny_config):
    cfg = tiny_config()
    with pytest.raises(ConfigError, match="unknown device 'tpu'.*h100-sxm"):
        estimate_gpu_hours(cfg, compute_budget(cfg), 0.4, "tpu")
    with pytest.raises(ConfigError, match="assumed_mfu=1.5"):
        estimate_gpu_hours(cfg, compute_budget(cfg), 1.5, "a100")


def test_each_run_goes_to_the_first_bucket_that_covers_it():
    assert pick_bucket(0.1, BUCKETS).name == "small"
    assert pick_bucket(0.5, BUCKETS).name == "small"
    assert pick_bucket(3.0, BUCKETS).name == "medium"
    assert pick_bucket(60, BUCKETS).name == "large"  # past the last one: continues over requeues


def test_a_run_past_the_last_bucket_must_fit_in_its_requeues():
    check_attempts([("big", 60, BUCKETS[-1])], max_requeues=2, nodes=1)  # 3 attempts of 24 h
    with pytest.raises(ConfigError, match="needs 3 attempts .* allows 2.*or a bucket with a larger max_hours"):
        check_attempts([("big", 60, BUCKETS[-1])], max_requeues=1, nodes=1)


def test_a_run_inside_a_bucket_must_fit_in_its_attempts_too():
    # the audit's case: 1.06 GPU-hours in a 5-hour bucket of 10 minutes needs 7 attempts, 4 allowed
    short = Bucket("a", 5, 10, 1)
    with pytest.raises(ConfigError, match=r"bucket 'a': run1 \(and 1 more of its jobs\), estimated at 1.06 GPU-hours "
                                          r"= 64 min on 1 GPU, needs 7 attempts but time_min=10 x \(max_requeues=3 "
                                          r"\+ 1\) = 40 min allows 4: give bucket 'a' time_min >= 16, or "
                                          r"hydra.launcher.max_requeues >= 6$"):
        check_attempts([("run0", 1.0, short), ("run1", 1.06, short), ("run2", 0.1, short)], max_requeues=3, nodes=1)
    check_attempts([("run1", 1.06, Bucket("a", 5, 16, 1))], max_requeues=3, nodes=1)  # what the error proposes
    check_attempts([("run1", 1.06, short)], max_requeues=6, nodes=1)
    check_attempts([("run1", 1.06, Bucket("a", 5, 10, 4))], max_requeues=1, nodes=1)  # 16 min on 4 GPUs
    check_attempts([("run1", 1.06, short)], max_requeues=1, nodes=4)  # on 4 nodes


def test_a_signal_delay_must_fit_in_every_bucket_with_room_for_start_up():
    from launch.resources import check_signal_delay

    check_signal_delay(BUCKETS, 120)  # the defaults
    check_signal_delay([Bucket("two", 1, 2, 0)], 60)
    with pytest.raises(ConfigError, match=r"signal_delay_s=40 .*'one' \(time_min=1\) accepts none"):
        check_signal_delay([Bucket("one", 1, 1, 0)], 40)  # SIGUSR2 before submitit's handler: FAILED
    with pytest.raises(ConfigError, match=r"signal_delay_s=90 .*'two' \(time_min=2\) accepts 1 \.\. 60"):
        check_signal_delay([Bucket("two", 1, 2, 0)], 90)
    with pytest.raises(ConfigError, match=r"'small' \(time_min=60\) accepts 1 \.\. 690"):
        check_signal_delay(BUCKETS, 1200)  # submitit would count the time-limit signal as a pre-emption
