"""launch/commands/report.py: `sweep report` writes every fit the runs support."""

import csv
import json

import pytest

from launch.cli import main
from tests.helpers import write_runs


@pytest.mark.slow
def test_the_fits_bootstrap_default_has_one_home_in_conf_fit_yaml(tmp_path, monkeypatch, capsys):
    """`sweep report`'s resamples and seed are conf/fit.yaml's: the command line repeats no number."""
    import dataclasses

    import launch.cli
    from sweep.fit.defaults import fit_defaults
    from tests.test_fit_laws import rows

    assert (fit_defaults().bootstrap, fit_defaults().seed) == (200, 0)  # README: 200 resamples, seed 0
    monkeypatch.setattr(launch.cli, "fit_defaults", lambda: dataclasses.replace(fit_defaults(), bootstrap=7, seed=3))
    table = write_runs(tmp_path / "runs.csv", rows())
    assert main(["report", "--runs-table", str(table), "--out", str(tmp_path / "report")]) == 0
    boot = json.loads((tmp_path / "report" / "fits.json").read_text())["chinchilla"]["bootstrap"]
    assert (boot["n_resamples"], boot["seed"]) == (7, 3)


def test_a_small_real_sweep_runs_through_sweep_report(small_sweep, capsys):
    out_dir = small_sweep / "report"
    assert main(["report", str(small_sweep), "--bootstrap", "20", "--upload"]) == 0
    out = capsys.readouterr().out
    assert f"report written to {out_dir / 'report.md'}" in out and "skipped isoflop" in out
    markdown = (out_dir / "report.md").read_text()
    assert "Approach 3" in markdown and "![" in markdown
    for figure in ("loss_vs_n.png", "loss_vs_flops.png", "residuals.png", "predicted_vs_actual.png"):
        assert (out_dir / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## 7. Final loss predicted from the first part of each curve" in markdown
    with open(out_dir / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and all(float(r["pred_chinchilla"]) > 0 for r in rows)
    assert json.loads((out_dir / "fits.json").read_text())["chinchilla"]
    assert "runs with predictions, figures and fits logged to W&B: offline in" in out
    reports = sorted((small_sweep / "wandb").glob("offline-run-*"))
    assert any((reports[-1] / "files" / "media" / "images").glob("loss_vs_n_*.png"))
    from tests.wandb_offline import read_offline_run

    (artifact,) = [a for r in reports for a in read_offline_run(r).artifacts if a["type"] == "scaling-report"]
    assert artifact["name"] == f"{small_sweep.name}-report"
    assert {"report.md", "runs.csv", "fits.json", "loss_vs_n.png", "residuals.png"} <= set(artifact["files"])


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_fit(tmp_path, capsys, monkeypatch):
    from tests.test_fit_laws import rows

    table = write_runs(tmp_path / "runs.csv", rows())
    monkeypatch.setattr("sweep.fit.report.write_report", lambda *a, **k: pytest.fail("fitted before the check"))
    assert main(["report", str(table), "--out", str(table)]) == 2  # a file: was FileExistsError after the fits
    err = capsys.readouterr().err
    assert "--out=" in err and "is a file; accepted: a folder this user can write" in err
    with pytest.raises(SystemExit) as stop:  # was: the report written over ./runs.csv
        main(["report", str(table), "--out", ""])
    assert stop.value.code == 2 and "argument --out: an empty path" in capsys.readouterr().err


def test_a_cutoff_not_above_0_is_refused_before_the_runs_are_read(tmp_path, capsys):
    """Was: rc 0, the whole report written, "skipped held_out: cutoff=-3.0" among the skipped."""
    assert main(["report", str(tmp_path / "absent"), "--cutoff", "-3", "--out", str(tmp_path / "out")]) == 2
    assert "error: cutoff=-3.0: accepted is a number > 0 (parameters or FLOPs)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
