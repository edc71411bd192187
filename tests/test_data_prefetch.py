"""sweep/data/prefetch.py: batches made ahead are exactly the reader's, in step order."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from sweep.data import TrainReader
from sweep.data.prefetch import Prefetcher

CPU = torch.device("cpu")


def reader() -> TrainReader:
    tokens_T = np.arange(10_000, dtype=np.uint16)
    return TrainReader(tokens_T, seq_len=16, batch_size=8, seed=3)


@pytest.mark.parametrize("first", [0, 7])
def test_prefetched_batches_are_the_readers_from_any_step(first):
    r = reader()
    with Prefetcher(r, first, first + 20, CPU) as batches:
        for step in range(first, first + 20):
            assert torch.equal(batches.take(step), r.batch(step))


def test_batches_are_made_ahead_of_the_step_that_takes_them():
    made = []
    r = reader()
    plain_batch = r.batch

    def slow_batch(step):
        time.sleep(0.05)
        made.append(step)
        return plain_batch(step)

    r.batch = slow_batch
    with Prefetcher(r, 0, 10, CPU, depth=2) as batches:
        batches.take(0)
        deadline = time.monotonic() + 5
        while len(made) < 4 and time.monotonic() < deadline:  # step 0's compute
            time.sleep(0.01)
        time.sleep(0.2)
        assert made == [0, 1, 2, 3]  # two waiting in the queue, one made and waiting for room


def test_steps_taken_out_of_order_or_past_the_end_are_refused():
    with Prefetcher(reader(), 0, 2, CPU) as batches:
        with pytest.raises(ValueError, match="step 1 taken out of order: expected 0"):
            batches.take(1)
        batches.take(0)
        batches.take(1)
        with pytest.raises(ValueError, match="step 2 taken out of order"):
            batches.take(2)


def test_an_error_while_making_a_batch_is_raised_by_the_step_that_takes_it():
    r = reader()

    def broken(step):
        if step == 2:
            raise OSError("shard unreadable")
        return TrainReader.batch(r, step)

    r.batch = broken
    with Prefetcher(r, 0, 5, CPU) as batches:
        batches.take(0)
        batches.take(1)
        with pytest.raises(OSError, match="shard unreadable"):
            batches.take(2)


def test_leaving_early_stops_the_thread_even_with_a_full_queue():
    with Prefetcher(reader(), 0, 1000, CPU, depth=1) as batches:
        batches.take(0)
        time.sleep(0.05)
    assert not batches._thread.is_alive()
