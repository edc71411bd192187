"""launch/entry.py: a single run from `python -m sweep.train` records the overrides that made it."""

import subprocess
import sys
from pathlib import Path

from sweep.rundir import iter_run_dirs
from tests.helpers import TINY

REPO = Path(__file__).resolve().parent.parent


def test_a_single_run_records_its_overrides_once_per_launch_that_trains_it(tmp_path, shared_cache_dir):
    out = tmp_path / "runs"
    overrides = [*TINY, "budget.tokens_per_param=0.1", f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"]
    for _ in range(2):  # the second finds the run complete: not launched again, not recorded again
        proc = subprocess.run([sys.executable, "-m", "sweep.train", *overrides], cwd=REPO, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    run, = iter_run_dirs(out)
    assert len(run.read_overrides_history()) == 1
    assert run.read_overrides() == overrides
