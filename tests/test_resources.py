"""launch/resources.py: GPU-hour estimates and resource buckets."""

import pytest

from launch.resources import Bucket, estimate_gpu_hours, pick_bucket
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
    assert pick_bucket(0.1, BUCKETS, max_requeues=0).name == "small"
    assert pick_bucket(0.5, BUCKETS, max_requeues=0).name == "small"
    assert pick_bucket(3.0, BUCKETS, max_requeues=0).name == "medium"


def test_a_run_past_the_last_bucket_must_fit_in_its_requeues():
    assert pick_bucket(60, BUCKETS, max_requeues=2).name == "large"  # 3 attempts of 24 h
    with pytest.raises(ConfigError, match="needs 3 attempts .* allows 2"):
        pick_bucket(60, BUCKETS, max_requeues=1)


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
