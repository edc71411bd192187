"""sweep/data/shards.py: shards read as one stream."""

import numpy as np
import pytest

from sweep.data.shards import ShardedTokens


def test_indexing_across_shards_equals_indexing_the_concatenation(tmp_path):
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 500, size=n).astype(np.uint16) for n in (7, 1, 0, 13)]
    for i, part in enumerate(parts):
        part.tofile(tmp_path / f"{i}.bin")
    maps = [np.memmap(tmp_path / f"{i}.bin", dtype=np.uint16, mode="r") if len(p) else p for i, p in enumerate(parts)]
    tokens, joined = ShardedTokens(maps), np.concatenate(parts)
    assert len(tokens) == 21 and tokens.dtype == np.uint16
    index_BxS = rng.integers(0, 21, size=(5, 9))
    np.testing.assert_array_equal(tokens[index_BxS], joined[index_BxS])
    np.testing.assert_array_equal(tokens[3:15], joined[3:15])
    with pytest.raises(IndexError):
        tokens[np.array([21])]
