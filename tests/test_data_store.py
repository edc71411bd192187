"""sweep/data/store.py: the one token store both kinds of corpora write and every run reads."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sweep.data.store import (
    EVAL_FILE,
    MANIFEST_FILE,
    TRAIN_FILE,
    SplitWriter,
    TokenStore,
    check_token_files,
    entry_lock,
    read_manifest,
    token_dtype,
    write_manifest,
)
from sweep.errors import ConfigError

V, EOS = 300, 299


def write_split(path, *streams, dtype=None):
    writer = SplitWriter(path, dtype or token_dtype(V), V, eos_id=EOS)
    for stream_T in streams:
        writer.write(np.asarray(stream_T))
    writer.close()
    return writer


def test_the_dtype_is_the_narrowest_that_holds_every_id():
    assert token_dtype(257) == np.uint16 and token_dtype(1 << 16) == np.uint16
    assert token_dtype((1 << 16) + 1) == np.uint32


def test_a_split_writer_counts_hashes_and_writes_what_it_is_given(tmp_path):
    writer = write_split(tmp_path / "train.bin", [1, 2, EOS], [], [3, EOS])
    raw = (tmp_path / "train.bin").read_bytes()
    assert np.frombuffer(raw, dtype=np.uint16).tolist() == [1, 2, EOS, 3, EOS]
    assert (writer.n_tokens, writer.n_documents, writer.distinct_ids()) == (5, 2, 4)
    assert writer.sha256.hexdigest() == hashlib.sha256(raw).hexdigest()


def test_one_reader_for_one_train_file_and_for_shards(tmp_path):
    local, streamed = tmp_path / "local", tmp_path / "streamed"
    local.mkdir(), streamed.mkdir()
    stream_T = np.array([5, 6, EOS, 7, 8, 9, EOS, 1, EOS])
    write_split(local / TRAIN_FILE, stream_T)
    write_split(local / EVAL_FILE, [4, EOS])
    write_split(streamed / "train-00000.bin", stream_T[:3])
    write_split(streamed / "train-00001.bin", stream_T[3:])
    write_split(streamed / EVAL_FILE, [4, EOS])
    one = TokenStore(local, {"dtype": "uint16", "n_train_tokens": 9, "n_eval_tokens": 2,
                             "tokenizer": "byte"}, V, EOS)
    sharded = TokenStore(streamed, {"dtype": "uint16", "n_train_tokens": 9, "eval": {"n_tokens": 2},
                                    "shards": [{"file": "train-00000.bin", "n_tokens": 3},
                                               {"file": "train-00001.bin", "n_tokens": 6}]}, V, EOS)
    for store in (one, sharded):
        train = store.train_tokens()
        assert len(train) == store.n_train_tokens == 9
        assert train[np.arange(9)].tolist() == stream_T.tolist()
        assert store.eval_tokens().tolist() == [4, EOS]
    assert isinstance(one.train_tokens(), np.memmap) and sharded.train_tokens().n_shards == 2


def test_a_manifest_is_replaced_whole_and_readable_by_the_group(tmp_path):
    old = os.umask(0o022)
    try:
        write_manifest(tmp_path, {"version": 1})
        write_manifest(tmp_path, {"version": 1, "n_train_tokens": 9})
    finally:
        os.umask(old)
    assert read_manifest(tmp_path, streamed=False) == {"version": 1, "n_train_tokens": 9}
    assert (tmp_path / MANIFEST_FILE).stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST_FILE]  # no temporary file left


@pytest.mark.parametrize("streamed, remedy", [
    (False, "token cache entry .* is unusable: .*; delete that folder to have it rebuilt"),
    (True, "prepared corpus .* is unusable: .*; run `sweep prepare` with the sweep.s overrides again .*delete that folder"),
])
def test_a_damaged_entry_is_one_error_naming_the_folder_and_what_to_do(tmp_path, streamed, remedy):
    with pytest.raises(ConfigError, match=remedy):
        read_manifest(tmp_path, streamed=streamed)
    (tmp_path / MANIFEST_FILE).write_text("[1, 2]")
    with pytest.raises(ConfigError, match="manifest.json is not a JSON object"):
        read_manifest(tmp_path, streamed=streamed)


def test_the_files_are_checked_against_the_manifest_sizes_always_checksums_when_asked(tmp_path):
    train = write_split(tmp_path / TRAIN_FILE, [1, 2, EOS])
    evals = write_split(tmp_path / EVAL_FILE, [3, EOS])
    manifest = {"dtype": "uint16", "n_train_tokens": 3, "n_eval_tokens": 2,
                "sha256": {TRAIN_FILE: train.sha256.hexdigest(), EVAL_FILE: evals.sha256.hexdigest()}}
    check_token_files(tmp_path, manifest, checksum_max_bytes=float("inf"), streamed=False)
    with open(tmp_path / EVAL_FILE, "r+b") as f:
        f.write(b"\x07\x00")  # same size, other bytes
    check_token_files(tmp_path, manifest, checksum_max_bytes=None, streamed=False)
    with pytest.raises(ConfigError, match=r"eval\.bin does not match the sha256"):
        check_token_files(tmp_path, manifest, checksum_max_bytes=float("inf"), streamed=False)
    with pytest.raises(ConfigError, match=r"train\.bin holds 6 bytes where the manifest's 4 uint16 tokens need 8"):
        check_token_files(tmp_path, {**manifest, "n_train_tokens": 4}, checksum_max_bytes=None, streamed=False)
    with pytest.raises(ConfigError, match=r"manifest\.json has an incomplete entry"):
        check_token_files(tmp_path, {"dtype": "uint16", "shards": [{"file": "x"}], "eval": {}},
                          checksum_max_bytes=None, streamed=True)
    with pytest.raises(ConfigError, match=r"incomplete entry \(ValueError: train\.bin: n_tokens = 'many' is not a count"):
        check_token_files(tmp_path, {**manifest, "n_train_tokens": "many"}, checksum_max_bytes=None, streamed=False)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full to stand for a full disk")
def test_a_split_written_to_a_full_disk_is_one_error_naming_it_not_a_traceback():
    from sweep.data.store import SplitWriter
    from sweep.errors import StorageError

    writer = SplitWriter(Path("/dev/full"), np.dtype(np.uint16), 512)
    with pytest.raises(StorageError, match=r"cannot write /dev/full: \[Errno 28\] No space left on device"):
        writer.write(np.arange(500_000) % 512)  # more than the file's buffer: written, and refused, at once
        writer.close()


def test_a_failed_build_removes_its_lock_file_and_a_waiter_locks_the_new_one(tmp_path):
    """A build that fails (a corpus too small for the run) left `.{entry}.lock` behind; now it removes
    it, still holding it, and a process that waited on the removed file locks the file at the path."""
    entry = tmp_path / "files-byte-v257-abc"
    lock_file = tmp_path / f".{entry.name}.lock"
    waiter_holds = threading.Event()
    checked = []

    def waiter():
        with entry_lock(entry):
            waiter_holds.set()
            with open(lock_file, "a") as f:  # a third process finds the lock held: the waiter's is the file's
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    checked.append("free")
                except BlockingIOError:
                    checked.append("held")

    with pytest.raises(ConfigError, match="too small"):
        with entry_lock(entry):
            thread = threading.Thread(target=waiter)
            thread.start()
            time.sleep(0.2)  # the waiter has opened the file and waits on its lock
            assert not waiter_holds.is_set()
            raise ConfigError("the corpus is too small")
    thread.join(10)
    assert waiter_holds.is_set() and checked == ["held"]
    assert lock_file.exists()  # the waiter's own, left as a build that ends well leaves it
    with pytest.raises(ConfigError):
        with entry_lock(entry):
            raise ConfigError("again")
    assert list(tmp_path.iterdir()) == []
