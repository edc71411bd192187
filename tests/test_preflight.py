"""sweep/preflight.py: the checks of what a run needs from the machine, before any compute."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import sweep.preflight
from sweep.config import to_typed
from sweep.data import prepare_token_cache
from sweep.errors import ConfigError
from sweep.preflight import check_local_corpus, check_writable_dir
from tests.helpers import TINY, compose_config


def test_a_writable_folder_passes_and_keeps_nothing_of_the_check(tmp_path):
    check_writable_dir("out_dir", tmp_path)
    check_writable_dir("out_dir", tmp_path / "new" / "runs")  # made inside tmp_path, by the run
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_a_folder_that_cannot_be_created_is_refused_even_for_root():
    """Was: passed for root (os.access says yes to root), and failed once the grid had started."""
    with pytest.raises(ConfigError, match=r"hydra.launcher.folder='/proc/x' cannot be created: /proc "):
        check_writable_dir("hydra.launcher.folder", "/proc/x")
    assert not os.path.exists("/proc/x")


def test_a_read_only_mount_is_refused(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(sweep.preflight.tempfile, "mkdtemp", refused)  # what a read-only mount does, even to root
    with pytest.raises(ConfigError, match=r"out_dir='.*runs' cannot be created: .* is read-only; accepted"):
        check_writable_dir("out_dir", tmp_path / "runs")
    with pytest.raises(ConfigError, match=r"out_dir='.*' is read-only; accepted"):
        check_writable_dir("out_dir", tmp_path)


@pytest.mark.parametrize("corpus", ["data=synthetic", "data=embedded"])
def test_a_cache_dir_that_is_a_file_is_named_for_every_corpus(tmp_path, corpus):
    """Was, for a prepared corpus: 'data=synthetic is not prepared', and the `sweep prepare` it advised
    then failed with 'cannot be created ([Errno 20] Not a directory)'."""
    (tmp_path / "afile").write_text("")
    data = to_typed(compose_config(*TINY, corpus, f"data.cache_dir={tmp_path}/afile")).data
    with pytest.raises(ConfigError, match=r"data.cache_dir='.*afile' is a file; accepted"):
        check_local_corpus(data)


def test_a_truncated_token_cache_entry_is_refused_before_any_job(tmp_path):
    """Was: a local corpus's truncated train.bin passed `sweep plan` and the grid's checks, and every
    job failed at its start; a streamed shard's was caught. Sizes only: a changed byte is the run's."""
    (tmp_path / "corpus").mkdir()
    for i in range(20):
        (tmp_path / "corpus" / f"d{i}.txt").write_text(f"document {i}: " + "some words here " * 20)
    data = to_typed(compose_config(*TINY, "data=files", f"data.paths=[{tmp_path}/corpus]", "data.tokenizer=byte",
                                   "data.eval_tokens=1000", f"data.cache_dir={tmp_path}/cache")).data
    check_local_corpus(data)  # no entry yet: the first run builds it
    entry = prepare_token_cache(data, seq_len=32).path
    check_local_corpus(data)
    with open(entry / "train.bin", "r+b") as f:
        f.truncate(100)
    with pytest.raises(ConfigError, match=rf"{entry.name} is unusable: train\.bin holds 100 bytes.*delete that folder"):
        check_local_corpus(data)
