"""sweep/preflight.py: the checks of what a run needs from the machine, before any compute."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import sweep.preflight
from sweep.config import to_typed
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
