"""How close the local launcher's ETA model (launch/eta.py) comes to the time a finished sweep's
runs left took, replayed from their result.json files, with seconds per FLOP alone (the model
before) and with seconds per step plus seconds per FLOP (`fit_pace`, the model now).

    python benchmarks/eta_replay.py SWEEP_FOLDER [SWEEP_FOLDER ...]

The complete runs of each folder are taken in the order they ended (their result.json's time).
After each one ends, both models are fitted on the runs ended so far (a run's training seconds:
`wall_seconds` less `first_step_seconds`; its time as the launcher saw it, about: `startup_seconds`
plus `wall_seconds`; its steps and FLOPs: `steps_done`, and `flops` plus its evals' forward
passes, as launch/local.py counts them) and read the runs left: their modelled seconds (start-up
overhead plus training) over their own. Sums, not a slot layout: what is replayed is the model of
one job's time, which the ETA lays out on the launcher's slots. A ratio of 1 is exact; 2, twice
the time left. Printed per run ended, then the median and the worst over the runs ended.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from launch.eta import JobWork, eval_flops, fit_pace  # noqa: E402


def ended_runs(folder: Path) -> list[tuple[str, JobWork, float, float]]:
    """(run, work, training seconds, seconds as launched) of the folder's complete runs, in the
    order they ended."""
    rows = []
    for path in folder.glob("*/result.json"):
        result = json.loads(path.read_text())
        if result.get("status") != "complete" or result.get("first_step_seconds") is None:
            continue
        cfg = yaml.safe_load((path.parent / "config.yaml").read_text())
        steps = result["steps_done"]
        flops = result["flops"] + eval_flops(result["n_params"], cfg["data"]["eval_tokens"], 0, steps,
                                             cfg["train"]["eval_every"])
        training = result["wall_seconds"] - result["first_step_seconds"]
        launched = (result.get("startup_seconds") or 0.0) + result["wall_seconds"]
        rows.append((path.stat().st_mtime, result["run"], JobWork(steps, flops), training, launched))
    return [row[1:] for row in sorted(rows)]


def replay(runs: list[tuple[str, JobWork, float, float]]) -> list[tuple[str, float, float]]:
    """After each run ended but the last: (run, ratio per FLOP, ratio per step and FLOP)."""
    out = []
    for k in range(1, len(runs)):
        done, left = runs[:k], runs[k:]
        overhead = statistics.fmean(launched - training for _, _, training, launched in done)
        per_flop = sum(t for _, _, t, _ in done) / sum(w.flops for _, w, _, _ in done)
        a, b = fit_pace([(t, w) for _, w, t, _ in done])
        took = sum(launched for _, _, _, launched in left)
        before = sum(overhead + per_flop * w.flops for _, w, _, _ in left) / took
        now = sum(overhead + a * w.steps + b * w.flops for _, w, _, _ in left) / took
        out.append((done[-1][0], before, now))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    for folder in args.folders:
        runs = ended_runs(folder)
        if len(runs) < 2:
            print(f"{folder}: {len(runs)} complete run(s) with their times: nothing to replay")
            continue
        rows = replay(runs)
        print(f"\n{folder}: {len(runs)} complete runs; modelled / actual seconds of the runs left, after each ended")
        print(f"  {'ended':<48s} {'per FLOP':>8s} {'per step + FLOP':>15s}")
        for run, before, now in rows:
            print(f"  {run[:48]:<48s} {before:8.2f} {now:15.2f}")
        for name, i in (("per FLOP", 1), ("per step + FLOP", 2)):
            errors = [max(r[i], 1 / r[i]) for r in rows]  # 2 and 0.5 are as far off
            print(f"  {name}: median {statistics.median(errors):.2f}x off, worst {max(errors):.2f}x")


if __name__ == "__main__":
    main()
