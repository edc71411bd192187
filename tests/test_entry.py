"""launch/entry.py: `python -m sweep.train`: a single run records the overrides that made it;
`--help` shows the project's page (conf/hydra/help/sweep.yaml)."""

import re
import subprocess
import sys
from pathlib import Path

from sweep.rundir import iter_run_dirs
from tests.helpers import TINY, compose_config

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
    assert run.read_config_name() == "train"  # the config they apply to (`--config-name demo`: demo)


def test_a_single_run_that_asks_for_cooldown_branches_is_one_error_and_leaves_no_folder(tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *TINY, "optim.schedule=wsd", "budget.branch=true",
                           f"out_dir={out}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "budget.branch=true" in proc.stderr and "budget.tokens_per_param=5,10,20,40" in proc.stderr
    assert list(iter_run_dirs(out)) == [] and not any(out.rglob("overrides.yaml"))


def test_a_single_run_that_fails_before_it_starts_leaves_no_run_folder(tmp_path):
    """A files corpus too small for a BPE fails while the first run tokenizes it (was: a run folder holding only
    overrides.yaml, which `sweep status` did not list, and an empty token_cache/)."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("a short document " * 20)
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *TINY, "data=files", f"data.paths=[{tmp_path}/corpus]",
                           "data.tokenizer=bpe", f"out_dir={out}"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "too small for data.tokenizer=bpe" in proc.stderr, proc.stdout + proc.stderr
    assert list(out.iterdir()) == []


def help_page(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *args, "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_help_page_shows_the_main_keys_with_this_config_s_values_launchers_and_examples():
    page = help_page()
    train = compose_config()  # conf/train.yaml's defaults, as the page must show them
    for key, value in [("model.d", train.model.d), ("model.l", train.model.l), ("train.batch_size",
                       train.train.batch_size), ("optim.lr", train.optim.lr), ("optim.weight_decay",
                       train.optim.weight_decay), ("budget.tokens_per_param", train.budget.tokens_per_param),
                       ("out_dir", train.out_dir), ("seed", train.seed), ("data", "embedded"), ("logger", "wandb")]:
        assert re.search(rf"^  {re.escape(key)} .*\(default: {re.escape(str(value))}\)$", page, re.M), key
    assert "hydra/launcher=local" in page and "hydra/launcher=slurm" in page
    examples = page.split("== Examples ==")[1].split("==")[0].strip().splitlines()
    assert len(examples) == 3 and "-m hydra/launcher=slurm" in examples[2] and "--dry-run" in examples[2]
    assert "Powered by Hydra" not in page  # Hydra's stock page is replaced


def test_the_help_page_of_another_config_or_command_line_shows_its_values():
    page = help_page("--config-name", "demo", "seed=7")
    assert re.search(r"^  out_dir .*\(default: runs/demo\)$", page, re.M)
    assert re.search(r"^  seed .*\(default: 7\)$", page, re.M)
    assert "this command line's: hydra/launcher=local" in page
