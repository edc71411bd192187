"""sweep/data/reader.py: batches as a pure function of (seed, step, rank); fixed eval batches."""

import numpy as np
import pytest
import torch

from sweep.data import TrainReader, eval_batches
from sweep.errors import ConfigError

S = 10  # seq_len
TOKENS_T = np.arange(1001, dtype=np.uint16)  # 100 windows of S + 1; token value = position


def starts(batch_BxS1: torch.Tensor) -> list[int]:
    """Window index of each row (tokens are their own positions)."""
    return [int(row[0]) // S for row in batch_BxS1]


def test_a_batch_is_b_contiguous_windows_of_seq_len_plus_one():
    batch_BxS1 = TrainReader(TOKENS_T, seq_len=S, batch_size=4, seed=0).batch(0)
    assert batch_BxS1.shape == (4, S + 1) and batch_BxS1.dtype == torch.int64
    inputs_BxS, targets_BxS = batch_BxS1[:, :-1], batch_BxS1[:, 1:]
    assert torch.equal(targets_BxS, inputs_BxS + 1)  # targets are the next tokens
    assert all(int(row[0]) % S == 0 for row in batch_BxS1)


def test_same_seed_and_step_give_the_same_batch_as_after_a_resume():
    reader = TrainReader(TOKENS_T, seq_len=S, batch_size=4, seed=3)
    seen = [reader.batch(step) for step in range(30)]  # crosses an epoch boundary (25 steps)
    resumed = TrainReader(TOKENS_T, seq_len=S, batch_size=4, seed=3)
    assert torch.equal(resumed.batch(27), seen[27])
    assert torch.equal(resumed.batch(5), seen[5])
    other_seed = TrainReader(TOKENS_T, seq_len=S, batch_size=4, seed=4)
    assert not torch.equal(other_seed.batch(5), seen[5])


@pytest.mark.parametrize("batch_size", [10, 7])  # 7 does not divide the 100 windows
def test_every_epoch_reads_every_window_exactly_once(batch_size):
    reader = TrainReader(TOKENS_T, seq_len=S, batch_size=batch_size, seed=0)
    windows = [w for step in range(-(-300 // batch_size)) for w in starts(reader.batch(step))]
    epochs = [windows[0:100], windows[100:200], windows[200:300]]
    assert all(sorted(epoch) == list(range(100)) for epoch in epochs)
    assert epochs[0] != epochs[1]  # a fresh order each epoch


def test_ranks_read_disjoint_windows_that_cover_the_epoch():
    per_rank = [
        [w for step in range(5) for w in starts(TrainReader(TOKENS_T, S, 10, seed=0, rank=r,
                                                            world_size=2).batch(step))]
        for r in range(2)
    ]
    assert set(per_rank[0]).isdisjoint(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == list(range(100))


def test_epochs_counts_passes_over_the_unique_train_tokens():
    reader = TrainReader(TOKENS_T, seq_len=S, batch_size=4, seed=0, rank=1, world_size=2)
    assert reader.epochs(100) == pytest.approx(100 * 2 * 4 * S / 1001)
    assert reader.epochs(0) == 0


def test_a_stream_shorter_than_one_sequence_is_refused():
    with pytest.raises(ConfigError, match=r"holds 10 tokens.*seq_len \+ 1 = 11"):
        TrainReader(TOKENS_T[:10], seq_len=S, batch_size=1, seed=0)


def test_eval_batches_are_fixed_and_cover_the_whole_split():
    eval_T = TOKENS_T[:105]  # 10 windows (starts 0, 10, ..., 90), a ragged tail of 4
    batches = list(eval_batches(eval_T, seq_len=S, batch_size=4))
    assert [tuple(b.shape) for b in batches] == [(4, S + 1), (4, S + 1), (2, S + 1)]
    rows_NxS1 = torch.cat(batches)
    assert starts(rows_NxS1) == list(range(10))
    assert torch.equal(rows_NxS1[:, 1:].flatten(), torch.arange(1, 101))  # each target once
    assert all(torch.equal(a, b) for a, b in zip(batches, eval_batches(eval_T, S, 4)))
