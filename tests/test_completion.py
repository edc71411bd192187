"""`sweep completion bash`: a bash completion script generated from the command's parser
(launch/completion.py), checked by running it in bash as the shell would on a Tab."""

from __future__ import annotations

import contextlib
import io
import shlex
import shutil
import subprocess

import pytest

from launch.cli import main

if shutil.which("bash") is None:  # the script is for bash: without one there is nothing to run it in
    pytest.skip("bash is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def script() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["completion", "bash"]) == 0
    return out.getvalue()


def complete(script: str, words: list[str], cwd=None) -> list[str]:
    """COMPREPLY after pressing Tab with the cursor at the end of `words` (the last one is the word
    being completed, "" for a new one)."""
    line = " ".join(shlex.quote(w) if w else "''" for w in words)
    probe = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMPREPLY=()\n"
             f"_sweep_completion\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", probe], capture_output=True, text=True, cwd=cwd,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.splitlines() if w]


def test_script_is_valid_bash_that_registers_the_sweep_command(script):
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    registered = subprocess.run(["bash", "--norc", "--noprofile", "-c", f"{script}\ncomplete -p sweep"],
                                capture_output=True, text=True)
    assert registered.stdout.strip() == "complete -o filenames -F _sweep_completion sweep"


def test_completes_subcommands(script):
    assert complete(script, ["sweep", ""]) == ["plan", "prepare", "status", "fit", "report", "predict", "suggest",
                                               "sync", "demo", "experiment", "completion", "-h", "--help"]
    assert complete(script, ["sweep", "pl"]) == ["plan"]
    assert complete(script, ["sweep", "pre"]) == ["prepare", "predict"]
    assert complete(script, ["sweep", "predict", "--a"]) == ["--at-fraction"]
    assert complete(script, ["sweep", "re"]) == ["report"]


def test_completes_the_options_of_the_subcommand_typed(script):
    assert complete(script, ["sweep", "fit", "--b"]) == ["--bootstrap", "--bootstrap-method", "--by"]
    assert complete(script, ["sweep", "status", "--"]) == ["--help", "--plot", "--csv", "--json", "--parquet", "--wait",
                                                           "--interval", "--upload"]
    assert complete(script, ["sweep", "fit", "--law", "chinchilla", "--j"]) == ["--json"]


def test_completes_the_choices_of_an_option_or_argument(script):
    assert complete(script, ["sweep", "fit", "--law", "ch"]) == ["chinchilla"]
    assert complete(script, ["sweep", "fit", "--by", ""]) == ["n_params", "flops", "cell"]
    assert complete(script, ["sweep", "fit", "--bootstrap-method", ""]) == ["case", "residual"]
    assert complete(script, ["sweep", "completion", ""]) == ["bash"]
    assert complete(script, ["sweep", "suggest", "runs", "--law", ""]) == ["chinchilla", "subscaling"]


def test_completes_file_names_for_paths_and_nothing_for_other_values(script, tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs.csv").write_text("")
    assert sorted(complete(script, ["sweep", "status", "ru"], cwd=tmp_path)) == ["runs", "runs.csv"]
    assert complete(script, ["sweep", "status", "runs", "--csv", "runs."], cwd=tmp_path) == ["runs.csv"]
    assert complete(script, ["sweep", "prepare", "--workers", ""], cwd=tmp_path) == []
