"""launch/prepare.py and `sweep prepare`: a grid's corpora prepared once, for its largest run;
runs then read the shards, and a grid needing more than was prepared stops before any run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launch.grid import check_data_ready, compose_grid
from launch.prepare import corpus_needs, prepare_grid, submit_prepare
from launch.cli import main
from sweep.errors import ConfigError
from sweep.run.loop import train
from tests.c4_fixture import write_c4, write_t5_tokenizer
from tests.helpers import TINY, slurm_tools

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def c4_overrides(tmp_path_factory):
    """data=c4 pointed at a local C4-format folder and a local T5-style tokenizer."""
    root = tmp_path_factory.mktemp("c4-prepare")
    c4 = write_c4(root / "c4", train_files=4, docs_per_file=60, validation_docs=80)
    t5 = write_t5_tokenizer(root / "t5")
    return ["data=c4", f"data.hf_path={c4}", f"data.tokenizer_name={t5}", "data.vocab_size=401",
            "data.density_documents=500"]


def grid_overrides(c4_overrides, out: Path, *extra: str) -> list[str]:
    return [*TINY, *c4_overrides, f"out_dir={out}", *extra]


def test_prepare_makes_what_the_largest_run_reads_and_runs_train_on_it(c4_overrides, tmp_path, capsys):
    overrides = grid_overrides(c4_overrides, tmp_path, "model.d=16,32")
    grid = compose_grid(overrides)
    [need] = corpus_needs(grid)
    assert need.runs == 2 and need.tokens_read == max(p.budget.tokens for p in grid)
    with pytest.raises(ConfigError, match="(?s)not ready.*not prepared.*sweep prepare"):
        check_data_ready(grid)

    assert main(["prepare", *overrides]) == 0
    out = capsys.readouterr().out
    assert "the largest run reads" in out and "density (documents_examined" in out
    [summary] = prepare_grid(overrides)  # again: nothing more to do, same entry
    assert summary["ready"] and summary["train_tokens"] >= need.tokens_read
    assert summary["shards"] < 4  # stopped once the largest run's tokens were there
    check_data_ready(grid)

    result = train(grid[1].cfg)
    assert result["status"] == "complete"
    assert result["epochs"] == pytest.approx(grid[1].budget.tokens / summary["train_tokens"])
    assert 0 < result["data_density"]["unique_token_fraction"] <= 1
    assert result["vocab_size"] == 401


def test_a_grid_point_needing_more_than_was_prepared_stops_the_whole_grid(c4_overrides, tmp_path):
    small = grid_overrides(c4_overrides, tmp_path, "model.d=16")
    prepare_grid(small)
    bigger = compose_grid(grid_overrides(c4_overrides, tmp_path, "model.d=16,64", "budget.tokens_per_param=4"))
    with pytest.raises(ConfigError, match=r"(?s)not ready.*d64.*reads .* train tokens but the corpus holds .*"
                                          r"more than data.max_epochs=1"):
        check_data_ready(bigger)


def test_a_sweep_on_unprepared_data_runs_nothing(c4_overrides, tmp_path):
    cmd = [sys.executable, "-m", "sweep.train", "-m", *grid_overrides(c4_overrides, tmp_path / "out", "model.d=16,32")]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "not prepared" in done.stdout + done.stderr and "sweep prepare" in done.stdout + done.stderr
    assert not list((tmp_path / "out").glob("d*"))  # no run folder: nothing started


def test_a_synthetic_sweep_records_the_true_entropy_its_loss_cannot_beat(tmp_path):
    overrides = [*TINY, "data=synthetic", "data.vocab_size=64", "data.synthetic.branching=4",
                 "data.synthetic.documents_per_shard=200", "data.density_documents=500", f"out_dir={tmp_path}"]
    [summary] = prepare_grid(overrides)
    entropy = summary["true_entropy_nats"]
    assert 0 < entropy < 2.0 and summary["ready"]
    result = train(compose_grid(overrides)[0].cfg)
    assert result["true_entropy_nats"] == entropy
    assert result["final_eval_loss"] > entropy  # no model beats the source's entropy rate


def test_prepare_as_a_slurm_job_reads_a_glob_sweep_for_its_slurm_settings():
    # the grid's first point is composed for the launcher settings: glob() needs Hydra's config loader
    with pytest.raises(ConfigError, match="add hydra/launcher=slurm"):
        submit_prepare(["logger=glob(*)", "model.d=64,128"], "train", workers=1, time_min=1)


def test_prepare_as_a_slurm_job_refuses_a_partition_or_request_the_cluster_cannot_hold_before_submitting(
        tmp_path, monkeypatch):
    """Was: sbatch refused an unknown partition, and took --workers 999 to pend forever (PartitionConfig)."""
    slurm_tools(tmp_path / "bin", monkeypatch, sinfo="debug*|1|2|24105|gpu:1\n")  # the single-node testbed
    grid = ["hydra/launcher=slurm", "model.d=64,128", f"out_dir={tmp_path / 'sweep'}"]
    with pytest.raises(ConfigError, match=r"^--workers 999: the partition 'debug' \(the default\) has at most 2 CPUs "
                                          r"per node \(sinfo\); accepted: 1..2$"):
        submit_prepare(grid, "train", workers=999, time_min=5)
    with pytest.raises(ConfigError, match=r"^hydra.launcher.mem_gb=64: the partition 'debug' \(the default\) has at "
                                          r"most 23.5 GiB of memory per node \(sinfo\); accepted: up to 23.5"):
        submit_prepare(grid, "train", workers=1, time_min=5)  # the launcher's default mem_gb
    with pytest.raises(ConfigError, match="hydra.launcher.partition=nosuch: the cluster has no partition 'nosuch'"):
        submit_prepare([*grid, "hydra.launcher.partition=nosuch"], "train", workers=1, time_min=5)
    assert not (tmp_path / "sweep").exists()


def test_a_cache_dir_that_is_a_file_is_said_at_once_by_the_grid_and_by_prepare(tmp_path):
    """Was: the grid said 'data=synthetic is not prepared', and the `sweep prepare` it advised said
    'cannot be created ([Errno 20] Not a directory ...)'; data=embedded said 'is a file' at once."""
    (tmp_path / "afile").write_text("")
    overrides = [*TINY, "data=synthetic", f"data.cache_dir={tmp_path}/afile", f"out_dir={tmp_path}/runs"]
    with pytest.raises(ConfigError) as err:
        check_data_ready(compose_grid(overrides))
    assert str(err.value).count("afile' is a file; accepted") == 1 and "not prepared" not in str(err.value)
    with pytest.raises(ConfigError, match=r"data.cache_dir='.*afile' is a file; accepted"):
        prepare_grid(overrides)
