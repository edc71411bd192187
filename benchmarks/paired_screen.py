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
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

BANDS = (0.003, 0.005, 0.0075, 0.01, 0.02)
BEATEN_BY = (1, 2)


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
    widest = max(r["d"] for r in results.values())
    stopped: dict[str, tuple[float, float]] = {}  # run -> (fraction stopped at, prediction it stands with)
    for fraction in sorted(replay, key=float):
        members = [r for r in replay[fraction]["runs"] if r["d"] == widest and r["run"] in results]
        going = [r for r in members if r["run"] not in stopped and r.get("predicted") is not None]
        standing = {r["run"]: r["predicted"] for r in going} | {n: p for n, (_, p) in stopped.items()}
        lowest = min(standing.values(), default=None)
        for r in going:
            others = sorted(p for n, p in standing.items() if n != r["run"])
            if len(others) >= beaten_by and r["predicted"] > lowest and r["predicted"] > (1 + q) * others[beaten_by - 1]:
                stopped[r["run"]] = (float(fraction), r["predicted"])
    final = {n: r["final_eval_loss"] for n, r in results.items() if r["d"] == widest}
    best = min(final.values())
    saved = sum(trained_flops(results[n]) * (1 - f) for n, (f, _) in stopped.items())
    return {"q": q, "beaten_by": beaten_by, "width": widest,
            "saved": saved / sum(trained_flops(r) for r in results.values()),
            "stopped": sorted((results[n]["lr"], f, final[n] / best - 1) for n, (f, _) in stopped.items()),
            "best_stopped": any(final[n] <= best for n in stopped)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="REPLAY.json GRID_FOLDER, in pairs")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give each replay JSON with its grid folder (WORK/seedS/full)")
    for replay_path, full in zip(args.pairs[::2], args.pairs[1::2]):
        replay = json.loads(Path(replay_path).read_text())["replay"]["collapse"]
        results = grid_results(Path(full))
        print(f"\n{replay_path} ({len(results)} complete runs in {full}):")
        for q in BANDS:
            for k in BEATEN_BY:
                r = paired_replay(replay, results, q, k)
                runs = ", ".join(f"lr {lr:g} at {f:.0%} (+{above:.2%})" for lr, f, above in r["stopped"])
                print(f"  q {q:.2%} beaten_by {k}: {r['saved']:.1%} of the grid's FLOPs saved; d{r['width']} "
                      f"stopped: {runs or 'none'}{'; THE BEST STOPPED' if r['best_stopped'] else ''}")


if __name__ == "__main__":
    main()
