"""How close can ANY design that spends a given share of the pool's compute come to the whole pool's
extrapolation error? A bound for issue 19's goal ("the whole pool's error with at most 30% of its
compute"), on the tables of benchmarks/active_replay.py (a known law, 1% noise).

For a design S (a set of the pool's cells), the fitted law's error on a held-out run h is, to first
order in the noise, Gaussian with variance sigma^2 g_h^T (J_S^T J_S)^-1 g_h: J_S the (S, P)
derivative of the runs' log loss with respect to the law's P = 5 parameters at the TRUE law, g_h
the held-out run's, sigma the noise. The expected held-out error of the design (mean |pred / true -
1| over the held-out runs) is then sqrt(2 / pi) x the mean of those standard deviations: what the
design would give on average over noise draws if the fit were linear. It knows the true law, so
to first order no design chosen from data can do better on average (the project's Huber fit and
its nonlinearity in small designs move the fitted errors away from this figure: read it as ratios).

For each share of the pool's compute, the design with the lowest expected error among those
within that compute (and holding the replay's seed design, which every replayed design starts from)
is searched: greedy additions, then exchanges (drop one, add one or two) until none helps, from
several starts. The designs found are then fitted (the project's `fit_law`) on the noisy
tables of seeds 0 .. S-1, and their mean held-out error compared with the whole pool's on the same
tables: whether the goal can be met at all, by a design that knew the truth. Then the replay's rule
(design.choose in doubling rounds) fed the true law's linearised ensemble instead of a bootstrap,
against the bound round by round; and, with --replays, an active_replay.py run's active design
against the bound's design of the same compute, fitted on the same seed's table.

    nice -n 5 python benchmarks/design_bound.py [--seeds 32] [--design wide|narrow] [--noise 0.01]
        [--replays active_replay_A.json ...]

Letters: G cells of the pool, P law parameters, H held-out cells.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from active_replay import DESIGNS, TRUE, at_fraction, known_law_table, replay_of
from sweep.fit import design
from sweep.fit.defaults import fit_defaults
from sweep.fit.design_bound import DesignBound, smallest_share_within
from sweep.fit.parametric import FORMS, fit_law
from sweep.fit.replay import Cells, heldout_mask, seed_design, training_flops_of

SHARES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
TRUE_THETA = np.array([np.log(TRUE.A), np.log(TRUE.B), np.log(TRUE.E), TRUE.alpha, TRUE.beta])  # Form.theta_names


def true_bound(cells: Cells, heldout_G: np.ndarray) -> DesignBound:
    """Expected errors (per unit noise) linearised at the law the tables are drawn from."""
    return DesignBound.at("chinchilla", TRUE_THETA, cells.n_params_G, cells.tokens_G, heldout_G)


def heldout_error(cells: Cells, heldout_G: np.ndarray, chosen: list[int]) -> float:
    """The chosen cells' fitted law's mean |predicted / true - 1| on the held-out runs."""
    fit = fit_law("chinchilla", cells.n_params_G[chosen], cells.tokens_G[chosen], cells.loss_G[chosen],
                  show_progress=False)
    n, t = cells.n_params_G[heldout_G], cells.tokens_G[heldout_G]
    return float(np.mean(np.abs(fit.predict(n, t) / TRUE.predict(n, t) - 1)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=32)
    p.add_argument("--design", choices=tuple(DESIGNS), default="wide")
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--holdout", type=int, default=1)
    p.add_argument("--replays", nargs="+", help="active_replay.py --json files of the same tables: their active "
                   "design's error minus the bound's designs', paired by seed")
    args = p.parse_args()
    t0 = time.perf_counter()
    cells = Cells.of(known_law_table(0, args.noise, args.design))  # the cells and costs are the same every seed
    heldout_G = heldout_mask(cells, args.holdout)
    pool = [int(g) for g in np.flatnonzero(~heldout_G)]
    pool_flops = float(cells.cost_G[pool].sum())
    start = seed_design(cells, ~heldout_G, 5)
    bound = true_bound(cells, heldout_G)  # per unit noise: x args.noise where a figure is printed
    rng = np.random.default_rng(0)
    designs = {}
    print(f"{args.design} design: a pool of {len(pool)} cells, {int(heldout_G.sum())} held out, a seed design of "
          f"{len(start)} ({100 * cells.cost_G[start].sum() / pool_flops:.2f}% of the pool's compute)")
    full_err = args.noise * bound.expected_error(pool)
    print("\nthe lowest expected held-out error (linearised at the true law) of any design within each share:")
    print(f"  {'share':>6} {'compute':>8} {'cells':>5} {'expected':>9} {'/ whole':>8}  cells by size (tokens per parameter)")
    for share in SHARES:
        if share == 1.0:
            chosen, err = pool, full_err
        else:
            chosen, err = bound.best(cells.cost_G, pool, start, share * pool_flops, rng, restarts=8)
            err *= args.noise
        designs[share] = chosen
        by_size: dict[float, list[str]] = {}
        for g in chosen:
            by_size.setdefault(cells.n_params_G[g], []).append(f"{cells.tokens_G[g] / cells.n_params_G[g]:g}")
        text = "; ".join(f"{n:.2g}: {','.join(r)}" for n, r in sorted(by_size.items()) if n >= 1e7)
        print(f"  {100 * share:5.0f}% {100 * cells.cost_G[chosen].sum() / pool_flops:7.1f}% {len(chosen):5d} "
              f"{100 * err:8.3f}% {err / full_err:8.2f}  (every cell below 1e7 not listed) {text}")
    within = smallest_share_within(bound, cells.cost_G, pool, start, rng)
    print(f"  the smallest share (in steps of 5%) from which a design can expect to be within 10% of the whole pool's "
          f"error: {100 * within:.0f}%")
    print(f"\nfitted on the noisy tables of seeds 0 .. {args.seeds - 1} (mean held-out error, min .. max; "
          "and per seed within 10% of the whole pool's):")
    err_SxD = np.array([[heldout_error(c, heldout_G, designs[s]) for s in SHARES]
                        for c in (Cells.of(known_law_table(seed, args.noise, args.design))
                                  for seed in range(args.seeds))])
    whole_S = err_SxD[:, -1]
    for j, share in enumerate(SHARES):
        e = err_SxD[:, j]
        d = 100 * (e - whole_S)
        print(f"  {100 * share:5.0f}%  {100 * e.mean():.2f}% ({100 * e.min():.2f} .. {100 * e.max():.2f}); minus the "
              f"whole pool's {d.mean():+.2f} points (SE {d.std(ddof=1) / np.sqrt(len(d)):.2f}); within 10% of it in "
              f"{int((e <= 1.1 * whole_S).sum())} of {len(e)} seeds")
    print("\nthe replay's rule given the truth (its ensemble drawn from the true law's linearisation), per round:")
    print(f"  {'compute':>8} {'expected':>9} {'the bound at that compute':>26}")
    for fraction, err in rule_given_truth(bound, cells, heldout_G, pool, start, args.noise):
        if fraction >= 0.001:
            lowest = args.noise * bound.best(cells.cost_G, pool, start, fraction * pool_flops, rng, restarts=4)[1]
            print(f"  {100 * fraction:7.2f}% {100 * err:8.2f}% {100 * lowest:25.2f}%  (x{err / lowest:.2f})")
    at_each_fit(bound, cells, heldout_G, pool, start, args)
    if args.replays:
        versus_replays(args.replays, bound, cells, heldout_G, pool, start, args)
    print(f"\n{time.perf_counter() - t0:.0f} s")


def at_each_fit(true: DesignBound, cells: Cells, heldout_G: np.ndarray, pool: list[int], start: list[int],
                args) -> None:
    """What `sweep suggest --replay` prints for the oracle, which cannot know the law: the bound
    linearised at each table's own whole-pool fit, against the bound at the true law. Per share, the
    best design's expected error over the whole pool's, both read at the seed's fit (mean, min ..
    max over seeds), and the smallest share within 10%."""
    pool_flops = float(cells.cost_G[pool].sum())
    rng = np.random.default_rng(0)
    shares = SHARES[:-1]
    ratio_SxD, within_S = [], []
    for seed in range(args.seeds):
        c = Cells.of(known_law_table(seed, args.noise, args.design))
        fit = fit_law("chinchilla", c.n_params_G[pool], c.tokens_G[pool], c.loss_G[pool], show_progress=False)
        at_fit = DesignBound.at("chinchilla", fit.theta_P, c.n_params_G, c.tokens_G, heldout_G)
        whole = at_fit.expected_error(pool)
        ratio_SxD.append([at_fit.best(c.cost_G, pool, start, s * pool_flops, rng)[1] / whole for s in shares])
        within_S.append(smallest_share_within(at_fit, c.cost_G, pool, start, rng))
    ratio_SxD = np.array(ratio_SxD)
    truth = [true.best(cells.cost_G, pool, start, s * pool_flops, rng)[1] / true.expected_error(pool) for s in shares]
    print(f"\nthe bound linearised at each table's own whole-pool fit (what `sweep suggest --replay` prints), "
          f"{args.seeds} seeds: the best design's expected error / the whole pool's, mean (min .. max), and at the "
          "true law:")
    for j, share in enumerate(shares):
        r = ratio_SxD[:, j]
        print(f"  {100 * share:5.0f}%  {r.mean():.2f} ({r.min():.2f} .. {r.max():.2f});  true law {truth[j]:.2f}")
    counts = {w: within_S.count(w) for w in sorted(set(within_S))}
    print("  the smallest share within 10% of the whole pool's expected error, at each fit: " + ", ".join(
        f"{100 * w:.0f}% ({n} seeds)" for w, n in counts.items()) + f"; at the true law "
          f"{100 * smallest_share_within(true, cells.cost_G, pool, start, rng):.0f}%")


def versus_replays(paths: list[str], bound: DesignBound, cells: Cells, heldout_G: np.ndarray, pool: list[int],
                   start: list[int], args) -> None:
    """The replays' active design (read at its last round within each share, as active_replay.py
    reads it) minus the bound's design of the same compute (the active design's, that round), both
    fitted on the same seed's table."""
    reps = [replay_of(d) for path in paths for d in json.load(open(path))]
    pool_flops = float(cells.cost_G[pool].sum())
    rng, found = np.random.default_rng(0), {}
    tables = {rep.seed: Cells.of(known_law_table(rep.seed, args.noise, args.design)) for rep in reps}
    print(f"\nthe active design of {', '.join(paths)} ({len(reps)} seeds) minus the bound's design of the same "
          "compute, paired by seed, in points (SE):")
    for share in SHARES[:-1]:
        active_S, bound_S = [], []
        for rep in reps:
            e = at_fraction(rep, "active", share)
            key = round(e.fraction, 9)
            if key not in found:
                found[key] = bound.best(cells.cost_G, pool, start, e.fraction * pool_flops, rng, restarts=4)[0]
            active_S.append(e.heldout_error)
            bound_S.append(heldout_error(tables[rep.seed], heldout_G, found[key]))
        d = 100 * (np.array(active_S) - np.array(bound_S))
        d = d[np.isfinite(d)]
        print(f"  {100 * share:5.0f}%  active {100 * np.nanmean(active_S):.2f}%, the bound's design "
              f"{100 * np.mean(bound_S):.2f}%: {d.mean():+.2f} ({d.std(ddof=1) / np.sqrt(len(d)):.2f}), active lower "
              f"in {int((d < 0).sum())} of {len(d)}")


def target_gradients(target_compute: float, step: float = 1e-4) -> np.ndarray:
    """(T, P) derivative of log L*(C) and log N_opt(C) at the true law w.r.t. the chinchilla form's
    fitting parameters (log A, log B, log E, alpha, beta), by central differences."""
    theta_P = TRUE_THETA

    def targets(t):
        return np.log(design.optimum_at(FORMS["chinchilla"].law_of(t), target_compute))

    out_TxP = np.empty((2, 5))
    for k in range(5):
        dt = np.zeros(5)
        dt[k] = step
        out_TxP[:, k] = (targets(theta_P + dt) - targets(theta_P - dt)) / (2 * step)
    return out_TxP


def rule_given_truth(bound: DesignBound, cells: Cells, heldout_G: np.ndarray, pool: list[int], start: list[int],
                     noise: float, draws: int = 4000) -> list[tuple[float, float]]:
    """The replay's rounds (a budget of replay_growth x the compute spent, design.choose's greedy per
    FLOPs^p, conf/fit.yaml's defaults, `sweep suggest`'s targets) with the criterion's ensemble drawn
    from the TRUE law's linearisation, N(0, sigma^2 (J_S^T J_S)^-1) for the design S so far, in place
    of a bootstrap of a fit: what the rule would choose if its ensemble were right. (fraction,
    expected held-out error) per round."""
    growth = fit_defaults().replay_growth
    target = float(np.median(training_flops_of(cells, heldout_G)))  # the replay's target compute
    g_TxP = target_gradients(target)
    pool_flops = float(cells.cost_G[pool].sum())
    rng = np.random.default_rng(0)
    chosen, out = list(start), []
    while True:
        spent = float(cells.cost_G[chosen].sum())
        out.append((spent / pool_flops, noise * bound.expected_error(chosen)))
        left = [g for g in pool if g not in chosen]
        if not left:
            return out
        J_SxP = bound.J_GxP[chosen]
        cov_PxP = noise ** 2 * np.linalg.inv(J_SxP.T @ J_SxP + 1e-12 * np.eye(J_SxP.shape[1]))
        delta_QxP = rng.multivariate_normal(np.zeros(len(cov_PxP)), cov_PxP, size=draws)
        choice = design.choose(delta_QxP @ g_TxP.T, delta_QxP @ bound.J_GxP[left].T, cells.cost_G[left],
                               noise ** 2, budget=max(growth * spent, float(cells.cost_G[left].min())))
        chosen += [left[i] for i in choice.picked] or [min(left, key=lambda g: cells.cost_G[g])]


if __name__ == "__main__":
    main()
