"""sweep/run/throughput.py: the peak MFU is measured against, and the timing of training steps."""

from __future__ import annotations

import time

import pytest
import torch

from sweep.run.throughput import Peak, Speed, StepTimer, measure_matmul_flops, process_start_time, run_peak

CPU = torch.device("cpu")


def test_a_given_peak_is_used_per_device_and_says_so():
    peak = run_peak(CPU, bf16=False, world_size=4, peak_tflops=2.0)
    assert peak.flops == 8e12 and peak.source == "train.peak_tflops=2 per device"


def test_without_a_datasheet_the_peak_is_a_matmul_measured_in_the_run_precision():
    peak = run_peak(CPU, bf16=False, world_size=2, peak_tflops=None)
    assert peak.source == "measured: float32 1024^3 matmul on cpu"
    single = measure_matmul_flops(CPU, torch.float32, 1024)
    assert 1e9 < peak.flops / 2 < 1e13 and 0.3 < peak.flops / 2 / single < 3  # noisy shared machine


def test_process_start_is_before_now_and_after_the_interpreter_was_launched():
    started = process_start_time()
    assert started is not None and 0 < time.time() - started < 24 * 3600


def test_start_up_counts_from_the_process_start_once_then_from_each_run_start(monkeypatch):
    import sweep.run.throughput as throughput

    monkeypatch.setattr(throughput, "_process_origin_used", False)
    assert throughput.startup_origin() == process_start_time()
    later = throughput.startup_origin()  # a second run in the same process
    assert later > process_start_time() and time.time() - later < 1


def test_the_timer_counts_only_steps_between_log_steps_and_leaves_out_the_first():
    timer = StepTimer(CPU, origin=time.time())
    timer.attempt_starts()
    time.sleep(0.05)  # the first step: compilation
    timer.first_step_done(step=1)
    time.sleep(0.02)
    rate = timer.pause(step=5)  # 4 steps in ~0.02 s
    time.sleep(0.05)  # an eval: not counted
    timer.resume(step=5)
    time.sleep(0.02)
    timer.pause(step=9)
    assert timer.steps == 8 and 0.04 <= timer.seconds < 0.09  # neither the first step nor the eval
    assert 4 / 0.05 < rate <= 4 / 0.02
    assert timer.first_step_seconds >= 0.05
    assert timer.compile_seconds() == pytest.approx(timer.first_step_seconds - timer.seconds / 8)
    assert timer.pause(step=9) is None  # nothing open: nothing counted twice


def test_a_resumed_timer_goes_on_from_the_saved_totals():
    timer = StepTimer(CPU, origin=time.time())
    timer.load({"seconds": 3.0, "steps": 30})
    assert timer.steps_per_second == 10.0
    assert StepTimer(CPU, origin=time.time()).steps_per_second is None


def test_mfu_is_model_flops_per_second_over_the_peak():
    timer = StepTimer(CPU, origin=time.time())
    timer.load({"seconds": 2.0, "steps": 10})
    speed = Speed(timer, Peak(1e12, "given"), tokens_per_step=1000, flops_per_token=1e6, compiled=False)
    run = speed.of_run()
    assert run["train_tokens_per_second"] == 5000 and run["mfu"] == pytest.approx(5000 * 1e6 / 1e12)
    assert run["peak_flops"] == 1e12 and run["peak_flops_source"] == "given"
    assert run["compile_seconds"] is None
    assert speed.of_interval(None) == {"tokens_per_second": None, "mfu": None}
