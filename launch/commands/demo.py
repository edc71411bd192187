"""`sweep demo` and `sweep experiment NAME`: a local sweep end to end (corpus, grid, table, report),
the demo's grid from conf/demo.yaml, an experiment's from its preset."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from launch.commands.conf_tree import conf_file
from launch.commands.prepare import prepare
from launch.commands.printing import console
from launch.commands.report import report
from launch.commands.status import runs_table, status
from sweep.fit.defaults import fit_defaults


def demo(out_dir: Path | None) -> int:
    """The synthetic-corpus scaling sweep of conf/demo.yaml (its grid, and its out_dir unless one is
    given): its corpus generated (`sweep prepare`), its runs, then their table, plot and fit, whose
    irreducible loss E is set beside the corpus's known entropy rate."""
    out_dir = Path(conf_file("demo.yaml")["out_dir"]) if out_dir is None else out_dir
    code = prepare_train_report([f"out_dir={out_dir}"], "demo", out_dir)
    if code == 0:
        law = json.loads((out_dir / "report" / "fits.json").read_text()).get("chinchilla")
        if law:
            console.print(f"Chinchilla fit: loss(N, T) = {law['E']:.3g} + {law['A']:.3g} / N^{law['alpha']:.3g} + "
                          f"{law['B']:.3g} / T^{law['beta']:.3g}; report in {out_dir / 'report' / 'report.md'}")
            console.print(entropy_line(law, runs_table(str(out_dir))), highlight=False)
    return code


def experiment(name: str, overrides: Sequence[str]) -> int:
    """`sweep experiment NAME [OVERRIDES]`: the preset conf/experiment/NAME.yaml run here as the demo
    runs (its corpus prepared, its grid trained, its report written), then each finding's verdict."""
    from launch.grid import compose_grid

    overrides = [f"+experiment={name}", *overrides]
    grid = compose_grid(overrides)  # every point valid (and its out_dir known) before anything runs
    out_dir = Path(grid[0].cfg.out_dir)
    code = prepare_train_report(overrides, "train", out_dir)
    if code == 0:
        findings = json.loads((out_dir / "report" / "fits.json").read_text()).get("findings") or []
        for finding in findings:
            console.print(f"{finding['name']}: {finding['verdict']}: {finding['because']}", highlight=False)
        console.print(f"report: {out_dir / 'report' / 'report.md'}", highlight=False)
    return code


def prepare_train_report(overrides: Sequence[str], config_name: str, out_dir: Path) -> int:
    """A local sweep end to end: its corpus prepared (`sweep prepare`), its grid trained
    (`python -m sweep.train -m`, each run in its own process), its table and plot (`sweep
    status`), then, when every run ended well, its report in out_dir/report."""
    shown = " ".join([*(["--config-name", config_name] if config_name != "train" else []), *overrides])
    console.print(f"preparing the corpus: sweep prepare {shown}", highlight=False)
    code = prepare(overrides, config_name, workers=1, slurm=False, time_min=None, wait=False)
    cmd = [sys.executable, "-m", "sweep.train", "--multirun", "--config-name", config_name, *overrides]
    if code == 0:
        console.print("running: " + " ".join(cmd[1:]), highlight=False)
        code = call_taking_no_ctrl_c(cmd)
    status(out_dir, plot=out_dir / "scaling.png", csv_path=out_dir / "runs.csv")
    if code == 0:
        defaults = fit_defaults()
        report(str(out_dir), None, out_dir / "report", bootstrap=defaults.bootstrap, seed=defaults.seed,
               compute=None, cutoff=None, recipe=None, upload=False)
    return code


def call_taking_no_ctrl_c(cmd: Sequence[str]) -> int:
    """Run the sweep's launcher and wait for it. The terminal's Ctrl-C reaches both processes: the
    launcher stops its runs at a checkpoint (launch/local.py) and exits 130, which this one waits for
    instead of killing it (as subprocess.call does on a KeyboardInterrupt). A handler, not SIG_IGN, so
    that the launcher, which execs afresh, gets Python's own."""
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        return subprocess.call(cmd)
    finally:
        signal.signal(signal.SIGINT, previous)


def entropy_line(law: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The fitted E, with its bootstrap interval, beside the corpus's true entropy rate h (the
    runs' `true_entropy_nats`), when the corpus has one."""
    truths = {r["true_entropy_nats"] for r in rows if r.get("true_entropy_nats") is not None}
    interval = (law.get("bootstrap") or {}).get("intervals", {}).get("E")
    fitted = f"fitted E = {law['E']:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
    if len(truths) != 1:
        return fitted + " nats/token"
    (h,) = truths
    where = "" if not interval else (" (inside E's interval)" if interval[0] <= h <= interval[1]
                                     else " (outside E's interval)")
    return f"{fitted} nats/token; true entropy rate of the corpus h = {h:.3f}{where}, E - h = {law['E'] - h:+.3f}"

