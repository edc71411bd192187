"""Does choosing runs by the criterion reach the whole pool's answer for less compute? Replays
(sweep/fit/replay.py, the same as `sweep suggest --replay`) on tables drawn from a known law over
several seeds, and on finished sweeps.

    nice -n 5 python benchmarks/active_replay.py [--seeds 5] [--resamples 60] [--noise 0.01] [--size-noise 0]
        [--design wide|narrow] [--truth chinchilla|kaplan] [--growth 1.0] [--count K]
        [--targets loss,n_opt|heldout] [--cost-exponent P] [--json OUT]
    nice -n 5 python benchmarks/active_replay.py --table runs/active-cpu [--holdout 1]
    python benchmarks/active_replay.py --from-json seeds0-8.json seeds9-17.json   # summarise earlier runs
    python benchmarks/active_replay.py --from-json a.json --versus b.json  # ... and a's active minus b's, by seed

Known law: E=1.7, A=400, B=410, alpha=0.34, beta=0.28 (Hoffmann et al.'s, rounded), or with --truth
kaplan Kaplan et al.'s L(N, D) (a form the fit does not contain: its error does not vanish with more
runs), loss x exp(noise x standard normal), and with --size-noise S times one exp(S x standard normal) per size, shared by its
runs (a size's own offset from the law; the held-out error is still against the law). Designs: wide,
8 sizes 1e6 .. 3e8 x 5 tokens per parameter 5 .. 80 (40 runs); narrow, 6 sizes 1e6 .. 1e8 x 3 tokens
per parameter 5, 20, 80 (18 runs). The largest size is held out. With
a known law the held-out error is measured against the law itself (the noise-free loss of the held-out
runs: the error of the extrapolation, not of one noisy run); on a finished sweep against the held-out
runs' losses.

Per seed, each strategy is read at fixed fractions of the pool's compute: its evaluation at the last
round whose compute is at most that fraction (every strategy is evaluated at the same rounds). Printed:
the mean over seeds (and the spread, min .. max) of the held-out error and of L*'s interval width per
strategy and fraction, how often the active choice beat each baseline, and at what fraction of the
pool's compute each strategy came within 10% of the whole pool's error and stayed there, and active
minus each baseline paired by seed with its standard error over the seeds (is a difference more than
the seeds' scatter?). With replays that have the oracle (the design of each round's compute the whole
pool's fit expects to err least; sweep/fit/design_bound.py), also each design's expected error over
the whole pool's, linearised at the seed's whole-pool fit: the same comparison with the noise of each
table's draw averaged out, active minus each other design paired by seed.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sweep.fit.parametric import ChinchillaLaw
from sweep.fit.replay import DESIGNS as COMPARED  # DESIGNS here: the tables' grids
from sweep.fit.replay import BASELINES, ORACLE, Evaluation, Replay, Round, replay
from sweep.fit.table import from_rows, load_runs_table

TRUE = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)


def kaplan_loss(N, tokens):
    """Kaplan et al. 2020's form L(N, D) = ((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D (their
    eq. 1.5, with their Table 2 fit: alpha_N 0.076, alpha_D 0.103, N_c 6.4e13, D_c 1.8e13): a known
    law outside the family that the Chinchilla fit searches (no floor E, the terms not additive), as
    no real table follows the fitted form exactly."""
    N, tokens = np.asarray(N, dtype=float), np.asarray(tokens, dtype=float)
    return ((6.4e13 / N) ** (0.076 / 0.103) + 1.8e13 / tokens) ** 0.103


TRUTHS = {"chinchilla": TRUE.predict, "kaplan": kaplan_loss}
DESIGNS = {"wide": (np.geomspace(1e6, 3e8, 8), (5.0, 10.0, 20.0, 40.0, 80.0)),
           "narrow": (np.geomspace(1e6, 1e8, 6), (5.0, 20.0, 80.0))}
FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def known_law_table(seed: int, noise: float, design: str, size_noise: float = 0.0, truth: str = "chinchilla"):
    """The design's runs at the known law, each loss times exp(noise x a standard normal) and, with
    `size_noise`, times one exp(size_noise x a standard normal) shared by every run of a size (a size's
    own offset from the law, as a size's shape or untuned hyperparameters give it: its runs repeat
    each other's information about it). The size offsets come from their own generator, so the
    per-run draws are those of `size_noise` 0."""
    sizes, ratios = DESIGNS[design]
    rng = np.random.default_rng(seed)
    offsets = np.exp(size_noise * np.random.default_rng([seed, 1]).normal(size=len(sizes)))
    rows = [{"status": "complete", "run": f"N{n:.3g}-tpp{r:g}", "n_params": n, "tokens": n * r,
             "loss": float(TRUTHS[truth](n, n * r) * offset * np.exp(noise * rng.normal()))}
            for n, offset in zip(sizes, offsets) for r in ratios]
    return from_rows(rows, source=f"known law ({truth}), {design} design, seed {seed}")


def at_fraction(rep, strategy: str, fraction: float):
    """The strategy's evaluation at the last round whose (active) compute is at most `fraction`."""
    chosen = None
    for r in rep.rounds:
        if r.evaluations["active"].fraction <= fraction + 1e-12:
            chosen = r.evaluations[strategy]
    return chosen


def designs_of(reps) -> list[str]:
    """The designs every replay has (the oracle only in replays from after it was added)."""
    return [s for s in COMPARED if all(s in rep.rounds[0].evaluations for rep in reps)]


def print_replay(rep) -> None:
    designs = designs_of([rep])
    print(f"  seed design: {len(rep.seed_design)} runs; held out: {len(rep.heldout)}; target C "
          f"{rep.target_compute:.3g}; whole pool: error {100 * rep.full.heldout_error:.2f}%, L* width "
          f"{100 * rep.full.width_loss:.1f}%")
    print("  round  " + "  ".join(f"{s:>33}" for s in designs))
    for r in rep.rounds:
        cells = [f"{100 * e.fraction:6.2f}% {100 * e.heldout_error:6.2f}% {100 * e.width_loss:6.1f}% "
                 f"x{e.expected_vs_full:.2f}" for e in (r.evaluations[s] for s in designs)]
        print(f"  {r.round:>5}  " + "  ".join(f"{c:>33}" for c in cells))
    print("  (each: compute % of the pool, held-out error, L* interval width, expected error / the whole pool's)")
    print("  within 10% of the whole pool's error at: " + ", ".join(
        f"{s} {'never' if rep.reached(s) is None else f'{100 * rep.reached(s):.1f}%'}" for s in designs)
          + f"; the {ORACLE} expects it from {rep.oracle_within}")


def summarise(reps) -> dict:
    out = {"fractions": list(FRACTIONS), "error": {}, "width": {}, "expected": {}, "wins": {}}
    for s in designs_of(reps):
        for key, field in (("error", "heldout_error"), ("width", "width_loss"), ("expected", "expected_vs_full")):
            out[key][s] = np.array([[getattr(at_fraction(rep, s, f), field, np.nan) for rep in reps]
                                    for f in FRACTIONS])
    for b in BASELINES:
        out["wins"][b] = (out["error"]["active"] < out["error"][b]).sum(axis=1)
    return out


def replay_of(d: dict) -> Replay:
    """A Replay back from its to_dict() (a --json file of an earlier run)."""
    rounds = tuple(Round(r["round"], tuple(r["picked"]), r["gain"],
                         {s: Evaluation(**e) for s, e in r["evaluations"].items()},
                         r.get("expected_width_ratio", {})) for r in d["rounds"])
    plain = {k: v for k, v in d.items() if k in Replay.__dataclass_fields__ and k not in ("rounds", "full")}
    plain.update(seed_design=tuple(d["seed_design"]), heldout=tuple(d["heldout"]),
                 orders={s: tuple(o) for s, o in d["orders"].items()})
    return Replay(**plain, full=Evaluation(**d["full"]), rounds=rounds)


def print_summary(reps, summary) -> None:
    n = len(reps)
    designs = designs_of(reps)
    print(f"\nMean over {n} seeds (min .. max) of the held-out error, by fraction of the pool's compute:")
    print("  fraction  " + "  ".join(f"{s:>24}" for s in designs) + "   active beat " + "/".join(BASELINES))
    for i, f in enumerate(FRACTIONS):
        cells = []
        for s in designs:
            e = summary["error"][s][i]
            cells.append(f"{100 * np.nanmean(e):6.2f}% ({100 * np.nanmin(e):.2f} .. {100 * np.nanmax(e):.2f})"
                         if np.isfinite(e).any() else "-")
        wins = "/".join(str(int(summary["wins"][b][i])) for b in BASELINES)
        print(f"  {100 * f:7.0f}%  " + "  ".join(f"{c:>24}" for c in cells) + f"   {wins} of {n}")
    print("Mean L* interval width (relative), same fractions:")
    for i, f in enumerate(FRACTIONS):
        print(f"  {100 * f:7.0f}%  " + "  ".join(f"{100 * np.nanmean(summary['width'][s][i]):23.1f}%"
                                               if np.isfinite(summary['width'][s][i]).any() else f"{'-':>24}"
                                               for s in designs))
    if ORACLE in designs:
        print("Mean expected held-out error / the whole pool's (linearised at each table's whole-pool fit), same "
              "fractions:")
        for i, f in enumerate(FRACTIONS):
            print(f"  {100 * f:7.0f}%  " + "  ".join(f"{np.nanmean(summary['expected'][s][i]):24.2f}" for s in designs))
        print("  active minus each other design, paired by seed (standard error); negative: active expects less")
        for i, f in enumerate(FRACTIONS[:-1]):
            cells = []
            for b in designs[1:]:
                d = summary["expected"]["active"][i] - summary["expected"][b][i]
                d = d[np.isfinite(d)]
                lower = int((d < -1e-9).sum())
                cells.append(f"{d.mean():+6.3f} ({d.std(ddof=1) / np.sqrt(len(d)):.3f}), lower in {lower}"
                             if len(d) > 1 else "-")
            print(f"  {100 * f:7.0f}%  " + "  ".join(f"{c:>30}" for c in cells))
    print("Active minus each baseline, paired by seed: mean difference of the held-out error in percentage "
          "points (its standard error over seeds); negative: active lower")
    others = [s for s in designs if s != "active"]
    print("  fraction  " + "  ".join(f"{b:>20}" for b in others))
    for i, f in enumerate(FRACTIONS[:-1]):
        cells = []
        for b in others:
            d = 100 * (summary["error"]["active"][i] - summary["error"][b][i])
            d = d[np.isfinite(d)]
            cells.append(f"{d.mean():+6.2f} ({d.std(ddof=1) / np.sqrt(len(d)):.2f})" if len(d) > 1 else "-")
        print(f"  {100 * f:7.0f}%  " + "  ".join(f"{c:>20}" for c in cells))
    full = np.array([rep.full.heldout_error for rep in reps])
    print(f"Whole pool's error: mean {100 * full.mean():.2f}% ({100 * full.min():.2f} .. {100 * full.max():.2f})")
    for s in designs:
        reached = [rep.reached(s) for rep in reps]
        shown = ", ".join("never" if r is None else f"{100 * r:.1f}%" for r in reached)
        print(f"  {s}: within 10% of it at {shown}")
    print_narrowing(reps)


NARROWING_BINS = (0.0, 0.001, 0.01, 0.1, 1.0)  # shares of the pool's compute the picks were chosen at


def print_narrowing(reps) -> None:
    """The narrowing of L*'s and N_opt's intervals `sweep suggest` expects (its "expected after", read from
    refits with the picks added: sweep/fit/expected.py) against the realised one, pooled over the seeds' rounds, by the share of the pool's compute chosen at."""
    pooled: dict[str, list] = {}
    for rep in reps:
        for target, rows in rep.width_ratios().items():
            pooled.setdefault(target, []).extend(rows)
    if not pooled:
        return
    print("The expected narrowing of each interval ('expected after'; width after a round's picks / before) against the "
          "realised, pooled over the seeds' rounds (N_opt's width in log):")
    for target, rows in pooled.items():
        f_K, e_K, r_K = np.array(rows).T
        bins = [(f"{100 * lo:g}-{100 * hi:g}% of the pool", (f_K >= lo) & (f_K < hi))
                for lo, hi in zip(NARROWING_BINS, NARROWING_BINS[1:])] + [("any share (all rounds)", f_K >= 0)]
        for where, m in bins:
            if m.any():
                q = np.percentile(r_K[m] / e_K[m], [25, 50, 75])
                at_most = np.mean(r_K[m] <= e_K[m])
                print(f"  {target:>6}, chosen at {where}: {int(m.sum())} rounds, "
                      f"expected x {np.median(e_K[m]):.2f}, realised x {np.median(r_K[m]):.2f} (median); realised / "
                      f"expected {q[1]:.2f} ({q[0]:.2f} .. {q[2]:.2f}); realised at most the expected in {at_most:.0%}")


def print_versus(reps, others) -> None:
    """The first runs' active design minus the other runs' active design, paired by seed."""
    by_seed = {r.seed: r for r in others}
    pairs = [(r, by_seed[r.seed]) for r in reps if r.seed in by_seed]
    print(f"\nActive (first files) minus active (--versus files), paired by seed over {len(pairs)} seeds: mean "
          "difference of the held-out error in percentage points (its standard error); negative: the first lower")
    for f in FRACTIONS[:-1]:
        d = np.array([100 * (at_fraction(a, "active", f).heldout_error - at_fraction(b, "active", f).heldout_error)
                      for a, b in pairs if at_fraction(a, "active", f) and at_fraction(b, "active", f)])
        d = d[np.isfinite(d)]
        print(f"  {100 * f:7.0f}%  " + (f"{d.mean():+6.2f} ({d.std(ddof=1) / np.sqrt(len(d)):.2f}), "
                                       f"first lower in {int((d < 0).sum())} of {len(d)}" if len(d) > 1 else "-"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--resamples", type=int, default=60)
    p.add_argument("--noise", type=float, default=0.01, help="each run's own log-normal noise")
    p.add_argument("--size-noise", type=float, default=0.0,
                   help="a log-normal offset shared by every run of a size (default 0: independent runs)")
    p.add_argument("--design", choices=tuple(DESIGNS), default="wide")
    p.add_argument("--growth", type=float, default=1.0)
    p.add_argument("--count", type=int, help="at most this many runs a round (default: no cap)")
    p.add_argument("--holdout", type=int, default=1)
    p.add_argument("--truth", choices=sorted(TRUTHS), default="chinchilla",
                   help="the known law the tables are drawn from (kaplan: a form the Chinchilla fit does not contain)")
    p.add_argument("--table", help="a finished sweep folder or runs table instead of known-law tables")
    p.add_argument("--json", help="write every replay's to_dict() here")
    p.add_argument("--from-json", nargs="+", help="summarise the replays of earlier --json files (no replay run)")
    p.add_argument("--targets", default="loss,n_opt",
                   help="the criterion's targets: loss,n_opt (sweep suggest's) or heldout (the held-out runs' losses)")
    p.add_argument("--cost-exponent", type=float,
                   help="p of the criterion's score, variance removed / FLOPs^p (default: conf/fit.yaml's "
                        "suggest_cost_exponent)")
    p.add_argument("--versus", nargs="+", help="with --from-json: other runs' --json files, whose active design "
                   "is compared with the first files', paired by seed")
    args = p.parse_args()
    start = time.perf_counter()
    reps = []
    if args.from_json:
        for path in args.from_json:
            with open(path) as fh:
                reps += [replay_of(d) for d in json.load(fh)]
        print(f"{len(reps)} replays from {', '.join(args.from_json)}: seeds {sorted(r.seed for r in reps)}")
        print_summary(reps, summarise(reps))
        if args.versus:
            others = []
            for path in args.versus:
                with open(path) as fh:
                    others += [replay_of(d) for d in json.load(fh)]
            print_versus(reps, others)
        return
    if args.table:
        table = load_runs_table(args.table)
        print(f"{args.table}: {len(table)} runs")
        rep = replay(table, growth=args.growth, count=args.count, holdout=args.holdout, seed=args.first_seed,
                     resamples=args.resamples, targets=tuple(args.targets.split(",")),
                     cost_exponent=args.cost_exponent)
        print_replay(rep)
        reps.append(rep)
    else:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            table = known_law_table(seed, args.noise, args.design, args.size_noise, args.truth)
            rep = replay(table, growth=args.growth, count=args.count, holdout=args.holdout, seed=seed,
                         resamples=args.resamples, truth=TRUTHS[args.truth], targets=tuple(args.targets.split(",")),
                         cost_exponent=args.cost_exponent)
            print(f"seed {seed} ({time.perf_counter() - start:.0f} s):")
            print_replay(rep)
            reps.append(rep)
        print_summary(reps, summarise(reps))
    print(f"\n{time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([rep.to_dict() for rep in reps], fh, default=float)


if __name__ == "__main__":
    main()
