"""Several memory-mapped token files read as one stream.

A prepared corpus (sweep/data/streamed.py) keeps its train tokens in shards `train-00000.bin`,
`train-00001.bin`, ...; `ShardedTokens` lets the reader index them as if they were one array:
`len()` is the total, and `tokens[index]` with an integer array of any shape gathers across
shard boundaries (a training window may start in one shard and end in the next).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class ShardedTokens:
    """Read-only concatenation of 1-D token arrays (np.memmap shards)."""

    def __init__(self, shards: Sequence[np.ndarray]):
        self._shards = [s for s in shards if len(s)]
        lengths = np.array([len(s) for s in self._shards], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(lengths)])  # shard i covers [starts[i], starts[i+1])
        self.dtype = self._shards[0].dtype if self._shards else np.dtype(np.uint16)

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def n_shards(self) -> int:
        return len(self._shards)

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, slice):
            return self[np.arange(*index.indices(len(self)))]
        index_any = np.asarray(index, dtype=np.int64)
        flat = index_any.reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= len(self)):
            raise IndexError(f"token index out of range [0, {len(self)})")
        shard_of = np.searchsorted(self._starts, flat, side="right") - 1
        out = np.empty(flat.shape, dtype=self.dtype)
        for s in np.unique(shard_of):
            sel = shard_of == s
            out[sel] = self._shards[s][flat[sel] - self._starts[s]]
        return out.reshape(index_any.shape)
