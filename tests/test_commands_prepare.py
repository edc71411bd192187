"""launch/commands/prepare.py: what `sweep prepare` prints for each corpus a grid needs, and its exit
code (the preparing itself: tests/test_prepare.py)."""

import re

import pytest

from launch.commands.prepare import prepare
from sweep.errors import ConfigError
from tests.helpers import TINY


def test_prepare_prints_each_corpus_with_its_tokens_entropy_and_density_and_exits_0_when_ready(
        tmp_path, capsys, wide_console):
    overrides = [*TINY, "data=synthetic", "data.vocab_size=64", "data.synthetic.branching=4",
                 "data.synthetic.documents_per_shard=200", "data.density_documents=500",
                 f"data.cache_dir={tmp_path / 'cache'}", f"out_dir={tmp_path / 'runs'}", "seed=1,2"]
    assert prepare(overrides, "train", workers=1, slurm=False, time_min=None, wait=False) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([line for line in lines if line.endswith("(2 runs)")]) == 1  # one corpus, both seeds' runs
    assert any(line.startswith("  ") and "train tokens in" in line and "eval tokens, V = 64;" in line
               and "epochs" in line for line in lines)
    assert any(line.startswith("  true entropy rate of the source: ") for line in lines)
    assert any(line.startswith("  density (documents_examined ") for line in lines)
    assert not any("not enough" in line for line in lines)


@pytest.mark.parametrize("options, message", [
    (dict(wait=True), "--wait: taken only with --slurm"),
    (dict(time_min=5), "--time-min: taken only with --slurm"),
    (dict(workers=100000), "--workers 100000: accepted is a whole number from 1 to "),
    (dict(workers=0, slurm=True), "--workers 0: accepted is a whole number >= 1"),
])
def test_an_option_prepare_cannot_use_here_is_refused_before_any_work(tmp_path, options, message):
    """Was: --wait / --time-min without --slurm ignored; --workers 64 on 2 cores not done in 120 s."""
    given = dict(workers=1, slurm=False, time_min=None, wait=False) | options
    with pytest.raises(ConfigError, match=re.escape(message)):
        prepare([f"out_dir={tmp_path / 'runs'}"], "demo", **given)
    assert not (tmp_path / "runs").exists()
