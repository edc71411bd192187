"""sweep/run/distributed.py with sweep/run/loop.py: data-parallel training on CPU (gloo, 2 ranks)."""

from __future__ import annotations

import multiprocessing
import os
import socket

import pytest

from sweep.config import TrainConfig
from sweep.run.distributed import World, world_from_env
from sweep.errors import ConfigError
from sweep.rundir import RunDir
from sweep.run.loop import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world_size: int, port: int, cfg: TrainConfig, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    import torch

    torch.set_num_threads(1)
    results.put((rank, train(cfg)))


def run_ranks(cfg: TrainConfig, world_size: int = 2) -> dict[int, dict]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, world_size, port, cfg, results)) for r in range(world_size)]
    for p in procs:
        p.start()
    out = dict(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def test_two_ranks_train_the_same_run_as_one_process_and_only_rank_0_writes(tiny_config, tmp_path):
    """The ranks fuse the head and the loss in chunks (DDP wraps that module), the single process
    takes the whole logits: the same run either way."""
    single = train(tiny_config(f"out_dir={tmp_path / 'single'}"))
    cfg = tiny_config(f"out_dir={tmp_path / 'ddp'}", "train.loss_chunk_tokens=24")
    by_rank = run_ranks(cfg)
    run = RunDir.for_config(cfg)
    written = run.read_result()
    assert written["status"] == "complete"
    # each rank read half of every global batch: the same windows as the single process
    assert written["final_eval_loss"] == pytest.approx(single["final_eval_loss"], rel=1e-4)
    assert by_rank[1]["final_eval_loss"] == written["final_eval_loss"]
    steps = [m["step"] for m in run.read_metrics()]
    assert steps == sorted(set(steps)), "one metrics line per log step, from rank 0 only"


def test_the_world_comes_from_the_standard_environment(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert world_from_env() == World(rank=0, world_size=1, local_rank=0)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    world = world_from_env()
    assert (world.rank, world.world_size, world.local_rank, world.is_main) == (3, 4, 1, False)


def test_a_batch_that_does_not_split_over_the_ranks_is_refused(tiny_config, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ConfigError, match="train.batch_size=4 is not divisible by the 3"):
        train(tiny_config())


@pytest.mark.slow  # about 30 s: two ranks compiling (the uncompiled two-rank run above covers the rest)
def test_two_compiled_ranks_train_the_same_run_as_one_compiled_process(tiny_config, tmp_path):
    """Compiled in place inside DistributedDataParallel (Dynamo splits it at DDP's buckets): the
    same run as one compiled process, to float tolerance."""
    single = train(tiny_config(f"out_dir={tmp_path / 'single'}", "train.compile=true"))
    cfg = tiny_config(f"out_dir={tmp_path / 'ddp'}", "train.compile=true")
    by_rank = run_ranks(cfg)
    assert by_rank[0]["status"] == by_rank[1]["status"] == "complete"
    assert by_rank[0]["final_eval_loss"] == pytest.approx(single["final_eval_loss"], rel=1e-4)
    assert by_rank[1]["final_eval_loss"] == by_rank[0]["final_eval_loss"]
