"""A screen for issue 18 (not a feature yet): does a finished smaller width predict a larger width's
final loss from the larger run's first part, through the collapse of loss curves across model size?

    python benchmarks/collapse_screen.py GRID_DIR [GRID_DIR ...] [--out FILE.json]

GRID_DIR: a finished grid of benchmarks/early_stop.py (WORK/seedS/full: widths d32 and d48 x
learning rates, one batch size, data=synthetic). Qiu et al. 2025 (arXiv 2507.02119, "scaling
collapse") report that runs of different sizes trained at the same tokens per parameter under the
same schedule trace one curve once their loss above the irreducible loss E is divided by its final
value. So a larger run's final eval loss is predicted from the smaller run at the same learning
rate and batch size (its reference), both read at the same fraction F of their own training:

    L_big(1) = E + (L_big(F) - E) * (L_ref(1) - E) / (L_ref(F) - E)

(eval records, linearly interpolated at F times each run's steps). E: the corpus's true entropy
rate (`true_entropy_nats`, which data=synthetic records), a fraction of it (a floor known only
roughly), or 0 (no floor: the plain ratio). The interval: the prediction plus or minus the larger
of (a) how far the same ratio read at the records of [F/2, F] moves it and (b) a relative floor
`rel` of the prediction. The stopping rule is the product's (sweep/early_stop.py): a run is
stopped when its interval's low end lies above the high ends of `beaten_by` = 2 other members of
its width, the lowest prediction never; only the larger width is decided (the reference width
trains to its end). Compute saved: (1 - F) of each stopped run's FLOPs over the whole grid's
(both widths). The oracle: the same with every run of the larger width that ends more than 0.5%
above its best stopped at F. Prints the error table and the stopping table; --out writes them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FRACTIONS = (0.1, 0.25, 0.5)
FLOOR_FACTORS = (1.0, 0.95, 0.9, 0.0)  # E as a fraction of the true entropy rate
RELATIVE_FLOORS = (0.005, 0.01, 0.02)
BEATEN_BY = 2
ORACLE_MARGIN = 0.005


def load_grid(folder: Path) -> dict[tuple[int, float, int], dict]:
    """{(d, lr, batch_size): the complete run's steps, eval records (E, 2), final eval loss, true
    entropy rate and FLOPs}."""
    runs = {}
    for result_path in sorted(folder.glob("*/result.json")):
        result = json.loads(result_path.read_text())
        if result.get("status") != "complete":
            continue
        records = [json.loads(line) for line in (result_path.parent / "metrics.jsonl").read_text().splitlines()]
        eval_Ex2 = np.array([(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r])
        runs[(result["d"], result["lr"], result["batch_size"])] = {
            "steps": result["steps"], "eval": eval_Ex2, "final": result["final_eval_loss"],
            "entropy": result["true_entropy_nats"], "flops": result["flops"]}
    return runs


def loss_at(run: dict, fraction: float) -> float:
    """The run's eval loss at `fraction` of its steps (linear between records)."""
    return float(np.interp(fraction * run["steps"], run["eval"][:, 0], run["eval"][:, 1]))


def predict(big: dict, ref: dict, fraction: float, floor: float, rel: float) -> tuple[float, float, float]:
    """(predicted final eval loss, low, high) of `big` from its first `fraction` and the finished `ref`."""
    reducible = ref["final"] - floor
    ratio = (loss_at(big, fraction) - floor) / (loss_at(ref, fraction) - floor)
    predicted = floor + ratio * reducible
    seen = big["eval"][(big["eval"][:, 0] <= fraction * big["steps"]) & (big["eval"][:, 0] >= fraction * big["steps"] / 2)]
    moved = [abs((loss - floor) / (loss_at(ref, step / big["steps"]) - floor) - ratio) * reducible for step, loss in seen]
    half = max(max(moved, default=0.0), rel * predicted)
    return predicted, predicted - half, predicted + half


def pairs(runs: dict) -> list[tuple[tuple, dict, dict]]:
    """(key, larger run, its reference) for every run of the larger width with a finished smaller one."""
    small, big = sorted({d for d, _, _ in runs})[:2]
    return [(key, run, runs[(small, *key[1:])]) for key, run in runs.items()
            if key[0] == big and (small, *key[1:]) in runs]


def errors(grids: dict[str, dict]) -> dict:
    """Per fraction and floor: median and worst |relative error| over every larger run, and per lr
    the signed median and range."""
    out = {}
    for fraction in FRACTIONS:
        for factor in FLOOR_FACTORS:
            by_lr: dict[float, list[float]] = {}
            for runs in grids.values():
                for key, big, ref in pairs(runs):
                    predicted, _, _ = predict(big, ref, fraction, factor * big["entropy"], 0.0)
                    by_lr.setdefault(key[1], []).append(predicted / big["final"] - 1)
            every = np.abs(np.concatenate(list(by_lr.values())))
            out[f"{fraction}/{factor}"] = {
                "runs": int(len(every)), "median": float(np.median(every)), "worst": float(every.max()),
                "by_lr": {lr: [float(np.median(v)), float(min(v)), float(max(v))] for lr, v in sorted(by_lr.items())}}
    return out


def stopping(grids: dict[str, dict]) -> dict:
    """Per fraction, floor and relative floor: each grid's compute saved and whether its larger width's
    best run went on; the intervals' coverage over every larger run; and the oracle's saving."""
    out = {}
    for fraction in FRACTIONS[:2]:
        for factor in FLOOR_FACTORS:
            for rel in RELATIVE_FLOORS:
                saved, kept, covered = {}, {}, []
                for name, runs in grids.items():
                    group = {key: predict(big, ref, fraction, factor * big["entropy"], rel) for key, big, ref in pairs(runs)}
                    final = {key: runs[key]["final"] for key in group}
                    lowest = min(group, key=lambda k: group[k][0])
                    stopped = [k for k, (_, lo, _) in group.items()
                               if k != lowest and sum(lo > q[2] for j, q in group.items() if j != k) >= BEATEN_BY]
                    total = sum(r["flops"] for r in runs.values())
                    saved[name] = sum((1 - fraction) * runs[k]["flops"] for k in stopped) / total
                    kept[name] = min(final, key=final.get) not in stopped
                    covered += [lo <= final[k] <= hi for k, (_, lo, hi) in group.items()]
                out[f"{fraction}/{factor}/{rel}"] = {"saved": saved, "best_kept": kept, "coverage": float(np.mean(covered))}
        oracle = {}
        for name, runs in grids.items():
            big = {key: run for key, run, _ in pairs(runs)}
            best = min(r["final"] for r in big.values())
            oracle[name] = sum((1 - fraction) * r["flops"] for r in big.values() if r["final"] > best * (1 + ORACLE_MARGIN)) / \
                sum(r["flops"] for r in runs.values())
        out[f"oracle/{fraction}"] = oracle
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("grids", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    grids = {str(g): load_grid(g) for g in args.grids}
    err, stop = errors(grids), stopping(grids)
    print("fraction  E/entropy  runs  median |error|  worst | per lr: signed median [min, max]")
    for key, e in err.items():
        lrs = " ".join(f"{lr:g}:{m:+.1%}[{lo:+.1%},{hi:+.1%}]" for lr, (m, lo, hi) in e["by_lr"].items())
        print(f"{key:>12}  {e['runs']:4d}  {e['median']:6.2%}  {e['worst']:6.1%} | {lrs}")
    print("\nfraction/E factor/rel floor: compute saved per grid (best of the larger width kept), coverage")
    for key, s in stop.items():
        if key.startswith("oracle"):
            print(f"{key:>16}: " + " ".join(f"{v:.0%}" for v in s.values()))
            continue
        print(f"{key:>16}: " + " ".join(f"{v:.0%}{'' if s['best_kept'][g] else '(best lost)'}" for g, v in s["saved"].items())
              + f" | mean {np.mean(list(s['saved'].values())):.1%}, coverage {s['coverage']:.0%}")
    if args.out:
        args.out.write_text(json.dumps({"grids": list(grids), "errors": err, "stopping": stop}, indent=1))


if __name__ == "__main__":
    main()
