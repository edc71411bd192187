"""Deterministic batches from a token stream.

Training: the train stream is cut into n_seqs windows of seq_len + 1 tokens, window i starting
at token i * seq_len (consecutive windows share one token, so every token but the first is a
target exactly once per epoch). Global sample g = (step * world_size + rank) * B + b reads
window perm_epoch[g % n_seqs] of epoch g // n_seqs, where perm_epoch is a permutation seeded by
(seed, epoch). A batch is thus a pure function of (seed, step, rank): a resumed run reads
exactly the tokens it would have read, ranks read disjoint windows, and no window repeats
within an epoch.

Evaluation: the held-out stream, cut the same way and read in order, always the same set.

Letters (README "The science: Letters"): B batch size, T tokens (a window's T = seq_len, or the
whole stream's, `tokens_T`).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from sweep.errors import ConfigError


class TrainReader:
    """Batches of training windows, shape (B, T + 1): inputs [:, :-1], targets [:, 1:]."""

    def __init__(self, tokens: np.ndarray, seq_len: int, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1):
        if seq_len < 1:
            raise ConfigError(f"model.seq_len={seq_len}: must be >= 1")
        if batch_size < 1:
            raise ConfigError(f"train.batch_size={batch_size}: must be >= 1")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank={rank}, world_size={world_size}: need 0 <= rank < world_size")
        self.n_seqs = (len(tokens) - 1) // seq_len
        if self.n_seqs < 1:
            raise ConfigError(
                f"the train split holds {len(tokens)} tokens, fewer than one sequence of "
                f"model.seq_len + 1 = {seq_len + 1}: add documents or lower model.seq_len"
            )
        self.tokens_T = tokens
        self.seq_len, self.batch_size = seq_len, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self._perms: dict[int, np.ndarray] = {}  # epoch -> permutation of range(n_seqs)
        self._window_S1 = np.arange(seq_len + 1)

    def batch(self, step: int) -> torch.Tensor:
        """The batch of optimizer step `step` on this rank: int64 tensor (B, T + 1)."""
        if step < 0:
            raise ValueError(f"step={step}: must be >= 0")
        g_B = (step * self.world_size + self.rank) * self.batch_size + np.arange(self.batch_size)
        epoch_B, pos_B = np.divmod(g_B, self.n_seqs)
        window_B = np.empty(self.batch_size, dtype=np.int64)
        for epoch in np.unique(epoch_B):  # one epoch, or two when the batch straddles them
            sel = epoch_B == epoch
            window_B[sel] = self._permutation(int(epoch))[pos_B[sel]]
        index_BxT1 = (window_B * self.seq_len)[:, None] + self._window_S1[None, :]
        return torch.from_numpy(np.asarray(self.tokens_T[index_BxT1], dtype=np.int64))

    def epochs(self, steps: int) -> float:
        """Passes over the unique train tokens that `steps` steps (all ranks together) make."""
        tokens_read = steps * self.world_size * self.batch_size * self.seq_len
        return tokens_read / len(self.tokens_T)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            if len(self._perms) >= 2:  # keep the current epoch and the next
                del self._perms[min(self._perms)]
            self._perms[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n_seqs)
        return self._perms[epoch]


def eval_batches(tokens: np.ndarray, seq_len: int, batch_size: int) -> Iterator[torch.Tensor]:
    """The whole held-out stream as int64 batches (<= B, T + 1), in a fixed order.

    Window i is tokens[i * T : i * T + T + 1], as in training; the ragged tail is dropped and
    the last batch may hold fewer than B windows.
    """
    if seq_len < 1 or batch_size < 1:
        raise ConfigError(f"seq_len={seq_len}, batch_size={batch_size}: both must be >= 1")
    n_seqs = (len(tokens) - 1) // seq_len
    if n_seqs < 1:
        raise ConfigError(
            f"the eval split holds {len(tokens)} tokens, fewer than one sequence of "
            f"model.seq_len + 1 = {seq_len + 1}: raise data.eval_tokens"
        )
    window_T1 = np.arange(seq_len + 1)
    for first in range(0, n_seqs, batch_size):
        starts_B = np.arange(first, min(first + batch_size, n_seqs)) * seq_len
        index_BxT1 = starts_B[:, None] + window_T1[None, :]
        yield torch.from_numpy(np.asarray(tokens[index_BxT1], dtype=np.int64))
