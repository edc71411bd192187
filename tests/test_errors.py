"""sweep/errors.py: the user-mistake errors, one line each, and how a command ends on one (`error:
MESSAGE` on stderr, exit code 2; the traceback only with HYDRA_FULL_ERROR=1)."""

import pytest

import launch.cli
from sweep.errors import ConfigError, DamagedFile, StorageError, exit_on_user_error


def test_a_damaged_file_and_a_failed_write_are_user_errors_caught_as_one():
    damaged = DamagedFile("/runs/a/result.json", "not JSON", "delete it to train the run again")
    assert str(damaged) == "/runs/a/result.json: not JSON; delete it to train the run again"
    assert (damaged.path, damaged.problem, damaged.remedy) == ("/runs/a/result.json", "not JSON",
                                                               "delete it to train the run again")
    for err in (damaged, StorageError("/runs/a/metrics.jsonl: no space left (0 B free)")):
        assert isinstance(err, ConfigError) and isinstance(err, ValueError)


def test_a_user_error_ends_the_command_with_its_message_alone_and_exit_code_2(capsys, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as stop:
        exit_on_user_error(ConfigError("model.d=-1: accepted is a whole number >= 1"))
    assert stop.value.code == 2 and stop.value.__suppress_context__  # no chained traceback
    captured = capsys.readouterr()
    assert captured.err == "error: model.d=-1: accepted is a whole number >= 1\n" and captured.out == ""


def test_hydra_full_error_shows_the_error_itself_instead(capsys, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    err = StorageError("x: no space")
    with pytest.raises(StorageError) as raised:
        exit_on_user_error(err)
    assert raised.value is err and capsys.readouterr().err == ""


@pytest.mark.parametrize("err", [ConfigError("--seed -1: accepted is a whole number >= 0"),
                                 DamagedFile("/runs/a/result.json", "truncated", "delete it"),
                                 StorageError("/runs/a/metrics.jsonl: no space left")])
def test_the_sweep_command_prints_each_as_one_error_line_with_exit_code_2(err, capsys, monkeypatch):
    def failing(args, defaults):
        raise err

    monkeypatch.setattr(launch.cli, "dispatch", failing)
    assert launch.cli.main(["status", "runs"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {err}\n" and "Traceback" not in captured.err and captured.out == ""
