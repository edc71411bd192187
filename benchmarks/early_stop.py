"""Predicting a run's final loss from its first part, and early stopping, on a learning-rate grid
(issue 18; goals: median |error| under 1% at 25% of training, intervals that cover at their
nominal rate, the same best lr per width, at least 40% of the grid's compute saved).

    python benchmarks/early_stop.py [--seed 0] [--out FILE.json] [--only replay|stop] [--work-dir DIR]
                                    [--lrs 1e-3,...] [--batches 2,4,... --lrs ONE_LR]

The grid: conf/demo.yaml (data=synthetic with a known entropy rate, local launcher, one run after
another on the CPU), widths d32 and d48 (l=2) x 6 learning rates 1e-3 .. 3.2e-2 (x2 apart) at 20
tokens per parameter: 640 and 1320 steps, 50 of warmup, cosine to 10% of the peak. 3.2e-2 is there
because d32's best was 1.6e-2 (seed 0), at the edge of 1e-3 .. 1.6e-2. Records: a
train_loss every 5 steps and an eval_loss every 25 (train.log_every=5, train.eval_every=25, not
identity settings, so they change no run's training): 25% of the d32 runs (160 steps) then holds
22 train records past the warmup and 4 eval records for the eval-train gap; with the demo's 10 and
100 it would hold 11 and one.

- replay: the grid trained to completion into WORK/seedS/full, then `sweep predict`'s predictor
  (sweep.fit.predict.predict_sweep) replayed on the same curves cut at 10%, 25% and 50% of each
  run: per fraction the median and worst |relative error| of the predicted final eval loss, the
  95% interval's coverage, the runs it could not predict, and per width whether the best lr by
  predicted loss is the best by actual loss. Both predictors are replayed: each run fitted alone
  (predict_sweep(..., shared=False)) and with exponents shared across each budget group (the default).
  Then early stopping replayed on those curves with one decision at 10%, 25% or 50%, with decisions
  at 25% and 50%, at 25%, 50% and 75%, and from 10% on at 2, 4 and 7 fractions (RUNGS: the runs
  still going decided again later, as the launcher does with early_stop.again_at): the compute it
  would save, with conf's early_stop.beaten_by and with 1 (one comparator). The replay reads each
  run's last eval record at or before a decision step; the launcher's runs evaluate at the
  decision step itself (sweep/early_stop.py probe_eval_steps), so the two decide on the same
  records only where every decision step is an eval step of the grid (--eval-every 5, the log
  step): with 10, seed 1 of the real-text d32-d64 grid read step 330 for the launcher's 335 at 15%,
  and one run stopped in the replay went on in the launcher's run (benchmarks/RESULTS.md).
- stop: the same grid with early_stop.enabled=true early_stop.fraction=0.25 into WORK/seedS/stop
  (--stop-fraction, --again-at, --floor and --beaten-by set early_stop.fraction, .again_at, .floor and
  .beaten_by; it needs the full grid too: it is trained first if missing). Compute used: the sum over runs of
  6 N x the tokens actually trained (a stopped run: its probe step's, steps_done x tokens per
  step) against the full grid's; and per width whether the best lr (a stopped run stands with its
  predicted loss; the best must be a run that completed) is the full grid's.
--batches sweeps the batch size (train.batch_size; the same tokens, so a smaller batch takes more
steps): at the one learning rate --lrs gives, the best setting per width is the best batch size;
with several --lrs the grid is every lr at every batch size (one budget group per width, as a
researcher's joint sweep is) and the best setting is the best (lr, batch) pair, shown as "0.016@b8".
One --batches value with several --lrs is the learning-rate grid at that batch size. Prints a
table; writes everything as JSON to --out. Record the figures, with the machine, date and command, in
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WIDTHS = "32,48"
EVAL_EVERY = 25
LRS = "1e-3,2e-3,4e-3,8e-3,1.6e-2,3.2e-2"


def grid(lrs: str, batches: str | None = None, widths: str = WIDTHS, eval_every: int = EVAL_EVERY,
         data: str = "synthetic") -> list[str]:
    """The sweep's overrides for learning rates `lrs` (comma-separated) and, if given, batch sizes
    `batches` (comma-separated; the demo's 8 otherwise); an eval record every `eval_every` steps; the
    corpus `data` (corpus_overrides)."""
    return ["--config-name", "demo", f"model.d={widths}", "model.l=2", *corpus_overrides(data),
            "budget.tokens_per_param=20", f"optim.lr={lrs}",
            *([f"train.batch_size={batches}"] if batches else []), "train.log_every=5", f"train.eval_every={eval_every}",
            "logger=none"]


def corpus_overrides(data: str) -> list[str]:
    """The data overrides of corpus `data`: `synthetic` (the demo's; none), `embedded` (prose that
    ships with Python, byte tokens), or a path: a folder of .txt files (one document each) or a
    file, read with data=files in byte tokens as `embedded` is (a larger real corpus than
    embedded's 2 MB, which the widest runs read more than once)."""
    if data == "synthetic":
        return []
    if data == "embedded":
        return ["data=embedded"]
    return ["data=files", f"data.paths=[{Path(data).resolve()}]", "data.tokenizer=byte"]


JOINT = "lr,batch_size"  # the axis of a grid over both: a setting is the pair, shown as "0.016@b8"


def swept(batches: str | None, lrs: str = LRS) -> str:
    """The coordinate a width's runs differ in: both (JOINT) when --batches and --lrs give several,
    the batch size when only --batches does, else the learning rate (at the one batch size --batches
    gives, or the demo's 8)."""
    several = bool(batches and "," in batches)
    return (JOINT if "," in lrs else "batch_size") if several else "lr"


def setting(coordinates, axis: str) -> float | str:
    """A run's value on `axis` (a result.json or a prediction's coordinates): the lr or the batch
    size, or for JOINT the pair as "lr@bB" (one key, as the best setting of a width is one run)."""
    return f"{coordinates['lr']:g}@b{coordinates['batch_size']}" if axis == JOINT else coordinates[axis]


def shown(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"


FRACTIONS = (0.1, 0.25, 0.5)
ORACLE_MARGINS = (0.0, 0.005, 0.01)  # runs ending within this of their width's best are never stopped by the bound
STOP_FRACTION = 0.25  # early_stop.fraction of the launcher's run (--only stop)


def prepare(cache: Path, widths: str = WIDTHS, data: str = "synthetic") -> None:
    """The corpus in `cache`, as many tokens as the grid's widest run reads."""
    corpus = grid(LRS, widths=widths, data=data)
    done = subprocess.run([sys.executable, "-m", "launch.cli", "prepare", *corpus[:corpus.index("budget.tokens_per_param=20")],
                           f"data.cache_dir={cache}"],
                          cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"sweep prepare failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def results(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]


def train_grid(out: Path, cache: Path, seed: int, overrides: list[str], extra: list[str]) -> float:
    """Train the grid (`grid`'s overrides) into `out` (runs already finished there are not trained
    again); wall seconds."""
    cmd = [sys.executable, "-m", "sweep.train", "-m", *overrides, f"seed={seed}", f"out_dir={out}",
           f"data.cache_dir={cache}", *extra]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}\nexit code {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return time.perf_counter() - started


def complete(out: Path, widths: str, lrs: str, batches: str | None) -> bool:
    """Whether every run of the grid (each width x lr x batch size, comma-separated; the demo's batch
    8 where `batches` is None) finished in `out`, whatever else the folder holds (was: a count of
    the folder's runs, which a folder of other widths could match)."""
    done = {(r["d"], r["lr"], r["batch_size"]) for r in results(out) if r["status"] == "complete"}
    return all((int(d), float(lr), int(b)) in done for d in widths.split(",") for lr in lrs.split(",")
               for b in (batches or "8").split(","))


def best_setting(losses: dict[float, float]) -> float | None:
    """The swept value (lr or batch size) with the lowest loss."""
    return min(losses, key=losses.get) if losses else None


def regret(actuals: dict[float, float], chosen: float | None) -> float | None:
    """How much worse the chosen setting's actual final loss is than the best's (relative): 0 when
    the same; near 0 when the grid's best few settings end within noise of each other."""
    if chosen is None or chosen not in actuals:
        return None
    return actuals[chosen] / min(actuals.values()) - 1


def with_smaller(full: Path, d: int) -> tuple[list, int]:
    """(the run folders of width d, then the complete runs of the smaller widths), and how many of
    the first: what a replay with --floor predicts width d from, as a sweep run in parallel would
    have it (its smaller widths finish first: a d32 run costs under a fifth of a d48 one)."""
    from sweep.rundir import iter_run_dirs

    runs = [(run, run.read_result() or {}) for run in iter_run_dirs(full)]
    members = [run for run, r in runs if r.get("d") == d]
    smaller = [run for run, r in runs if r.get("status") == "complete" and r.get("d", d) < d]
    return members + smaller, len(members)


def replay(full: Path, shared: bool, axis: str, floor: float | str | None = None) -> dict:
    """The predictor on the full grid's curves cut at each fraction; the best `axis` value per width.
    With `floor`, a run with a complete smaller width at its settings is predicted from it
    (sweep predict --floor; the collapse of curves), each width from its smaller widths only."""
    from sweep.fit.predict import predict_runs, predict_sweep, summarize

    out = {}
    widths = sorted({r["d"] for r in results(full)})
    for fraction in FRACTIONS:
        if floor is None:
            predictions = predict_sweep(full, fraction, shared=shared)
        else:
            predictions = []
            for d in widths:
                runs, members = with_smaller(full, d)
                predictions += predict_runs(runs, None, fraction, shared=shared, floor=floor)[:members]
        summary = summarize(predictions)
        widths = {}
        for d in sorted({p.coordinates["d"] for p in predictions}):
            members = [p for p in predictions if p.coordinates["d"] == d]
            actuals = {setting(p.coordinates, axis): p.actual for p in members if p.actual is not None}
            actual = best_setting(actuals)
            predicted = best_setting({setting(p.coordinates, axis): p.predicted for p in members if p.predicted is not None})
            widths[d] = {"best_actual": actual, "best_predicted": predicted, "same": actual == predicted,
                         "regret": regret(actuals, predicted)}
        out[fraction] = {"summary": summary, "axis": axis, "best": widths,
                         "runs": [{k: v for k, v in p.to_dict().items()
                                   if k in ("run", "d", "lr", "batch_size", "predicted", "interval", "actual", "relative_error",
                                            "covered", "skipped", "alpha", "fraction_seen", "method", "reference",
                                            "band_from")} for p in predictions]}
    return out


def trained_flops(result: dict) -> float:
    """6 N x the tokens this run trained: its steps done x tokens per step."""
    return 6.0 * result["n_params"] * result["steps_done"] * result["batch_size"] * result["seq_len"]


def standing_losses(folder: Path) -> dict[str, float]:
    """What each run stands with in its group's U-curve, as the lr law reads it (sweep/fit/table.py):
    its final eval loss, or if stopped its predicted one (never below the run it lost to)."""
    from sweep.fit.table import load_runs_table

    table = load_runs_table(folder).with_stopped()
    return dict(zip(table.names, map(float, table.loss_R)))


def stop_comparison(full: Path, stopped: Path, axis: str) -> dict:
    full_runs, stop_runs = results(full), results(stopped)
    stands = standing_losses(stopped)

    def standing_loss(result: dict) -> float | None:
        return stands.get(result["run"])

    used, grid = sum(map(trained_flops, stop_runs)), sum(map(trained_flops, full_runs))
    final = {r["run"]: r["final_eval_loss"] for r in full_runs}
    widths = {}
    for d in sorted({r["d"] for r in full_runs}):
        actuals = {setting(r, axis): r["final_eval_loss"] for r in full_runs if r["d"] == d}
        actual = best_setting(actuals)
        standing = {setting(r, axis): standing_loss(r) for r in stop_runs if r["d"] == d and standing_loss(r) is not None}
        chosen = best_setting(standing)
        chosen_run = next((r for r in stop_runs if r["d"] == d and setting(r, axis) == chosen), None)
        below = sorted(setting(r, axis) for r in stop_runs if r["d"] == d and r["status"] == "stopped_early"
                       and final[r["run"]] < final.get((r.get("early_stop") or {}).get("best_run"), math.inf))
        widths[d] = {"best_full": actual, "best_early_stop": chosen, "same": actual == chosen,
                     "below_comparator": below,  # stopped, yet (in the full grid) ended below their comparator
                     "regret": regret(actuals, chosen),
                     "best_completed": chosen_run is not None and chosen_run["status"] == "complete",
                     "stopped": sorted(setting(r, axis) for r in stop_runs if r["d"] == d and r["status"] == "stopped_early"),
                     "stopped_at": {setting(r, axis): r["steps_done"] / r["steps"] for r in stop_runs  # the fraction trained
                                    if r["d"] == d and r["status"] == "stopped_early"}}
    return {"flops_used": used, "flops_full_grid": grid, "fraction_used": used / grid if grid else None,
            "saved": 1 - used / grid if grid else None, "runs": len(stop_runs),
            "stopped": sum(r["status"] == "stopped_early" for r in stop_runs), "axis": axis, "best": widths}


def probe_at(run, fraction: float) -> int | None:
    """The probe step a run folder (a sweep.rundir.RunDir) would have with early_stop.fraction =
    `fraction` (sweep/early_stop.py probe_step)."""
    from omegaconf import OmegaConf

    from sweep.early_stop import probe_step
    from sweep.config import train_config
    from sweep.fit.predict import FolderRun

    folder = FolderRun(run)
    cfg = train_config(folder.config(), folder.where, folder.remedy)
    return probe_step(OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cfg),
                                                          {"early_stop": {"fraction": fraction, "again_at": []}})))


def oracle_saving(full: Path, fraction: float, margin: float, axis: str, references_whole: bool = False) -> dict:
    """The most any stopping rule could save on this grid at `fraction` without stopping a run that
    ends within `margin` (relative) of its width's best: every run that ends further above it stopped
    at its probe step (sweep/early_stop.py probe_step), the rest trained to their end. An upper
    bound set by the grid, not by the predictor: a grid whose learning rates all end near the best
    leaves an early-stopping rule little to save. `references_whole`: as with early_stop.floor, a
    run that a wider run at its setting is predicted from trains whole (sweep/early_stop.py
    early_stopped_groups)."""
    from sweep.rundir import iter_run_dirs

    runs = []
    for run in iter_run_dirs(full):
        result = run.read_result() or {}
        if result.get("status") != "complete":
            continue
        runs.append((result, (probe_at(run, fraction) or result["steps"]) / result["steps"]))
    best = {d: min(r["final_eval_loss"] for r, _ in runs if r["d"] == d) for d in {r["d"] for r, _ in runs}}
    grid_flops = sum(trained_flops(r) for r, _ in runs)
    present = {(setting(r, axis), r["d"]) for r, _ in runs}  # (setting, width) of every complete run
    referenced = {(setting(r, axis), r["d"]) for r, _ in runs if any(v == setting(r, axis) and d > r["d"] for v, d in present)}
    stoppable = [(r, seen) for r, seen in runs if r["final_eval_loss"] > (1 + margin) * best[r["d"]]
                 and not (references_whole and (setting(r, axis), r["d"]) in referenced)]
    saved = sum(trained_flops(r) * (1 - seen) for r, seen in stoppable)
    return {"fraction": fraction, "margin": margin, "references_whole": references_whole,
            "saved": saved / grid_flops if grid_flops else None,
            "stoppable": sorted((r["d"], setting(r, axis)) for r, _ in stoppable)}


RUNGS = ((0.1,), (0.25,), (0.5,), (0.25, 0.5), (0.25, 0.5, 0.75),  # decided at these fractions, in turn
         (0.1, 0.25), (0.1, 0.2, 0.3, 0.5), (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5))  # (early_stop.again_at)


def rule_defaults() -> tuple[float, int, float, bool]:
    """early_stop.margin, .beaten_by, .level and .gaps as conf/train.yaml sets them."""
    from omegaconf import OmegaConf

    rule = OmegaConf.load(REPO / "conf" / "train.yaml").early_stop
    return float(rule.margin), int(rule.beaten_by), float(rule.level), bool(rule.gaps)


def rung_replay(full: Path, rungs: tuple[float, ...], axis: str, margin: float, beaten_by: int,
                floor: float | str | None = None, keep_references: bool = True, level: float = 0.95,
                gaps: bool = True) -> dict:
    """Early stopping replayed on the full grid's curves with decisions at several fractions: at
    each, the runs still going are predicted together from their records up to it (as a group's
    deciding job does) and decided by sweep/early_stop.py's rule against every member (a run stopped
    earlier stands with its prediction), at the given margin and beaten_by. A run stopped at
    F saves 1 - F of its compute; the best per width is kept when no run that ends best is stopped.
    Each decision after the first is steadied by the one before (sweep/early_stop.py steadied), as
    the launcher's are. With `floor`, each width's runs are predicted from the complete smaller
    widths where they can be (replay's `floor`), widths in turn from the smallest: with
    `keep_references` (the launcher's way: sweep/early_stop.py early_stopped_groups) the widths
    below the largest are not early-stopped (they train whole, the references of the next);
    without, their runs are, and a run stopped is no reference of the next width (it has no final
    loss). `level`: the intervals' (early_stop.level); `gaps`: early_stop.gaps."""
    from sweep.early_stop import Standing, decide, predicted_standing, steadied
    from sweep.fit.predict import predict_runs
    from sweep.rundir import iter_run_dirs

    runs = [(run, run.read_result() or {}) for run in iter_run_dirs(full)]
    runs = [(run, r) for run, r in runs if r.get("status") == "complete"]
    saved, widths, gone = 0.0, {}, set()  # gone: the runs stopped so far (no references)
    sizes = sorted({r["d"] for _, r in runs})
    for d in sizes:
        members = [(run, r) for run, r in runs if r["d"] == d]
        stopped: dict[str, tuple[float, Standing, str]] = {}  # run -> (fraction, its standing, compared with)
        previous = None  # the decisions at the fraction before, by run (a later one is steadied by them)
        for fraction in (rungs if not (keep_references and floor is not None and d != sizes[-1]) else ()):
            going = [(run, r) for run, r in members if r["run"] not in stopped]
            smaller = [run for run in with_smaller(full, d)[0][len(members):] if run.path.name not in gone]
            references = [] if floor is None else smaller
            predictions = predict_runs([run for run, _ in going] + references,
                                       [probe_at(run, fraction) for run, _ in going] + [None] * len(references),
                                       level=level, floor=floor, calibrators=smaller, margin=margin)[:len(going)]
            standings = [predicted_standing(p, probe_at(run, fraction), gaps) for (run, _), p in zip(going, predictions)]
            standings += [s for _, s, _ in stopped.values()]
            if previous is not None:
                standings = steadied(standings, previous)
            decisions = decide(standings, margin, beaten_by)
            previous = {decision.run: decision for decision in decisions}
            for decision, standing in zip(decisions, standings):
                if decision.action == "stop":
                    # as the launcher's decisions file keeps it (sweep/early_stop.py _recorded_standing): its
                    # prediction and interval, no calibrated gaps (compared by its interval from then on)
                    stopped[decision.run] = (fraction, replace(standing, stoppable=False, gaps=None, span=None),
                                             decision.best_run)
        gone |= set(stopped)
        best = min(members, key=lambda m: m[1]["final_eval_loss"])[1]
        saved += sum(trained_flops(r) * (1 - stopped[r["run"]][0]) for _, r in members if r["run"] in stopped)
        final = {r["run"]: r["final_eval_loss"] for _, r in members}
        widths[d] = {"best_kept": best["run"] not in stopped,
                     # stopped, yet ended below the run it was judged worse than: the rule's promise broken
                     "below_comparator": sorted(setting(r, axis) for _, r in members if r["run"] in stopped
                                                and final[r["run"]] < final[stopped[r["run"]][2]]),
                     "stopped": sorted((setting(r, axis), stopped[r["run"]][0], r["final_eval_loss"] / best["final_eval_loss"] - 1)
                                       for _, r in members if r["run"] in stopped)}
    grid_flops = sum(trained_flops(r) for _, r in runs)
    return {"rungs": list(rungs), "beaten_by": beaten_by, "keep_references": keep_references, "level": level, "gaps": gaps,
            "margin": margin,
            "saved": saved / grid_flops if grid_flops else None, "best": widths}


def print_replay(name: str, figures: dict) -> None:
    print(f"\nreplay, {name}:")
    print(f"{'cut':>5s} {'predicted':>9s} {'skipped':>7s} {'median |err|':>12s} {'worst |err|':>11s} {'coverage':>8s}  "
          "best setting per width (predicted / actual; if they differ, the actual loss of the predicted one above the best)")
    for fraction, f in figures.items():
        s = f["summary"]
        med = "-" if s["median_abs_relative_error"] is None else f"{s['median_abs_relative_error']:.2%}"
        worst = "-" if s["max_abs_relative_error"] is None else f"{s['max_abs_relative_error']:.2%}"
        cov = "-" if s["coverage"] is None else f"{s['coverage']:.0%}"
        best = "  ".join(f"d{d}: {w['best_predicted']} / {w['best_actual']}"
                         + ("" if w["same"] else " DIFFERS" + (f" (+{w['regret']:.2%})" if w["regret"] is not None else ""))
                         for d, w in f["best"].items())
        print(f"{fraction:5.0%} {s['predicted']:9d} {s['skipped']:7d} {med:>12s} {worst:>11s} {cov:>8s}  {best}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="the runs' seed (initialisation and data order)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--only", choices=("replay", "stop"), default=None, help="one part (default: both)")
    parser.add_argument("--work-dir", type=Path, default=REPO / "runs" / "es_bench",
                        help="the grids' folders (WORK/seedS/full, WORK/seedS/stop) and the corpus; finished "
                             "runs there are reused")
    parser.add_argument("--lrs", default=LRS, help=f"the grid's learning rates, comma-separated (default {LRS}); "
                        "give each grid its own --work-dir")
    parser.add_argument("--widths", default=WIDTHS, help=f"the grid's widths (default {WIDTHS}); with --floor a "
                        "third, smaller width (16,32,48) measures the collapse's error one size down")
    parser.add_argument("--floor", default=None, metavar="E|true",
                        help="replay with `sweep predict --floor`: each width's runs predicted from the complete "
                             "smaller width at their settings (the collapse of curves above E; true: the corpus's "
                             "entropy rate), the others by the curve law")
    parser.add_argument("--stop-fraction", type=float, default=STOP_FRACTION,
                        help=f"early_stop.fraction of the launcher's run (--only stop; default {STOP_FRACTION}); "
                             "with --floor the launcher's run sets early_stop.floor too (WORK/seedS/stop-fF-floorE)")
    parser.add_argument("--again-at", default=None, metavar="F,F,...",
                        help="early_stop.again_at of the launcher's run (--only stop): the later fractions at which "
                             "the runs still going are decided again (WORK/seedS/stop-fF-againF_F...)")
    parser.add_argument("--eval-every", type=int, default=EVAL_EVERY,
                        help=f"train.eval_every of the grid's runs (default {EVAL_EVERY}); 10 puts an eval record at "
                             "every width's probe step at 10%%, 25%% and 50%% (steps 20, 60, 130 of d16, d32, d48 at 10%%); 5 (the log "
                             "step) at every decision step of any rung, as the launcher's runs evaluate")
    parser.add_argument("--level", type=float, default=None,
                        help="the intervals' level of the early-stopping replay (default: early_stop.level of "
                             "conf/train.yaml); the launcher's run (--only stop) keeps conf's")
    parser.add_argument("--margin", type=float, default=None,
                        help="early_stop.margin of the early-stopping replay, in [0, 1) (default: conf/train.yaml's); "
                             "the launcher's run (--only stop) keeps conf's")
    parser.add_argument("--gaps", choices=("true", "false"), default=None,
                        help="early_stop.gaps of the early-stopping replay (default: conf/train.yaml's): compare two "
                             "runs predicted from finished smaller runs by their calibrated gap, or by their intervals")
    parser.add_argument("--batches", default=None, help="sweep these batch sizes (comma-separated) at the one "
                        "learning rate --lrs gives, instead of the learning rate; one batch size: the lr grid at it")
    parser.add_argument("--beaten-by", type=int, default=None,
                        help="early_stop.beaten_by of the launcher's run (--only stop; default: conf's) "
                             "(WORK/seedS/stop-...-bK)")
    parser.add_argument("--data", default="synthetic",
                        help="the corpus: the demo's synthetic one (a known entropy rate; default), `embedded` "
                             "(prose that ships with Python, byte tokens: real text), or a folder of .txt files "
                             "(data=files, byte tokens); give each its own --work-dir")
    args = parser.parse_args()
    if args.data not in ("synthetic", "embedded") and not Path(args.data).exists():
        parser.error(f"--data {args.data}: accepted are synthetic, embedded, or an existing folder or file of text")
    if args.margin is not None and not 0 <= args.margin < 1:
        parser.error(f"--margin {args.margin}: accepted is a relative margin in [0, 1), as early_stop.margin")
    axis, overrides = swept(args.batches, args.lrs), grid(args.lrs, args.batches, args.widths, args.eval_every, args.data)
    name = {"lr": "lr", "batch_size": "batch", JOINT: "lr@batch"}[axis]
    sys.path.insert(0, str(REPO))
    work, cache = args.work_dir, args.work_dir / "token_cache"
    early_stop = ["early_stop.enabled=true", f"early_stop.fraction={args.stop_fraction:g}",
                  *([f"early_stop.floor={args.floor}"] if args.floor else []),
                  *([f"early_stop.again_at=[{args.again_at}]"] if args.again_at else []),
                  *([f"early_stop.beaten_by={args.beaten_by}"] if args.beaten_by is not None else [])]
    stop_name = "stop" if (args.stop_fraction, args.floor, args.again_at, args.beaten_by) == (
        STOP_FRACTION, None, None, None) else f"stop-f{args.stop_fraction:g}" + (
            f"-floor{args.floor}" if args.floor else "") + (
            f"-again{args.again_at.replace(',', '_')}" if args.again_at else "") + (  # a comma would make Hydra sweep out_dir
            f"-b{args.beaten_by}" if args.beaten_by is not None else "")
    full, stopped = work / f"seed{args.seed}" / "full", work / f"seed{args.seed}" / stop_name
    prepare(cache, args.widths, args.data)
    report: dict = {"machine": f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}",
                    "seed": args.seed, "data": args.data, "widths": args.widths, "floor": args.floor, "lrs": args.lrs, "batches": args.batches, "grid": overrides,
                    "work_dir": str(work)}
    if not complete(full, args.widths, args.lrs, args.batches):
        report["full_wall_seconds"] = train_grid(full, cache, args.seed, overrides, [])
    print(f"machine: {report['machine']}; seed {args.seed}; widths {args.widths}; lrs {args.lrs}; batches "
          f"{args.batches or 8}; folders {work}")
    for r in results(full):
        print(f"  {r['run']:45s} steps {r['steps']:5d}  final eval loss {r['final_eval_loss']:.4f}")
    report["oracle"] = [oracle_saving(full, fraction, margin, axis, whole) for whole in (False, True)[:1 + bool(args.floor)]
                        for fraction in FRACTIONS for margin in ORACLE_MARGINS]
    print("\nthe most any rule could save (every run ending more than the margin above its width's best stopped at "
          "its probe step; with --floor also with the references, the runs a wider run is predicted from, whole):")
    for o in report["oracle"]:
        print(f"  at {o['fraction']:.0%}, margin {o['margin']:.1%}{', references whole' if o['references_whole'] else ''}: "
              f"{o['saved']:.1%} of the grid's FLOPs "
              f"({len(o['stoppable'])} runs: {', '.join(f'd{d} {name} {shown(v)}' for d, v in o['stoppable'])})")
    if args.only in (None, "replay"):
        from sweep.fit.collapse import check_floor

        floor = check_floor(args.floor)
        if floor is None:
            report["replay"] = {"shared": replay(full, True, axis), "per_run": replay(full, False, axis)}
            print_replay("exponents shared across each budget group (the default)", report["replay"]["shared"])
            print_replay("each run fitted alone", report["replay"]["per_run"])
        else:
            report["replay"] = {"collapse": replay(full, True, axis, floor)}
            print_replay(f"from the complete smaller width where there is one (--floor {floor}), else the curve law",
                         report["replay"]["collapse"])
        margin, beaten_by, level, gaps = rule_defaults()
        level = args.level if args.level is not None else level
        margin = args.margin if args.margin is not None else margin
        gaps = {"true": True, "false": False}.get(args.gaps, gaps)
        compared = sorted({1, beaten_by})  # one comparator, and conf's early_stop.beaten_by
        report["rungs"] = [rung_replay(full, rungs, axis, margin, k, floor, level=level, gaps=gaps)
                           for k in compared for rungs in RUNGS]
        print("\nearly stopping replayed with decisions at several fractions (a run stopped at F saves 1 - F of it):")
        for r in report["rungs"]:
            print(f"  beaten_by {r['beaten_by']}, level {r['level']:g}, gaps {r['gaps']}, margin {r['margin']:.1%}, decided at {', '.join(f'{f:.0%}' for f in r['rungs'])}: "
                  f"{r['saved']:.1%} of the grid's FLOPs saved; "
                  + "; ".join(f"d{d}: best kept {w['best_kept']}, ended below their comparator "
                              f"{w['below_comparator'] or 'none'}, stopped "
                              + (", ".join(f"{name} {shown(v)} at {f:.0%} (ends {e:+.2%})" for v, f, e in w["stopped"]) or "none")
                              for d, w in r["best"].items()))
    if args.only in (None, "stop"):
        report["stop_wall_seconds"] = train_grid(stopped, cache, args.seed, overrides, early_stop)
        s = report["stop"] = stop_comparison(full, stopped, axis)
        at = ", ".join(f"{float(f):.0%}" for f in [args.stop_fraction, *(args.again_at or "").split(",")] if f)
        print(f"\nearly stopping at {at}: {s['stopped']} of {s['runs']} runs stopped; FLOPs {s['flops_used']:.3e} of "
              f"the full grid's {s['flops_full_grid']:.3e} ({s['saved']:.0%} saved; goal: at least 40%)")
        names = {"batch": "batches", "lr@batch": "lr@batch pairs"}.get(name, f"{name}s")  # not "batchs"
        for d, w in s["best"].items():
            stopped_at = ", ".join(f"{shown(v)} at {f:.0%}" for v, f in sorted(w["stopped_at"].items())) or "none"
            print(f"  d{d}: best {name} {w['best_early_stop']} (full grid: {w['best_full']}; its actual loss "
                  f"{'-' if w['regret'] is None else format(w['regret'], '+.2%')} above the best) "
                  f"{'same' if w['same'] else 'DIFFERS'}; best completed: {w['best_completed']}; stopped {names} "
                  f"{stopped_at} (of which ended below the run they were judged worse than: {w['below_comparator']})")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
