"""launch/commands/predict.py: `sweep predict`'s table, JSON and cautions."""

import json
import shutil

import pytest

from launch.cli import main
from launch.commands.predict import holds_at
from sweep.fit.calibration import Calibration
from sweep.fit.calibration import OWN_HALVES, SMALLER
from sweep.rundir import iter_run_dirs


def test_sweep_predict_tables_each_run_s_predicted_final_loss(small_sweep, capsys, wide_console):
    assert main(["predict", str(small_sweep), "--at-fraction", "0.5", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "final eval loss predicted from the loss curve, each cut at 0.5 of its steps" in out
    assert "95% interval" in out and "50% (312/625)" in out  # the longest run: d=48, 2 tokens per parameter
    assert "holds at" in out  # the level each calibrated interval holds at, not the 95% asked: n / (n + 1) of few runs
    assert "5 of 6 runs predicted; over the 5 finished: median |error|" in out  # d16 at 2 tokens/param: still in
    # its initial descent at half its 113 steps
    assert "caution: " in out and "have intervals calibrated on the finished smaller runs" in out  # d32, d48
    assert "have the bootstrap's interval only" in out and "with no finished smaller run" in out  # d16


def test_the_level_an_interval_holds_at_is_the_calibrations_or_none_measured():
    assert holds_at(None) == "-"
    assert holds_at(Calibration(0.25, 3, 1, 0.05, 0.5)) == "50%"
    assert holds_at(Calibration(0.25, 3, 0, None, None)) == "not measured"


def test_sweep_predict_with_a_floor_says_which_run_each_prediction_came_from(small_sweep, capsys, wide_console):
    assert main(["predict", str(small_sweep), "--at-fraction", "0.5", "--bootstrap", "20", "--floor", "0"]) == 0
    out = capsys.readouterr().out
    assert "from the loss curve or a finished run of another size (floor E = 0.0)" in out and "┃ from " in out
    assert out.count("d16-l1-b4-lr3.0e-03") >= 2  # the d32 runs' reference (the nearest smaller size)
    flat = " ".join(out.split())  # the caution wraps at the console's width
    assert "2 predicted from a finished run of another size have bands calibrated on the finished runs of the " \
           "nearest smaller size" in flat  # d48: on its two d32 runs, each predicted from d16
    assert "┃ holds at " in out and out.count(" 67% ") == 2  # two scores: the larger holds at 2 / 3
    assert "predicted from a finished run of another size with no smaller third size to measure the method's " \
           "error by" in flat and "read them as rough" in flat  # d16 (from d32) and d32 (from d16)
    assert main(["predict", str(small_sweep), "--bootstrap", "20", "--floor", "0"]) == 0  # the runs seen whole
    out = capsys.readouterr().out  # was: "median |error| 0.00%, ... for 100%", each its own final loss given back
    assert "finished run(s) predicted from a smaller one with their own curve seen whole are not scored" in out
    assert "median |error| 0.00%" not in out
    assert main(["predict", str(small_sweep), "--floor", "-1"]) == 2
    assert "--floor '-1': accepted is the irreducible loss E in nats/token" in capsys.readouterr().err
    # an 'auto' floor with too few finished pairs: one line per reason, naming the runs it holds for
    assert main(["predict", str(small_sweep), "--at-fraction", "0.5", "--bootstrap", "20", "--floor", "auto"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("not from a reference")]
    assert len(lines) == 2, lines  # found 0 pairs (d16, d32: 4 runs), found 2 pairs (the 2 d48 runs)
    assert any(line.startswith("not from a reference, 4 runs (d") and "found 0 finished pairs" in line for line in lines)
    assert any(line.count("d48-") == 2 and "found 2 finished pairs" in line for line in lines)


def test_sweep_predict_cautions_about_intervals_only_where_part_of_a_curve_was_seen(small_sweep, capsys):
    assert main(["predict", str(small_sweep), "--json", "--bootstrap", "20"]) == 0
    assert json.loads(capsys.readouterr().out)["caution"] is None  # finished runs, seen whole
    assert main(["predict", str(small_sweep), "--at-fraction", "0.3", "--json", "--bootstrap", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    seen = [r["fraction_seen"] for r in result["runs"] if not r["skipped"]]
    assert seen and all(f < 1 for f in seen)
    calibration = [r["calibration"] for r in result["runs"] if not r["skipped"]]
    calibrated = sum(c is not None and c["runs"] > 0 and c["on"] == SMALLER for c in calibration)
    own = sum(c is not None and c["runs"] > 0 and c["on"] == OWN_HALVES for c in calibration)
    unmeasured = sum(c is not None and c["runs"] == 0 for c in calibration)
    alone = sum(c is None for c in calibration)
    assert calibrated + own + unmeasured + alone == len(seen) and calibrated >= 1
    assert (f"{calibrated} predicted by the curve law from part of their steps have intervals calibrated on the "
            "finished smaller runs" in result["caution"]) == (calibrated > 0)
    assert (f"{own} predicted by the curve law from part of their steps, with no finished smaller run, have intervals "
            "calibrated on their group's own first halves" in result["caution"]) == (own > 0)
    assert (f"{unmeasured + alone} predicted by the curve law from part of their steps have the bootstrap's interval "
            f"only ({unmeasured} because the law could predict none of the finished smaller runs at that fraction, "
            f"{alone} with no finished smaller run and no first half it could predict)" in result["caution"]) == \
        (unmeasured + alone > 0)


def test_sweep_predict_of_one_width_cautions_that_its_intervals_are_calibrated_on_their_own_first_halves(
        small_sweep, tmp_path, capsys):
    for run in iter_run_dirs(small_sweep):
        if run.path.name.startswith("d48-"):
            shutil.copytree(run.path, tmp_path / run.path.name)
    assert main(["predict", str(tmp_path), "--at-fraction", "0.5", "--json", "--bootstrap", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["calibration"]["on"] for r in result["runs"]] == [OWN_HALVES, OWN_HALVES]
    assert result["caution"].startswith("2 predicted by the curve law from part of their steps, with no finished "
                                        "smaller run, have intervals calibrated on their group's own first halves")


def test_sweep_predict_json_holds_every_run_and_the_summary(small_sweep, capsys):
    assert main(["predict", str(small_sweep), "--at-fraction", "0.05", "--json", "--bootstrap", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["at_fraction"] == 0.05 and len(result["runs"]) == 6
    skipped = [r for r in result["runs"] if r["skipped"]]
    assert skipped and all("the curve law needs at least 8" in r["skipped"]  # too few records to fit, or
                           or "needed to tell where the initial descent ends" in r["skipped"]  # to test the descent
                           for r in skipped)
    assert all(r["actual"] is not None for r in result["runs"])  # finished runs: the actual loss beside
    predicted = [r for r in result["runs"] if not r["skipped"]]
    assert all(len(r["interval"]) == 2 and r["error"] == pytest.approx(r["predicted"] - r["actual"])
               for r in predicted)
    assert result["summary"]["skipped"] == len(skipped)


@pytest.mark.parametrize("args, message", [
    (["--at-fraction", "0"], "--at-fraction 0.0: accepted is a fraction of each run's steps in (0, 1]"),
    (["--at-fraction", "1.2"], "--at-fraction 1.2: accepted is a fraction"),
    (["--bootstrap", "0"], "--bootstrap 0: accepted is a whole number >= 1"),
    (["--margin", "1"], "--margin 1.0: accepted is a relative margin in [0, 1), as early_stop.margin"),
])
def test_sweep_predict_bad_input_is_one_clear_error(tmp_path, capsys, args, message):
    assert main(["predict", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
    assert main(["predict", str(tmp_path)]) == 2
    assert "holds no run folders" in capsys.readouterr().err
