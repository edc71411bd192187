"""How much early stopping could save if two members of a budget group were compared by the
difference of their predictions, not by their two intervals (issue 18; a screen, not the product's
rule).

    python benchmarks/paired_screen.py WORK/replayS.json WORK/seedS/full [more pairs ...]

Reads what `python benchmarks/early_stop.py --floor auto --out WORK/replayS.json --work-dir WORK`
wrote (its replay with the collapse of curves: each run's predicted final eval loss at 10%, 25% and
50% of its steps) and the grid it trained (WORK/seedS/full: each run's result.json, for its final
loss and its compute). The widest width is decided, the smaller ones train whole (they are its
references, as with early_stop.floor); at 10%, then 25%, then 50%, a member still going is stopped
when its prediction P_s exceeds (1 + q) times the beaten_by-th lowest prediction P_b of the others
(a member stopped earlier stands with the prediction it was stopped with; the lowest prediction is
never stopped):

    P_s > (1 + q) * P_b

The product's rule (sweep/early_stop.py decide) asks instead that the low end of s's interval lie
above the high end of b's, that is, with bands h_s and h_b (each at least
conf/fit.yaml collapse_min_band = 1%), roughly P_s > (1 + h_s + h_b) * P_b. q plays the part of the
band of the DIFFERENCE of two predictions: errors that two members share (the floor E, the
reference's own noise) cancel in it. q is fixed here, not calibrated: the screen asks which q the
grid would need, not whether a calibration could give it. Per q and beaten_by: the compute saved
(6 N x the tokens trained, the grid's whole compute in the denominator), the runs stopped (lr,
fraction, final loss above the width's best), and whether a run ending the width's best was stopped.

A second rule reads the same two intervals as a test of the difference rather than as two bands
that must not overlap: each interval's half-width on the side that faces the other (s's low side
h_s, b's high side h_b) is taken as 1.96 (the intervals' level, 95%) standard errors of an
independent estimate, and s is stopped when the difference is above the one-sided quantile z_L of
its standard error:

    P_s - P_b > (z_L / 1.96) * sqrt(h_s^2 + h_b^2)

(the textbook test: two 95% intervals that do not overlap is a test at about 99.5% for
independent estimates). It is calibrated only as far as the intervals are; the predictions' shared
errors, which the paired rule banks on, are not in it.

With --own-halves, a band q calibrated at each decision fraction F as a sweep could (nothing
finished at the widest width): each member predicted by the collapse at F (`sweep predict
--at-fraction F --floor auto`, its ratio k read at its last eval record s) is also predicted AT s
from its ratio at its first eval record past s / 2, r = that prediction / its loss at s; q is the
split-conformal 95% quantile of |r_s / r_b - 1| over the group's pairs (their own first halves,
backtested), and the paired rule is replayed with it. Printed per F: q, and the pairs' actual
|(P_s / P_b) / (L_s(1) / L_b(1)) - 1| (median, largest, how many within q).
"""

from __future__ import annotations

import argparse
import json
import math
from itertools import combinations
from pathlib import Path
from statistics import NormalDist

import numpy as np

BANDS = (0.003, 0.005, 0.0075, 0.01, 0.02)
BEATEN_BY = (1, 2)
TEST_LEVELS = (0.9, 0.95, 0.99)  # one-sided levels of the difference test
DECISIONS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)  # --own-halves: the product's decision fractions
INTERVAL_LEVEL = 0.95  # the replay's intervals' (benchmarks/early_stop.py: early_stop.level)


def grid_results(full: Path) -> dict[str, dict]:
    """run name -> its result.json, for the complete runs of the grid."""
    out = {}
    for path in sorted(full.glob("*/result.json")):
        result = json.loads(path.read_text())
        if result.get("status") == "complete":
            out[result["run"]] = result
    return out


def trained_flops(result: dict) -> float:
    return 6.0 * result["n_params"] * result["steps_done"] * result["batch_size"] * result["seq_len"]


def paired_replay(replay: dict, results: dict[str, dict], q: float, beaten_by: int) -> dict:
    """The widest width's members decided at each replayed fraction by P_s > (1 + q) P_b."""
    return replay_rule(replay, results, beaten_by, lambda s, b: s["predicted"] > (1 + q) * b["predicted"]) | {"q": q}


def difference_test_replay(replay: dict, results: dict[str, dict], level: float, beaten_by: int) -> dict:
    """The same members decided by the one-sided test of P_s - P_b at `level` (module docstring)."""
    z = NormalDist().inv_cdf(level) / NormalDist().inv_cdf((1 + INTERVAL_LEVEL) / 2)

    def beats(s: dict, b: dict) -> bool:
        h_s, h_b = s["predicted"] - s["interval"][0], b["interval"][1] - b["predicted"]
        return s["predicted"] - b["predicted"] > z * (h_s ** 2 + h_b ** 2) ** 0.5

    return replay_rule(replay, results, beaten_by, beats) | {"level": level}


def replay_rule(replay: dict, results: dict[str, dict], beaten_by: int, beats) -> dict:
    """The widest width's members decided at each replayed fraction: one still going is stopped
    when `beats(it, other)` holds for at least beaten_by others (a member stopped earlier stands
    with the prediction it was stopped with; the lowest prediction is never stopped)."""
    widest = max(r["d"] for r in results.values())
    stopped: dict[str, tuple[float, dict]] = {}  # run -> (fraction stopped at, the record it stands with)
    for fraction in sorted(replay, key=float):
        members = [r for r in replay[fraction]["runs"] if r["d"] == widest and r["run"] in results]
        going = [r for r in members if r["run"] not in stopped and r.get("predicted") is not None]
        standing = {r["run"]: r for r in going} | {n: r for n, (_, r) in stopped.items()}
        lowest = min((r["predicted"] for r in standing.values()), default=None)
        for r in going:
            others = [o for n, o in standing.items() if n != r["run"]]
            if len(others) >= beaten_by and r["predicted"] > lowest \
                    and sum(beats(r, o) for o in others) >= beaten_by:
                stopped[r["run"]] = (float(fraction), r)
    final = {n: r["final_eval_loss"] for n, r in results.items() if r["d"] == widest}
    best = min(final.values())
    saved = sum(trained_flops(results[n]) * (1 - f) for n, (f, _) in stopped.items())
    return {"beaten_by": beaten_by, "width": widest,
            "saved": saved / sum(trained_flops(r) for r in results.values()),
            "stopped": sorted((results[n]["lr"], f, final[n] / best - 1) for n, (f, _) in stopped.items()),
            "best_stopped": any(final[n] <= best for n in stopped)}


def eval_records(full: Path, run: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps_J, loss_J) of a run's eval records in its metrics.jsonl."""
    records = [json.loads(line) for line in (full / run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    evals = sorted({r["step"]: r["eval_loss"] for r in records if r.get("eval_loss") is not None}.items())
    return np.array([s for s, _ in evals], float), np.array([v for _, v in evals], float)


def own_halves_members(full: Path, results: dict[str, dict], fraction: float) -> list[dict]:
    """The widest width's members predicted by the collapse at `fraction`, each with r: its loss at
    its last eval record s predicted from its ratio at its first record past s / 2, over its loss there."""
    from sweep.fit.predict import predict_sweep

    widest = max(r["d"] for r in results.values())
    members = []
    for p in predict_sweep(full, fraction, floor="auto", n_resamples=20):
        c = p.prediction
        if results.get(p.run, {}).get("d") != widest or getattr(c, "reference", None) is None:
            continue
        steps_J, loss_J = eval_records(full, p.run)
        ref_steps_J, ref_loss_J = eval_records(full, c.reference)
        scale = results[c.reference]["steps_done"] / results[p.run]["steps_done"]  # the reference's steps per the run's
        ref_at = lambda step: float(np.interp(step * scale, ref_steps_J, ref_loss_J))
        first = int(np.flatnonzero(steps_J >= c.ratio_step / 2)[0])
        k_half = (loss_J[first] - c.floor) / (ref_at(steps_J[first]) - c.floor)
        at_s = float(loss_J[steps_J == c.ratio_step][0])
        members.append({"run": p.run, "d": widest, "lr": results[p.run]["lr"], "predicted": c.predicted,
                        "final": p.actual, "r": (c.floor + k_half * (ref_at(c.ratio_step) - c.floor)) / at_s})
    return members


def own_halves_replay(full: Path, results: dict[str, dict], level: float = 0.95) -> None:
    """--own-halves (module docstring): per decision fraction the band q and how the pairs' final
    errors stand against it, then the paired rule replayed with it."""
    replay = {}
    for fraction in DECISIONS:
        members = own_halves_members(full, results, fraction)
        pairs = list(combinations(members, 2))
        if not pairs:
            continue
        scores = sorted(abs(a["r"] / b["r"] - 1) for a, b in pairs)
        q = scores[min(math.ceil(level * (len(scores) + 1)), len(scores)) - 1]
        final = [abs(a["predicted"] / b["predicted"] / (a["final"] / b["final"]) - 1) for a, b in pairs]
        print(f"  own halves at {fraction:.0%}: {len(members)} members, q {q:.2%}; the pairs' final errors: median "
              f"{np.median(final):.2%}, largest {max(final):.2%}, {sum(e <= q for e in final)} of {len(final)} within q")
        replay[str(fraction)] = {"runs": [m | {"q": q} for m in members]}
    for k in BEATEN_BY:
        result = replay_rule(replay, results, k, lambda s, b: s["predicted"] > (1 + s["q"]) * b["predicted"])
        print(f"  own halves' q, beaten_by {k}: {describe(result)}")


def describe(r: dict) -> str:
    runs = ", ".join(f"lr {lr:g} at {f:.0%} (+{above:.2%})" for lr, f, above in r["stopped"])
    return (f"{r['saved']:.1%} of the grid's FLOPs saved; d{r['width']} stopped: {runs or 'none'}"
            f"{'; THE BEST STOPPED' if r['best_stopped'] else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="REPLAY.json GRID_FOLDER, in pairs")
    parser.add_argument("--own-halves", action="store_true",
                        help="also the band q calibrated on the group's own first halves (module docstring)")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give each replay JSON with its grid folder (WORK/seedS/full)")
    for replay_path, full in zip(args.pairs[::2], args.pairs[1::2]):
        replay = json.loads(Path(replay_path).read_text())["replay"]["collapse"]
        results = grid_results(Path(full))
        print(f"\n{replay_path} ({len(results)} complete runs in {full}):")
        for q in BANDS:
            for k in BEATEN_BY:
                print(f"  paired, q {q:.2%} beaten_by {k}: {describe(paired_replay(replay, results, q, k))}")
        for level in TEST_LEVELS:
            for k in BEATEN_BY:
                print(f"  difference test at {level:.0%}, beaten_by {k}: "
                      f"{describe(difference_test_replay(replay, results, level, k))}")
        if args.own_halves:
            own_halves_replay(Path(full), results)

if __name__ == "__main__":
    main()
