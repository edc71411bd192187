"""How well the collapse of loss curves (sweep/fit/collapse.py) predicts a run from a finished run of
another width, by width ratio, on a finished grid of benchmarks/early_stop.py (issue 18).

    python benchmarks/collapse_ratios.py WORK/seedS/full [--fractions 0.1,0.15,0.2,0.25,0.5]

For every pair of widths (run width > reference width) and fraction f, each run of the larger width
is predicted from the finished run of the smaller width at its learning rate (and batch size), with
the product's predict_by_collapse, read up to f of its steps as `sweep predict --floor` reads it: E
the corpus's true entropy rate (`true`) and, where a third, smaller width has finished, E calibrated
one size down (`auto`: calibrate_floor on the (reference width, third width) pairs), the band's error
one size down measured on that third width. Prints, per pair, E and fraction, the median and worst
|relative error| of the predicted final eval loss, how many bands held it, and each run's signed error
and band half-width. Record the figures in benchmarks/RESULTS.md ("Widths twice apart").
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from sweep.config import train_config
from sweep.data.tokenizer import vocab_size
from sweep.fit.collapse import CollapseError, EvalCurve, calibrate_floor, predict_by_collapse
from sweep.fit.defaults import fit_defaults
from sweep.fit.predict import learning_rates
from sweep.rundir import CONFIG_REMEDY, iter_run_dirs

FRACTIONS = "0.1,0.15,0.2,0.25,0.5"


def read_grid(full: Path) -> tuple[dict[tuple[int, tuple[float, int]], EvalCurve], float]:
    """{(width, setting): the run's whole eval curve} over the grid's complete runs (the setting: its
    (learning rate, batch size)), and the corpus's true entropy rate."""
    curves, entropy = {}, None
    for run in iter_run_dirs(full):
        result = run.read_result() or {}
        if result.get("status") != "complete":
            continue
        cfg = train_config(run.read_config(), str(run.config_file), CONFIG_REMEDY)
        lr_S, warmup = learning_rates(cfg)
        evals = [(r["step"], r["eval_loss"]) for r in run.read_metrics() if r.get("eval_loss") is not None]
        steps_J, loss_J = zip(*sorted(dict(evals).items()))
        setting = (cfg.optim.lr, cfg.train.batch_size)
        curves[(cfg.model.d, setting)] = EvalCurve(run.path.name, steps_J, loss_J, len(lr_S),
                                                   float(result["final_eval_loss"]), warmup,
                                                   math.log(vocab_size(cfg.data)))
        entropy = result.get("true_entropy_nats", entropy)
    if not curves:
        raise SystemExit(f"{full}: no complete runs there (a finished grid of benchmarks/early_stop.py: "
                         "WORK/seedS/full)")
    if entropy is None:
        raise SystemExit(f"{full}: no complete run records true_entropy_nats (a data=synthetic grid is needed)")
    return curves, float(entropy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("full", type=Path, help="a finished grid (benchmarks/early_stop.py's WORK/seedS/full)")
    parser.add_argument("--fractions", default=FRACTIONS, help=f"comma-separated (default {FRACTIONS})")
    args = parser.parse_args()
    curves, entropy = read_grid(args.full)
    widths = sorted({w for w, _ in curves})
    settings = sorted({s for _, s in curves})
    level, min_band = 0.95, fit_defaults().collapse_min_band
    print(f"{args.full}: widths {widths}, {len(settings)} settings, entropy rate {entropy:.4f}")
    for f in (float(x) for x in args.fractions.split(",")):
        for big in widths:
            for small in (w for w in widths if w < big):
                third = max((w for w in widths if w < small), default=None)
                floors = {"true": entropy}
                if third is not None:
                    pairs = [(curves[(small, s)], curves[(third, s)]) for s in settings
                             if (small, s) in curves and (third, s) in curves]
                    try:
                        floors["auto"] = calibrate_floor(pairs, f).floor
                    except CollapseError as err:
                        print(f"  f={f:.2f} d{big} <- d{small}: no auto floor ({err})")
                for name, floor in floors.items():
                    errors, held, cells, skipped = [], 0, [], 0
                    for s in settings:
                        if (big, s) not in curves or (small, s) not in curves:
                            continue
                        run = curves[(big, s)]
                        down = curves.get((third, s)) if third is not None else None
                        try:
                            p = predict_by_collapse(run, curves[(small, s)], floor, min_band=min_band, level=level,
                                                    until_step=int(f * run.steps), reference_of_reference=down)
                        except CollapseError:
                            skipped += 1
                            continue
                        error = p.predicted / run.final - 1
                        errors.append(abs(error))
                        held += p.interval[0] <= run.final <= p.interval[1]
                        half = (p.interval[1] - p.predicted) / p.predicted
                        cells.append(f"lr {s[0]:g} b{s[1]}: {100 * error:+.2f}% +-{100 * half:.1f}%")
                    head = f"  f={f:.2f} d{big} <- d{small} ({big / small:.2g}x) E {name} ({floor:.4g}):"
                    if not errors:
                        print(f"{head} none predicted ({skipped} skipped: a run or reference in its warmup or "
                              "on its plateau, or no record)")
                        continue
                    print(f"{head} {len(errors)} predicted, {skipped} skipped; median |error| "
                          f"{100 * statistics.median(errors):.2f}%, worst {100 * max(errors):.2f}%, "
                          f"band held {held} of {len(errors)}")
                    print("      " + "; ".join(cells))


if __name__ == "__main__":
    main()
