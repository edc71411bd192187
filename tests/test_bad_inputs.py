"""Every bad input is one clear message naming the value and what is accepted, exit code 2, no
traceback, nothing created (no out_dir, no token cache), before any compute.

The first table runs the real command line (`python -m sweep.train ...`, a few seconds each);
the second calls the same check in-process (launch/command_line.py check_command_line, which
`python -m sweep.train` runs before Hydra), for the many cases that do not need a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from launch.cli import main as sweep_cli
from sweep.config import to_typed
from sweep.data.local import prepare_token_cache
from sweep.errors import ConfigError
from tests.helpers import TINY, compose_config, write_runs

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="train.device=cuda is valid where CUDA is")
NOT_ROOT = pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")


@pytest.fixture
def inputs(tmp_path) -> dict[str, str]:
    """Bad files and folders, by name: {name} in a case's overrides is replaced by its path."""
    data = tmp_path / "data"
    data.mkdir()
    files = {
        "empty": ("empty.txt", b"  \n"),
        "binary": ("binary.txt", bytes(range(256)) * 8),
        "nul": ("nul.txt", b"text\x00with a NUL byte"),
        "jsonl_no_field": ("no_field.jsonl", b'{"body": "a document in the wrong field"}\n'),
        "blank": ("blank.jsonl", b"\n\n"),
        "binary_parquet": ("binary.parquet", b"PAR1 not really"),
        "notes": ("notes.md", b"a document with an unknown extension"),
    }
    names = {}
    for name, (file, content) in files.items():
        (data / file).write_bytes(content)
        names[name] = str(data / file)
    (tmp_path / "a_file").write_text("not a folder")
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    return {**names, "a_file": str(tmp_path / "a_file"), "read_only": str(read_only),
            "missing": str(tmp_path / "missing.txt")}


def command(overrides: list[str], inputs: dict[str, str], out_dir: Path) -> list[str]:
    """The case's overrides with paths filled in, writing under out_dir unless it names one."""
    flags = [o for o in overrides if o.startswith("-")]  # Hydra takes its flags before the overrides
    filled = [o.format(**inputs) for o in overrides if o not in flags]
    if not any(o.startswith("out_dir=") for o in filled):
        filled.append(f"out_dir={out_dir}")
    return [*flags, *TINY, f"data.cache_dir={out_dir}/token_cache", *filled]


# (overrides, words the message must hold)
ENTRY_POINT_CASES = [
    (["model.d=40"], ["model.d=40", "multiple of model.head_dim=16"]),
    (["modle.d=64"], ["modle", "accepted keys", "did you mean model"]),
    (["optim.lr=inf"], ["optim.lr=inf", "finite", "> 0"]),
    (["data=files", "data.paths=[{empty}]"], ["empty.txt", "no non-empty document"]),
    (["out_dir={a_file}/runs"], ["out_dir=", "a_file", "which is a file"]),
    pytest.param(["train.device=cuda"], ["train.device=cuda", "auto or cpu"], marks=NO_CUDA),
    (["-m", "optim.lr=1e-3,inf"], ["1 of 2 grid points", "optim.lr=inf", "finite"]),
    pytest.param(["-m", "model.l=1,2", "train.device=cuda"], ["train.device=cuda", "auto or cpu"], marks=NO_CUDA),
    (["-m", "model.l=1,2", "data=files", "data.paths=[{binary}]"], ["binary.txt", "not UTF-8"]),
    (["-m", "model.l=1,2", "data=synthetic", "data.vocab_size=8"], ["2 of 2 grid points", "data.synthetic.branching=8"]),
    (["-m", "optim.lr=1e-3,3e-3", "early_stop.fraction=2"], ["early_stop.fraction=2.0", "in (0, 1)"]),
    (["-m", "optim.lr=1e-3,3e-3", "early_stop.enabled=true"], ["early_stop.enabled=true", "hydra/launcher=local"]),
    (["-m", "optim.lr=1e-3,3e-3", "early_stop.enabled=true", "--dry-run"],  # was: a plan, exit 0, "saving at most"
     ["early_stop.enabled=true", "hydra/launcher=local"]),
]


@pytest.mark.parametrize("overrides, words", ENTRY_POINT_CASES)
def test_the_command_line_refuses_bad_input_in_one_line_with_exit_code_2_and_creates_nothing(
        overrides, words, inputs, tmp_path):
    out_dir = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *command(overrides, inputs, out_dir)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "error: " in output
    for word in words:
        assert word in output
    assert "Traceback" not in output
    assert "+modle" not in output  # no advice to add a typo as a new key
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "data", "read_only"]


def test_hydra_full_error_still_shows_the_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *TINY, "model.d=40", f"out_dir={tmp_path}/runs"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "model.d=40" in proc.stderr


IN_PROCESS_CASES = [
    (["-m", "modle.l=1,2"], ["modle", "accepted keys"]),
    (["-m", "model.l=1,2", "hydra/launcher=nope"], ["hydra/launcher/nope", "local", "slurm"]),
    (["-m", "model.l=1,2", "hydra/launcher=slurm", "hydra.launcher.timeout_mi=60"],
     ["hydra.launcher.timeout_mi", "hydra/launcher=slurm", "accepted", "timeout_min", "max_num_timeout"]),
    (["-m", "model.l=1,2", "hydra.launcher.timeout_min=60"], ["hydra/launcher=basic", "local or slurm"]),
    # were Hydra's parser and struct errors with no key and a stray "; None", and (a sweep of hydra.*)
    # Hydra's "Sweeping over Hydra's configuration is not supported", exit code 1
    (["-m", "model.l=1,2", "hydra/launcher=slurm", "hydra.launcher.srun_args=[--cpu-bind=none]"],
     ["hydra.launcher.srun_args=[--cpu-bind=none]: Hydra's override grammar cannot read the value",
      """'hydra.launcher.srun_args=["--cpu-bind=none"]'"""]),
    (["-m", "model.l=1,2", "hydra/launcher=slurm", "hydra.launcher.exclude=node3,node[5-7]"],
     ["hydra.launcher.exclude=node3,node[5-7]: Hydra's override grammar", """'hydra.launcher.exclude="node3,node[5-7]"'"""]),
    (["-m", "model.l=1,2", "hydra/launcher=slurm", "hydra.launcher.additional_parameters={{exclusive:true}}"],
     ["'exclusive' is not a key of hydra.launcher.additional_parameters",
      "add a new key with a leading +, one override each: +hydra.launcher.additional_parameters.exclusive=true"]),
    (["-m", "model.l=1,2", "hydra/launcher=local", "hydra.launcher.parallelism=2,3"],
     ["hydra.launcher.parallelism=2,3: Hydra's own settings (hydra.*) take one value per command",
      "hydra.launcher.parallelism=2, then hydra.launcher.parallelism=3"]),
    (["-m", "+experiment=lr_ucurve", "+experiment=otr"],
     ["+experiment=...: given twice; a command takes one experiment", "accepted: batch_ucurve", "otr"]),
    (["-m", "optim.schedule=wsd", "budget.branch=true", "budget.tokens_per_param=5,10", "budget.trunk=true"],
     ["budget.trunk=true", "set by the planner of a budget.branch=true grid"]),  # was: a grid of 0 runs, exit 0
    (["logger.mode=sometimes"], ["sometimes", "auto, online, offline"]),
    (["budget.tokens_per_param=inf"], ["budget.tokens_per_param=inf", "finite"]),
    (["model.l=0"], ["model.l=0", ">= 1"]),
    (["optim.lr=0"], ["optim.lr=0", "> 0"]),
    (["optim.lr=nan"], ["optim.lr=nan", "finite"]),
    (["optim.weight_decay=inf"], ["optim.weight_decay=inf", ">= 0"]),
    (["optim.eps=inf"], ["optim.eps=inf", ">= 0"]),
    (["optim.grad_clip=inf"], ["optim.grad_clip=inf", "null for no clipping"]),
    (["optim.b2=nan"], ["optim.b2=nan", "[0, 1)"]),
    (["optim.warmup_max_fraction=inf"], ["optim.warmup_max_fraction=inf", "[0, 1]"]),
    (["optim.warmup_steps=-1"], ["optim.warmup_steps=-1", ">= 0"]),
    (["model.rope_base=inf"], ["model.rope_base=inf", "> 0"]),
    (["train.peak_tflops=inf"], ["train.peak_tflops=inf", "> 0"]),
    (["train.peak_tflops=0"], ["train.peak_tflops=0.0", "> 0, or null"]),
    (["seed=-1"], ["seed=-1", "whole number in [0, 2^63)"]),  # was: a numpy traceback after the corpus was built
    (["seed=99999999999999999999"], ["seed=99999999999999999999", "[0, 2^63)"]),  # was: torch's, in a failed run
    (["out_dir="], ["out_dir=''", "a folder path"]),  # was: the token cache written at /token_cache
    (["data.cache_dir="], ["data.cache_dir=''", "a folder path"]),  # was: the corpus tokenized into the cwd
    (["recipe="], ["recipe=''", "accepted is a label"]),
    (["optim.schedule=wsd", "optim.cooldown_fraction=nan"], ["optim.cooldown_fraction=nan", "finite"]),
    (["train.checkpoint_every_minutes=inf"], ["train.checkpoint_every_minutes=inf", "> 0"]),
    (["train.divergence_factor=inf"], ["train.divergence_factor=inf", "> 1"]),
    (["train.batch_size=0"], ["train.batch_size=0", "> 0"]),
    (["train.loss_chunk_tokens=0"], ["train.loss_chunk_tokens=0", ">= 1", "null for the whole logits"]),
    (["data.max_epochs=inf"], ["data.max_epochs=inf", "null for any number"]),
    (["data.eval_tokens=8"], ["data.eval_tokens=8", "model.seq_len + 1"]),
    (["data=synthetic", "data.synthetic.zipf=inf"], ["data.synthetic.zipf=inf", ">= 0"]),
    (["data=synthetic", "data.vocab_size=8"], ["data.synthetic.branching=8", "[1, 7]"]),
    (["data=synthetic", "data.tokenizer=byte"], ["data.tokenizer=byte", "accepted are none"]),
    (["data.tokenizer=none"], ["data.tokenizer=none", "only goes with data=synthetic"]),
    (["model.d=wide"], ["model.d=wide: accepted is a whole number"]),
    (["model.d=[64,128]"], ["model.d=[64, 128]: accepted is a whole number"]),
    (["model.dd=64"], ["model.dd", "accepted keys of model", "head_dim", "did you mean model.d"]),
    (["+modle.d=64"], ["modle", "accepted keys", "model"]),
    (["+model.width=64"], ["model.width", "accepted keys of model"]),
    (["data.synthetic.sed=1"], ["data.synthetic.sed", "did you mean data.synthetic.seed"]),
    (["optim.learning_rate=1e-3"], ["optim.learning_rate", "did you mean optim.lr"]),  # another codebase's name
    (["lr=1e-3"], ["unknown key 'lr' in the config", "did you mean optim.lr"]),  # a section's key without it
    (["width=64"], ["did you mean model.d"]),
    (["optim=null"], ["optim=null: optim is a section of settings"]),
    (["model.d=null"], ["model.d=null", "takes a value (int)"]),  # was: "field 'model.d' is not Optional"
    (["data=null"], ["data=null", "config group; accepted: c4, embedded"]),  # was: "Got NoneType"
    (["data=nope"], ["data/nope", "embedded", "files"]),
    (["train.device=gpu"], ["gpu", "auto, cpu, cuda"]),
    (["data=files"], ["data=files needs data.paths"]),
    (["data=files", "data.paths=[{missing}]"], ["missing.txt", "does not exist"]),
    (["data=files", "data.paths=[{notes}]"], ["notes.md", "accepted extensions"]),
    (["data=files", "data.paths=[{nul}]"], ["nul.txt", "binary"]),
    (["data=files", "data.paths=[{jsonl_no_field}]"], ["no_field.jsonl", "data.text_field='text'", "body"]),
    (["data=files", "data.paths=[{blank}]"], ["blank.jsonl", "no non-empty document"]),
    (["data=files", "data.paths=[{binary_parquet}]"], ["binary.parquet", "not a readable parquet"]),
    (["out_dir={a_file}"], ["out_dir=", "is a file"]),
    (["data.cache_dir={a_file}/cache"], ["data.cache_dir=", "which is a file"]),
    pytest.param(["out_dir={read_only}/runs"], ["out_dir=", "read-only"], marks=NOT_ROOT),
    (["-m", "model.l=1,2", "out_dir={a_file}"], ["out_dir=", "is a file"]),
    (["-m", "model.l=1,2", "optim.lr=abc"], ["optim.lr=abc: accepted is a number"]),
    (["optim.lr=abc"], ["optim.lr=abc: accepted is a number"]),  # was OmegaConf's "could not be converted to Float"
    (["model.d=1.5"], ["model.d=1.5: accepted is a whole number"]),
    (["train.compile=maybe"], ["train.compile=maybe: accepted is true or false"]),
    # were OmegaConf's "str is not a ListConfig, list or tuple", Hydra's "LexerNoViableAltException" and
    # "Cannot find primary config 'nope'", the synthetic language's "vocabulary size V=1"
    (["data=files", "data.paths=corp/a0.txt"], ["data.paths=corp/a0.txt: accepted is a list, data.paths=[corp/a0.txt]"]),
    (["-m", "model.l=1,2", "logger.tags=x"], ["logger.tags=x: accepted is a list, logger.tags=[x]"]),
    (["logger.group=run#1"], ["logger.group=run#1: '#' is read only inside quotes", "'logger.group=\"run#1\"'"]),
    (["-m", "model.l=1,2", "logger.tags=[a#1,b]"], ["'#' is read only inside quotes", "'logger.tags=[\"a#1\",b]'"]),
    (["--config-name=nope"], ["Cannot find primary config 'nope'; accepted config names: train, demo"]),
    (["-m", "model.l=1,2", "--config-name=nope"], ["primary config 'nope'; accepted config names: train, demo"]),
    (["data=synthetic", "data.vocab_size=1"], ["data.vocab_size=1: the synthetic language needs", "2 <= V"]),
    # were OmegaConf's "str is not a subclass of ModelConfig", "ModelConfig (DictConfig) does not support
    # deletion" and, for a whole section, a KeyError traceback
    (["model=big"], ["model=big: model is a section of settings, not a config group", "(model.d=..., model.l=...)",
                     "accepted keys of model: d, l, head_dim"]),
    (["-m", "model.l=1,2", "model=big"], ["model=big: model is a section of settings", "accepted keys of model"]),
    (["logger.start=x"], ["logger.start=x: logger.start is a section", "accepted keys of logger.start: attempts"]),
    (["~model.d"], ["~model.d: settings cannot be removed, only set (model.d=VALUE)"]),
    (["-m", "model.l=1,2", "~model.d"], ["~model.d: settings cannot be removed, only set (model.d=VALUE)"]),
    (["~model"], ["~model: settings cannot be removed, only set (model.d=..., model.l=...; accepted keys of model"]),
    (["~data"], ["~data: settings cannot be removed, only set (data=NAME, accepted: c4, embedded"]),
    # was Hydra's "Could not override 'experiment'. No match in the defaults list."
    (["experiment=otr"], ["experiment=...: experiment is not in the config's defaults list", "+experiment=NAME",
                          "accepted: ", "otr"]),
    (["-m", "model.l=1,2", "experiment=otr"], ["+experiment=NAME", "otr"]),
]


@pytest.mark.parametrize("overrides, words", IN_PROCESS_CASES)
def test_the_command_line_check_names_the_bad_value_and_what_is_accepted(overrides, words, inputs, tmp_path):
    from launch.command_line import check_command_line  # what `python -m sweep.train` runs before Hydra

    out_dir = tmp_path / "runs"
    with pytest.raises(ConfigError) as err:
        check_command_line(command(overrides, inputs, out_dir))
    message = str(err.value)
    for word in words:
        assert word in message
    assert "\n" not in message and "+modle" not in message and "None" not in message
    assert not out_dir.exists()


def test_a_held_out_split_that_takes_every_document_says_what_the_user_controls(tmp_path):
    (tmp_path / "one.txt").write_text("a single short document " * 4)
    data = to_typed(compose_config(*TINY, "data=files", "data.tokenizer=byte", f"data.paths=[{tmp_path}/one.txt]",
                                   "data.eval_tokens=50", f"data.cache_dir={tmp_path}/cache")).data
    with pytest.raises(ConfigError, match="held-out split took every document.*lower data.eval_tokens or add "
                                          "documents") as err:
        prepare_token_cache(data, 32)
    assert "tokens_T" not in str(err.value)


def test_sweep_status_of_a_file_says_it_is_a_file_and_fit_reads_a_runs_file_given_so(tmp_path, capsys):
    (tmp_path / "runs.csv").write_text("d,l\n")
    assert sweep_cli(["status", str(tmp_path / "runs.csv")]) == 2
    err = capsys.readouterr().err
    assert "runs.csv is a file" in err and "a sweep folder" in err and "wandb:" in err
    assert sweep_cli(["fit", str(tmp_path / "runs.csv")]) == 2  # read as --runs-table: its columns are named
    assert "lacks the column(s) n_params, tokens, loss" in capsys.readouterr().err
    (tmp_path / "runs.txt").write_text("d,l\n")
    assert sweep_cli(["fit", str(tmp_path / "runs.txt")]) == 2
    assert "a file ending .csv, .tsv, .json, .jsonl, .parquet" in capsys.readouterr().err  # was: use --runs-table


FIX_CASES = [  # `sweep fit` / `sweep report` --fix: refused before any fit, naming the value and what is accepted
    (["fit", "--fix", "E=0"], ["--fix E=0", "0 < E < the lowest loss"]),
    (["fit", "--fix", "E=99"], ["--fix E=99", "0 < E < the lowest loss"]),
    (["fit", "--fix", "G=1"], ["'G' cannot be held", "accepted: E, alpha, beta"]),
    (["fit", "--fix", "E"], ["--fix 'E'", "NAME=VALUE"]),
    (["fit", "--fix", "E=true"], ["--fix E=true", "no true_entropy_nats", "--fix E=VALUE with a number"]),
    (["fit", "--law", "isoflop", "--fix", "E=1"], ["--fix with --law isoflop", "--law chinchilla"]),
    (["report", "--fix", "alpha=-1"], ["--fix alpha=-1", "exponent > 0"]),
]


@pytest.mark.parametrize("args, words", FIX_CASES)
def test_a_bad_fix_is_one_line_naming_the_value_and_what_is_accepted(args, words, tmp_path, capsys):
    import csv

    from tests.test_fit_laws import rows

    table = tmp_path / "runs.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, ["run", "n_params", "tokens", "final_eval_loss"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows())
    assert sweep_cli([args[0], "--runs-table", str(table), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert all(word in " ".join(err.split()) for word in words) and "Traceback" not in err
    assert not (tmp_path / "report").exists()


COLUMN_CASES = [  # --column NAME=COLUMN on a runs file: refused before any fit, naming the value and what is accepted
    (["fit", "--column", "loss"], ["--column 'loss'", "NAME=COLUMN"]),
    (["fit", "--column", "loss=c4_loss"], ["--column loss=c4_loss", "no column 'c4_loss'", "final_eval_loss"]),
    (["fit", "--column", "los=final_eval_loss"], ["'los' is not a column the fits read", "accepted: n_params"]),
    (["report", "--column", "loss=run", "--column", "recipe=run"], ["the column 'run' is given for loss, recipe"]),
    (["suggest", "--target-compute", "1e20", "--column", "loss=a", "--column", "loss=b"], ["--column loss: given twice"]),
]


@pytest.mark.parametrize("args, words", COLUMN_CASES)
def test_a_bad_column_is_one_line_naming_the_value_and_what_is_accepted(args, words, tmp_path, capsys):
    from tests.test_fit_laws import rows

    table = write_runs(tmp_path / "runs.csv", rows())
    assert sweep_cli([args[0], str(table), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert all(word in " ".join(err.split()) for word in words) and "Traceback" not in err
    assert not (tmp_path / "report").exists()


def test_column_is_for_a_runs_file_not_a_sweep_s_own_columns(small_sweep, capsys):
    for command in (["fit"], ["report"], ["suggest", "--target-compute", "1e14"]):
        assert sweep_cli([command[0], str(small_sweep), *command[1:], "--column", "loss=final_train_loss"]) == 2
        assert "whose columns are its own" in capsys.readouterr().err


def test_sweep_plan_names_a_typo_and_the_accepted_keys(capsys):
    assert sweep_cli(["plan", *TINY, "modle.d=64,128"]) == 2
    err = capsys.readouterr().err
    assert "did you mean model" in err and "accepted keys" in err and "Traceback" not in err


@NO_CUDA
def test_a_slurm_grid_is_not_refused_for_cuda_missing_on_the_submitting_machine(tmp_path):
    from launch.grid import compose_grid, data_problems

    grid = compose_grid([*TINY, "train.device=cuda", f"out_dir={tmp_path}/runs", f"data.cache_dir={tmp_path}/cache"])
    assert data_problems(grid, runs_here=False) == []
    assert any("train.device=cuda" in p for p in data_problems(grid, runs_here=True))
    assert not (tmp_path / "runs").exists()


def test_sweep_fit_isoflop_refuses_a_bootstrap_of_one_resample_before_fitting(tmp_path, capsys):
    sizes = [1e7, 2e7, 4e7, 8e7, 1.6e8]
    rows = [(n, c / (6 * n), 2 + 0.01 * np.log(n / 4e7) ** 2) for c in (1e18, 1e19) for n in sizes]
    (tmp_path / "runs.csv").write_text("n_params,tokens,loss\n" + "".join(f"{n},{t},{l}\n" for n, t, l in rows))
    assert sweep_cli(["fit", "--runs-table", str(tmp_path / "runs.csv"), "--law", "isoflop", "--bootstrap", "1"]) == 2
    err = capsys.readouterr().err
    assert "--bootstrap 1: accepted is 0 (no intervals) or a whole number >= 2, at most 10000" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("tokens_per_param, sizes, words", [
    ((20,), 5, ["--law lr --by cell", "needs cells spread in both N and D", "one line", "min_log_spread 0.1",
                "a second tokens per parameter"]),
    ((5, 20), 1, ["--law lr --by cell", "at least 3 (N, tokens) cells", "2 of 2 cells qualify"]),
])
def test_sweep_fit_lr_by_cell_names_what_step_law_lacks(tokens_per_param, sizes, words, tmp_path, capsys):
    """Step Law's lr_opt = c N^a D^b needs 3 cells off one line in (ln N, ln D): a sweep at one
    tokens per parameter, or too few cells, is one message saying what to add."""
    lines = ["run,n_params,tokens,loss,lr"]
    for n in [1e6 * 10**k for k in range(sizes)]:
        for tpp in tokens_per_param:
            for i, lr in enumerate((1e-3, 2e-3, 4e-3, 8e-3)):
                lines.append(f"r{n:.0f}-{tpp}-{i},{n},{tpp * n},{3.0 + 0.05 * (i - 1.6) ** 2},{lr}")
    (tmp_path / "runs.csv").write_text("\n".join(lines) + "\n")
    assert sweep_cli(["fit", "--runs-table", str(tmp_path / "runs.csv"), "--law", "lr", "--by", "cell"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    for word in words:
        assert word in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["fit", "--min-tokens-per-param", "-1"], "--min-tokens-per-param -1.0: accepted is a finite number > 0"),
    (["fit", "--min-tokens-per-param", "nan"], "--min-tokens-per-param nan: accepted is a finite number > 0"),
    (["report", "--min-tokens-per-param", "0"], "--min-tokens-per-param 0.0: accepted is a finite number > 0"),
    (["fit", "--min-tokens-per-param", "1000"], "has 0 (6 tokens_per_param < 1000 left out)"),
    (["fit", "--recipe", "all"], "--recipe all: the runs table of {table} has no recipe labels"),
    (["fit", "--law", "crossover", "--recipe", "all"], "needs runs tagged with two or more recipes"),
])
def test_bad_fit_options_are_named_before_any_fit(tmp_path, capsys, args, message):
    table = tmp_path / "runs.csv"
    table.write_text("n_params,tokens,loss\n" + "".join(f"{n},{20 * n},{3 - k / 10}\n"
                                                        for k, n in enumerate((1e6, 2e6, 4e6, 8e6, 1.6e7, 3.2e7))))
    out_dir = tmp_path / "report"
    assert sweep_cli([*args, "--runs-table", str(table), *(["--out", str(out_dir)] if args[0] == "report" else [])]) == 2
    printed = capsys.readouterr().err.replace("\n", "")
    assert message.format(table=table) in printed and "Traceback" not in printed
    assert not out_dir.exists()
