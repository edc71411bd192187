"""The CUDA path: a compiled bf16 run end to end with a SIGUSR2 resume, the datasheet peak, no
host-device sync inside a training step, pinned non-blocking batch copies.

Marked `cuda` and skipped where no CUDA device is visible (every CI machine);
`benchmarks/gpu_check.sh` runs them on a GPU (`python -m pytest -m cuda tests/test_cuda.py`).
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from model import Transformer, TransformerShape
from model.arithmetic import device_key, peak_flops
from sweep.config import to_typed
from sweep.data import TrainReader
from sweep.data.prefetch import Prefetcher
from sweep.run.device import Placement
from sweep.run.loop import train
from sweep.run.loss import step_loss
from sweep.run.optim import build_optimizer
from sweep.run.step import TrainStep
from sweep.run.throughput import run_peak
from sweep.rundir import RunDir
from tests.helpers import TINY, compose_config, optim_config, train_until_sigusr2

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="needs a CUDA device (benchmarks/gpu_check.sh runs these on a GPU)")]

CUDA_BF16_COMPILED = ["train.device=cuda", "train.precision=bf16", "train.compile=true"]
V = 512


def test_a_compiled_bf16_run_on_cuda_stopped_by_sigusr2_resumes_to_the_uninterrupted_loss(tmp_path, shared_cache_dir):
    overrides = [*TINY, *CUDA_BF16_COMPILED, "budget.tokens_per_param=1", "train.log_every=1", "train.eval_every=50",
                 f"data.cache_dir={shared_cache_dir}", f"out_dir={tmp_path / 'runs'}"]
    cfg = to_typed(compose_config(*overrides))
    run = RunDir.for_config(cfg)
    returncode, output = train_until_sigusr2(overrides, run.metrics_file, timeout=300)  # the first step compiles
    assert returncode == 128 + signal.SIGUSR2, output
    assert "cuda bf16 autocast compiled" in output
    stopped_at = run.read_metrics()[-1]["step"]
    assert run.checkpoint_file.exists() and not run.result_file.exists()

    result = train(cfg)
    assert result["status"] == "complete" and stopped_at < result["steps"]
    assert result["peak_flops_source"].startswith(
        "datasheet" if device_key(torch.cuda.get_device_name()) else "measured")
    assert result["compile_seconds"] is not None and result["train_tokens_per_second"] > 0
    reference = train(to_typed(compose_config(*overrides[:-1], f"out_dir={tmp_path / 'reference'}")))
    # Same data, same kernels; CUDA's attention backward may sum in another order from run to run
    assert result["final_train_loss"] == pytest.approx(reference["final_train_loss"], rel=2e-3)
    assert result["final_eval_loss"] == pytest.approx(reference["final_eval_loss"], rel=2e-3)


def test_the_peak_of_a_known_gpu_is_its_datasheet_bf16_peak():
    name = torch.cuda.get_device_name()
    peak = run_peak(torch.device("cuda"), bf16=True, world_size=1, peak_tflops=None)
    key = device_key(name)
    if key is None:
        assert peak.source.startswith("measured: bfloat16 4096^3 matmul on cuda"), (name, peak.source)
    else:
        assert peak.flops == peak_flops(key) and peak.source.startswith(f"datasheet bf16 dense peak of {key}")


def cuda_step(chunk_tokens: int | None) -> tuple[TrainStep, TrainReader]:
    """The loop's compiled bf16 step of a small model, and a reader over random tokens."""
    torch.manual_seed(0)
    shape = TransformerShape(d=64, l=2, vocab_size=V, seq_len=64, head_dim=16, mlp_ratio=4, rope_base=1e4)
    placement = Placement(device=torch.device("cuda"), bf16=True, compile=True)
    model = Transformer(shape).to(placement.device)
    model.compile()  # as sweep/run/loop.py compiles a run's model
    config = optim_config()
    step = TrainStep(step_loss(model, placement, chunk_tokens), model, build_optimizer(model, config), config)
    tokens = np.random.default_rng(0).integers(0, V, 200_000, dtype=np.uint16)
    return step, TrainReader(tokens, shape.seq_len, 8, seed=0)


@pytest.mark.parametrize("chunk_tokens", [None, 128])
def test_compiled_bf16_steps_fed_by_the_prefetcher_make_no_host_device_sync(chunk_tokens):
    step, reader = cuda_step(chunk_tokens)
    losses = []
    with Prefetcher(reader, 0, 8, torch.device("cuda")) as batches:
        for s in range(3):  # compiling
            losses.append(step(batches.take(s), lr=1e-3)[0])
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for s in range(3, 8):
                loss, grad_norm = step(batches.take(s), lr=1e-3)
                losses.append(loss)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert torch.stack(losses).isfinite().all()


class HostToDeviceCopies(TorchFunctionMode):
    """(pinned source, non_blocking) of every Tensor.to that moves a CPU tensor to CUDA."""

    def __init__(self):
        super().__init__()
        self.copies: list[tuple[bool, bool]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to and args[0].device.type == "cpu":
            target = args[1] if len(args) > 1 else kwargs.get("device")
            if torch.device(target).type == "cuda":
                self.copies.append((args[0].is_pinned(), bool(kwargs.get("non_blocking"))))
        return func(*args, **kwargs)


def test_the_prefetcher_copies_each_batch_from_pinned_memory_without_blocking():
    tokens = np.random.default_rng(0).integers(0, V, 50_000, dtype=np.uint16)
    reader = TrainReader(tokens, 64, 4, seed=0)
    with HostToDeviceCopies() as seen, Prefetcher(reader, 0, 5, torch.device("cuda")) as batches:
        taken = [batches.take(s) for s in range(5)]
    assert seen.copies == [(True, True)] * 5
    for s, batch_BxT1 in enumerate(taken):
        assert batch_BxT1.device.type == "cuda"
        assert torch.equal(batch_BxT1.cpu(), reader.batch(s))
