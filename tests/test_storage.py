"""sweep/storage.py: the one atomic write, and the error a failed write becomes."""

import errno
import os
import stat

import pytest

from sweep.errors import StorageError
from sweep.storage import atomic_write, describe_bytes, output_failed


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write(path, "one")
    atomic_write(path, "two")
    assert path.read_text() == "two"


def test_a_failed_atomic_write_names_the_file_and_the_free_space_and_keeps_the_old_content(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    atomic_write(path, "old")

    def io_error(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", io_error)
    with pytest.raises(StorageError, match=rf"cannot write {path}: \[Errno 5\] .* free on its file system") as err:
        atomic_write(path, "new")
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # the temporary file is removed
    assert "checkpoint" not in str(err.value)  # not a run's folder (a report's: it has none)
    (tmp_path / "config.yaml").write_text("model: {}\n")
    with pytest.raises(StorageError, match=r"what was written before is kept \(a run resumes from its last checkpoint"):
        atomic_write(path, "new")


def test_atomic_write_takes_bytes_or_a_writer_function(tmp_path):
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    atomic_write(tmp_path / "w.bin", lambda f: f.write(b"written"))
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "w.bin").read_bytes() == b"written"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_an_atomically_written_file_has_the_mode_open_would_give_under_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "result.json", "{}")
        with open(tmp_path / "plain.txt", "w"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode


def test_sizes_are_described_in_binary_units():
    assert describe_bytes(512) == "512 B"
    assert describe_bytes(10 * 1024) == "10.0 KiB"
    assert describe_bytes(3 * 1024 ** 3) == "3.0 GiB"
    assert describe_bytes(None) == "unknown"


def test_a_write_the_file_system_refuses_anywhere_is_one_line_and_another_os_error_is_not_ours(tmp_path):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "loss_vs_n.png"))
    assert output_failed(full).startswith(f"cannot write {tmp_path / 'loss_vs_n.png'}: [Errno 28] No space left on "
                                          "device; ") and "free on its file system" in output_failed(full)
    assert output_failed(OSError(errno.ENOSPC, "No space left on device")).startswith("cannot write the output:")
    assert output_failed(OSError(errno.ENOENT, "No such file or directory", "x")) is None
