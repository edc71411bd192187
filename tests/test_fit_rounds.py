"""sweep/fit/rounds.py: the record of an active sweep's rounds (suggest/rounds.jsonl): events
appended one line each, read back as rounds; an interrupted round is the open one; a torn last
line is read as absent and the next event starts on its own line; a damaged line is named."""

import json
import math

import pytest

from sweep.errors import DamagedFile
from sweep.fit.rounds import (ENDED, PROPOSED, STOPPED, append_event, read_rounds, relative_width,
                              rounds_path)


def suggestion(loss=(3.0, 2.7, 3.3), n_opt=(1e6, 5e5, 2e6), flops=(1e12, 3e12)):
    """What Suggestion.to_dict() records of a round (the fields the reader uses)."""
    return {"law": "chinchilla", "target_compute": 1e15, "criterion": "count", "level": 0.95,
            "now": {"loss": {"value": loss[0], "interval": list(loss[1:])},
                    "n_opt": {"value": n_opt[0], "interval": list(n_opt[1:])}},
            "expected": {"loss": {"interval": [2.8, 3.2], "from": "refit"}},
            "proposals": [{"label": f"p{i}", "n_params": 1e5, "tokens": 2e6, "flops": f, "gain": 0.1,
                           "overrides": ["model.d=64"]} for i, f in enumerate(flops)]}


def after(loss=(3.0, 2.9, 3.1), n_opt=(1e6, 8e5, 1.2e6)):
    return {"loss": {"value": loss[0], "interval": list(loss[1:])},
            "n_opt": {"value": n_opt[0], "interval": list(n_opt[1:])}, "params": {"E": 1.7}, "n_points": 6}


def test_a_round_proposed_then_ended_reads_back_with_its_fit_before_and_after(tmp_path):
    append_event(tmp_path, PROPOSED, 1, suggestion=suggestion(), params={"E": 1.6}, runs=["run-a", "run-b"])
    append_event(tmp_path, ENDED, 1, outcomes=[{"run": "run-a", "status": "complete", "final_eval_loss": 3.1},
                                               {"run": "run-b", "status": "failed", "final_eval_loss": None}],
                 after=after())
    record = read_rounds(tmp_path)
    (r,) = record.rounds
    assert (r.number, r.runs, r.flops) == (1, ["run-a", "run-b"], 4e12)
    assert r.before("loss") == (3.0, 2.7, 3.3) and r.after("loss") == (3.0, 2.9, 3.1)
    assert r.after("n_opt") == (1e6, 8e5, 1.2e6)
    assert r.expected("loss") == (2.8, 3.2) and r.expected("n_opt") is None  # what sweep suggest expected after
    assert record.done == 1 and record.open_round is None and record.stopped is None
    lines = rounds_path(tmp_path).read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == [PROPOSED, ENDED]  # one JSON object per line


def test_a_round_without_its_ended_line_is_the_open_one_a_resumed_loop_finishes(tmp_path):
    append_event(tmp_path, PROPOSED, 1, suggestion=suggestion(), params={}, runs=["a"])
    append_event(tmp_path, ENDED, 1, outcomes=[], after=after())
    append_event(tmp_path, PROPOSED, 2, suggestion=suggestion(), params={}, runs=["b"])
    record = read_rounds(tmp_path)
    assert record.done == 1
    assert record.open_round is not None and record.open_round.number == 2 and record.open_round.after("loss") is None


def test_the_stop_is_read_only_when_no_round_came_after_it(tmp_path):
    append_event(tmp_path, PROPOSED, 1, suggestion=suggestion(), params={}, runs=["a"])
    append_event(tmp_path, ENDED, 1, outcomes=[], after=after())
    append_event(tmp_path, STOPPED, 1, reason="rounds", detail="1 of 1 rounds done", width=0.07)
    assert read_rounds(tmp_path).stopped["reason"] == "rounds"
    append_event(tmp_path, PROPOSED, 2, suggestion=suggestion(), params={}, runs=["b"])  # the loop went on
    assert read_rounds(tmp_path).stopped is None


def test_a_line_cut_short_is_absent_and_the_next_event_starts_on_its_own_line(tmp_path):
    append_event(tmp_path, PROPOSED, 1, suggestion=suggestion(), params={}, runs=["a"])
    with open(rounds_path(tmp_path), "a") as f:
        f.write('{"event": "ended", "round": 1, "outco')  # the loop was killed mid-write
    record = read_rounds(tmp_path)
    assert record.open_round is not None and record.open_round.number == 1
    append_event(tmp_path, ENDED, 1, outcomes=[], after=after())
    assert read_rounds(tmp_path).done == 1


def test_a_damaged_line_before_the_last_is_one_error_naming_the_file_and_line(tmp_path):
    append_event(tmp_path, PROPOSED, 1, suggestion=suggestion(), params={}, runs=["a"])
    with open(rounds_path(tmp_path), "a") as f:
        f.write('{"event": "begun", "round": 1}\n')  # whole, but no event of the record
    append_event(tmp_path, ENDED, 1, outcomes=[], after=after())
    with pytest.raises(DamagedFile, match=r"rounds.jsonl: line 2 is not an event"):
        read_rounds(tmp_path)


def test_a_folder_without_a_record_has_no_rounds(tmp_path):
    record = read_rounds(tmp_path)
    assert record.rounds == () and record.done == 0 and record.open_round is None


def test_non_finite_numbers_are_written_as_null_and_unknown_events_refused(tmp_path):
    append_event(tmp_path, STOPPED, 0, reason="width", detail="", width=float("nan"))
    assert json.loads(rounds_path(tmp_path).read_text())["width"] is None
    with pytest.raises(ValueError, match="'started'"):
        append_event(tmp_path, "started", 1)


def test_relative_width_is_the_interval_over_the_value():
    assert relative_width((2.0, 1.9, 2.1)) == pytest.approx(0.1)
    assert math.isnan(relative_width((2.0, float("nan"), 2.1))) and math.isnan(relative_width(None))
