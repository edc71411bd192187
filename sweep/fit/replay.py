"""Replay of an active choice of runs on a finished table: would choosing runs by the criterion
(sweep/fit/design.py) have reached the table's answer for less compute than the usual designs?

The table's runs are the pool. Its largest sizes (the `holdout` largest distinct N, every token
budget of them) are held out: the test the fits extrapolate to, never chosen. A cell is one (N,
tokens) of the pool: choosing it pays the FLOPs of every run in it (a learning-rate grid at that
size is trained whole) and the fit sees its point, as every parametric fit of the project does (its
best setting, a setting's seeds averaged: sweep/fit/points.py).

Every design starts from the same seed design: the pool's cells in order of FLOPs, cheapest first,
until they number at least the law's parameters + 2 and span 3 sizes and 2 token budgets (the
cheapest corner of the grid, where a study starts). Then

- active: each round fits the law to the cells chosen so far, bootstraps it, and adds `count`
  cells of the pool by the criterion (its default targets: L* and N_opt at the held-out runs'
  median compute, as `sweep suggest`'s; targets=("heldout",): the held-out runs' own log losses, the
  "target region" of Li et al. 2026);
- random: the remaining cells in a random order (seeded), each taken if it still fits the compute
  (a random design of that compute, as "Cost Rand" in Li et al. 2026);
- grid: the usual grid bottom-up: the sizes from the smallest, each size with all its token
  budgets (cheapest first);
- spread: the sizes spread over the whole range first (the largest and smallest, then the middle,
  then halfway between, ...), each with all its token budgets.

Each round of the active design is compared with the others at the same compute (grid and spread
take the prefix of their order whose FLOPs are nearest the active design's, random walks its order
taking each cell that still fits): the fitted law's error on the
held-out runs (mean |predicted / actual - 1|) and the width of the bootstrap interval of L* and
N_opt at the target compute. A fit that fails (too few runs) reads NaN. And `sweep suggest`'s
promise, its "expected after": each round's picks were expected to narrow the targets' intervals by
a factor (read as `sweep suggest` reads it, sweep/fit/expected.py: the round's fit redone with the
picks added at the law's loss and its scatter); Replay.narrowing sets it against the factor the next
fit's bootstrap shows.

And against what no design can expect to beat (sweep/fit/design_bound.py), linearised at the whole
pool's fit: each design's expected held-out error over the whole pool's (the noise of one table's
draw averaged out), and the oracle: the design within the active design's compute with the lowest
expected error (one that knows every run's result; it holds the seed design, and expects no more
than any of the round's other designs within that compute), fitted like the others. From which share of the
compute even the oracle can expect to be within 10% of the whole pool's error says whether a goal
like "the whole pool's error for 30% of its compute" is reachable on the table at all.

Letters: R runs, G cells (distinct (N, T) of the pool), Q bootstrap laws.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit import design
from sweep.fit.defaults import fit_defaults
from sweep.fit.design_bound import DesignBound, smallest_share_within
from sweep.fit.expected import check_draws, or_linear, refit_width_ratio, target_intervals
from sweep.fit.law_bootstrap import bootstrap, check_bootstrap_args, percentile_interval
from sweep.fit.parametric import FORMS, PROGRESS_DELAY_S, fit_law
from sweep.fit.points import point_table
from sweep.fit.table import RunsTable
from sweep.progress import progress

BASELINES = ("random", "grid", "spread")
EXACT_ERROR = 1e-6  # the whole pool's held-out error below this: the law fits the table exactly (Replay.exact)
HELDOUT = "heldout"  # targets=("heldout",): the criterion sharpens the held-out runs' predicted losses
STRATEGIES = ("active", *BASELINES)
ORACLE = "oracle"  # the design the whole pool's fit expects to err least at the round's compute
DESIGNS = (*STRATEGIES, ORACLE)


@dataclass(frozen=True)
class Cells:
    """The table's distinct (N, T): the loss of each as the parametric fits see it (its best setting,
    a setting's seeds averaged: sweep/fit/points.py), FLOPs paid for each (all its runs)."""

    n_params_G: np.ndarray
    tokens_G: np.ndarray
    loss_G: np.ndarray
    cost_G: np.ndarray
    names: tuple[str, ...]  # the name of each cell's point (its best run's, "+J-1 seeds" where averaged)

    @classmethod
    def of(cls, table: RunsTable) -> "Cells":
        keys: dict[tuple[float, float], list[int]] = {}
        for i, key in enumerate(zip(table.n_params_R.tolist(), table.tokens_R.tolist())):
            keys.setdefault(key, []).append(i)
        order = sorted(keys, key=lambda k: (k[0], k[1]))
        points = point_table(table)
        point_of = {key: p for p, key in enumerate(zip(points.n_params_R.tolist(), points.tokens_R.tolist()))}
        best = [point_of[k] for k in order]
        return cls(np.array([k[0] for k in order]), np.array([k[1] for k in order]),
                   points.loss_R[best].astype(np.float64),
                   np.array([float(table.flops_R[keys[k]].sum()) for k in order]),
                   tuple(points.names[p] for p in best))

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class Evaluation:
    """One design at one compute: its cells, compute (FLOPs and fraction of the pool's), the held-out
    error of its fit, and the relative width of L*'s interval and the factor hi / lo of N_opt's."""

    strategy: str
    n_cells: int
    compute: float
    fraction: float
    heldout_error: float
    width_loss: float
    width_n_opt: float
    expected_vs_full: float = float("nan")  # expected held-out error (linearised at the whole pool's fit) / the
    # whole pool's; NaN when the whole pool does not fit


@dataclass(frozen=True)
class Round:
    round: int
    picked: tuple[str, ...]  # the cells the active design added this round (best run's names)
    gain: float  # the criterion's expected gain of the round's picks
    evaluations: dict[str, Evaluation]
    expected_width_ratio: dict[str, float] = field(default_factory=dict)  # per target (TARGETS' names), the
    # width of its interval expected after the picks over the width before them (`sweep suggest`'s "expected
    # after" over "now", sweep/fit/expected.py); empty for the seed design, and where the picks were not the
    # criterion's


@dataclass(frozen=True)
class Narrowing:
    """How far the active design's intervals narrowed each round against what `sweep suggest` expected,
    per target, over the rounds where both can be read: the medians of the expected and the realised
    width ratio (after the round's picks over before them; N_opt's width in log, as the criterion's
    variance is of log N_opt), and the share of those rounds whose realised ratio was at most the
    expected one (about half, were the expectation unbiased)."""

    target: str
    rounds: int
    expected: float
    realised: float
    at_most_expected: float


@dataclass(frozen=True)
class Replay:
    law: str
    growth: float
    count: int | None
    seed: int
    resamples: int
    target_compute: float
    pool_flops: float
    seed_design: tuple[str, ...]
    heldout: tuple[str, ...]
    full: Evaluation  # the whole pool
    rounds: tuple[Round, ...]
    criterion: str = ""
    orders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    oracle_within: float | None = None  # the smallest share of the pool's compute (steps of 5%) from which the
    # oracle expects an error within 10% of the whole pool's; None when the whole pool does not fit

    @property
    def exact(self) -> bool:
        """The whole pool's law errs less than EXACT_ERROR on the held-out runs: a noise-free table (CS336's
        IsoFLOP runs), where every design that pins the law's parameters reaches it and none can be told
        apart from another by its error."""
        return bool(self.full.heldout_error < EXACT_ERROR)

    def reached(self, strategy: str = "active", tolerance: float = 0.1) -> float | None:
        """The smallest fraction of the pool's compute from which on (that round and every later one)
        `strategy`'s held-out error stays within `tolerance` (relative) of the whole pool's; None if
        not even its last round is."""
        goal = self.full.heldout_error * (1 + tolerance)
        fraction = None
        for r in self.rounds:
            e = r.evaluations.get(strategy)
            if e is None:
                return None
            within = bool(np.isfinite(e.heldout_error) and e.heldout_error <= goal)
            fraction = (e.fraction if fraction is None else fraction) if within else None
        return fraction

    def width_ratios(self) -> dict[str, list[tuple[float, float, float]]]:
        """Per target, for each round of the criterion's picks where both can be read: (the share of the
        pool's compute the picks were chosen at, the width ratio the criterion expected, the realised one)."""
        out: dict[str, list[tuple[float, float, float]]] = {}
        for before, after in zip(self.rounds, self.rounds[1:]):
            b, a = before.evaluations.get("active"), after.evaluations.get("active")
            if a is None or b is None:
                continue
            for target, expected in after.expected_width_ratio.items():
                realised = realised_width_ratio(target, b, a)
                if math.isfinite(expected) and math.isfinite(realised):
                    out.setdefault(target, []).append((b.fraction, expected, realised))
        return out

    def narrowing(self) -> list[Narrowing]:
        """The expected narrowing of each target's interval against the realised one (Narrowing)."""
        out = []
        for target, rows in self.width_ratios().items():
            _, e_K, r_K = np.array(rows).T
            out.append(Narrowing(target, len(rows), float(np.median(e_K)), float(np.median(r_K)),
                                 float(np.mean(r_K <= e_K))))
        return out

    def to_dict(self) -> dict:
        out = asdict(self)
        out["narrowing"] = [asdict(n) for n in self.narrowing()]
        out["reached_full_error_at"] = {s: self.reached(s) for s in DESIGNS}
        out["exact"] = self.exact
        return out


def realised_width_ratio(target: str, before: Evaluation, after: Evaluation) -> float:
    """A target's interval width after a round over before it: L*'s relative width; N_opt's log of its
    factor hi / lo (the width of log N_opt's interval); NaN where either cannot be read."""
    if target == "loss":
        b, a = before.width_loss, after.width_loss
    else:
        b, a = (math.log(w) if w > 0 and math.isfinite(w) else math.nan
                for w in (before.width_n_opt, after.width_n_opt))
    return a / b if math.isfinite(a) and math.isfinite(b) and b > 0 else math.nan


def heldout_mask(cells: Cells, holdout: int) -> np.ndarray:
    sizes = np.unique(cells.n_params_G)
    if len(sizes) < 4:
        raise ConfigError(f"the table has {len(sizes)} model size{'s' * (len(sizes) != 1)}: a replay needs at least 4 (3 in the pool for its "
                          "seed design, and the largest held out as the test)")
    if isinstance(holdout, bool) or not isinstance(holdout, numbers.Integral) or not 1 <= holdout < len(sizes) - 2:
        raise ConfigError(f"--holdout {holdout!r}: the table has {len(sizes)} sizes; accepted is 1 .. "
                          f"{len(sizes) - 3} (3 sizes must stay in the pool for its seed design)")
    return cells.n_params_G >= sizes[-holdout]


def seed_design(cells: Cells, pool_G: np.ndarray, n_params: int) -> list[int]:
    """The pool's cheapest cells until at least n_params + 2 of them span 3 sizes and 2 token budgets."""
    chosen: list[int] = []
    for g in np.argsort(cells.cost_G, kind="stable"):
        if not pool_G[g]:
            continue
        chosen.append(int(g))
        if (len(chosen) >= n_params + 2 and len(set(cells.n_params_G[chosen])) >= 3
                and len(set(cells.tokens_G[chosen])) >= 2):
            return chosen
    raise ConfigError(f"the pool's {int(pool_G.sum())} cells do not hold a seed design ({n_params + 2} runs over "
                      "3 sizes and 2 token budgets): replay needs a larger table")


def baseline_order(strategy: str, cells: Cells, rest: Sequence[int], rng: np.random.Generator) -> list[int]:
    rest = list(rest)
    if strategy == "random":
        return [rest[i] for i in rng.permutation(len(rest))]
    sizes = sorted(set(cells.n_params_G[rest].tolist()))
    if strategy == "grid":
        size_order = sizes
    elif strategy == "spread":
        size_order = [sizes[i] for i in _spread_order(len(sizes))]
    else:
        raise ConfigError(f"baseline {strategy!r}: accepted are {', '.join(BASELINES)}")
    return [g for n in size_order for g in sorted((g for g in rest if cells.n_params_G[g] == n),
                                                  key=lambda g: cells.cost_G[g])]


def _spread_order(n: int) -> list[int]:
    """0 .. n-1 in the order that spreads over the range first: the ends, then the middle, then the
    middles of the halves, ..."""
    if n <= 2:
        return list(range(n))[::-1]
    order, seen = [n - 1, 0], {0, n - 1}
    intervals = [(0, n - 1)]
    while intervals:
        nxt = []
        for lo, hi in intervals:
            if hi - lo < 2:
                continue
            mid = (lo + hi) // 2
            if mid not in seen:
                order.append(mid)
                seen.add(mid)
            nxt += [(lo, mid), (mid, hi)]
        intervals = nxt
    return order


class Evaluator:
    """Fits (and bootstraps) the law on a set of cells, scoring it against the held-out runs;
    results are kept per set, so a design that reaches a set another already had costs nothing."""

    def __init__(self, cells: Cells, heldout_G: np.ndarray, law: str, resamples: int, seed: int,
                 target_compute: float, pool_flops: float, level: float, truth=None):
        self.cells, self.heldout_G, self.law = cells, heldout_G, law
        h = heldout_G
        self.heldout_loss = cells.loss_G[h] if truth is None else np.asarray(
            truth(cells.n_params_G[h], cells.tokens_G[h]), dtype=np.float64)
        self.resamples, self.seed, self.level = resamples, seed, level
        self.target_compute, self.pool_flops = target_compute, pool_flops
        self._seen: dict[frozenset, tuple] = {}
        self.bound: DesignBound | None = None
        self.full_expected = float("nan")

    def linearise_at(self, pool: Sequence[int]) -> None:
        """Take the whole pool's fit as the law the designs' expected errors are linearised at."""
        fit, _ = self.fit(pool)
        if fit is None:
            return
        c = self.cells
        try:
            bound = DesignBound.at(fit.form, fit.theta_P, c.n_params_G, c.tokens_G, self.heldout_G)
        except ConfigError:
            return
        full = bound.expected_error(pool)
        if np.isfinite(full) and full > 0:
            self.bound, self.full_expected = bound, full

    def fit(self, chosen: Sequence[int]):
        key = frozenset(chosen)
        if key not in self._seen:
            c, idx = self.cells, sorted(chosen)
            try:
                fit = fit_law(self.law, c.n_params_G[idx], c.tokens_G[idx], c.loss_G[idx], show_progress=False)
                boot = bootstrap(fit, n_resamples=self.resamples, seed=self.seed, level=self.level,
                                 show_progress=False)
            except ConfigError:
                fit = boot = None
            self._seen[key] = (fit, boot)
        return self._seen[key]

    def evaluate(self, strategy: str, chosen: Sequence[int]) -> Evaluation:
        fit, boot = self.fit(chosen)
        compute = float(self.cells.cost_G[list(chosen)].sum())
        error = width_loss = width_n = float("nan")
        if fit is not None:
            h = self.heldout_G
            pred = fit.predict(self.cells.n_params_G[h], self.cells.tokens_G[h])
            error = float(np.mean(np.abs(pred / self.heldout_loss - 1)))
            log_QxT = design.target_samples(boot.laws(), self.target_compute)
            finite_Q = np.isfinite(log_QxT).all(axis=1)
            if finite_Q.sum() >= 2:
                lo, hi = percentile_interval(np.exp(log_QxT[finite_Q, 0]), self.level)
                point, _ = design.optimum_at(fit.law, self.target_compute)
                width_loss = (hi - lo) / point
                lo, hi = percentile_interval(np.exp(log_QxT[finite_Q, 1]), self.level)
                width_n = hi / lo if lo > 0 else float("inf")
        expected = float("nan") if self.bound is None else self.bound.expected_error(chosen) / self.full_expected
        return Evaluation(strategy, len(chosen), compute, compute / self.pool_flops, error, width_loss, width_n,
                          expected)


def replay(table: RunsTable, *, law: str = "chinchilla", growth: float | None = None, count: int | None = None,
           holdout: int | None = None, seed: int | None = None, resamples: int | None = None,
           level: float | None = None, max_fraction: float = 1.0, noise_floor: float | None = None,
           targets: Sequence[str] = design.TARGETS, truth=None, cost_exponent: float | None = None,
           recipe: str | None = None, show_progress: bool = True) -> Replay:
    """Replay the active choice and the baselines on `table` (module docstring); deterministic for a
    seed. Each round's budget is `growth` x the compute spent so far (1: the compute doubles each
    round), with at most `count` runs a round (None: no cap). truth: a function (N, T) -> loss (a
    known law's) that the held-out error is measured against in place of the held-out runs' losses.
    recipe: the recipe whose runs are replayed (required when the table has several: one law over two
    recipes describes neither). show_progress: a bar of the rounds (plain lines off a terminal) once the
    replay has taken PROGRESS_DELAY_S.
    growth, holdout, noise_floor, resamples, level, seed, cost_exponent None: conf/fit.yaml's (replay_growth,
    replay_holdout, suggest_noise_floor, replay_resamples, level, seed, suggest_cost_exponent)."""
    defaults = fit_defaults()
    growth = defaults.replay_growth if growth is None else growth
    holdout = defaults.replay_holdout if holdout is None else holdout
    noise_floor = defaults.suggest_noise_floor if noise_floor is None else noise_floor
    cost_exponent = design.check_cost_exponent(
        defaults.suggest_cost_exponent if cost_exponent is None else cost_exponent)
    resamples, level, seed = defaults.resolve_bootstrap(
        defaults.replay_resamples if resamples is None else resamples, level, seed)
    check_draws(defaults.suggest_expect_draws)
    check_bootstrap_args(resamples, level)  # else every fit's bootstrap fails and reads NaN, silently
    if law not in FORMS:
        raise ConfigError(f"--law {law!r}: accepted are {', '.join(FORMS)}")
    design.check_count(count)
    if isinstance(growth, bool) or not isinstance(growth, (int, float)) or not growth > 0:
        raise ConfigError(f"--growth {growth!r}: accepted is a number > 0 (each round's budget over the compute "
                          "spent so far)")
    if not 0 < max_fraction <= 1:
        raise ConfigError(f"max_fraction={max_fraction}: accepted is a fraction in (0, 1]")
    heldout_targets = tuple(targets) == (HELDOUT,)
    if not heldout_targets:
        design.check_targets(targets)
    cells = Cells.of(table.only_recipe(recipe, "a replay fits"))
    heldout_G = heldout_mask(cells, holdout)
    pool_G = ~heldout_G
    pool_flops = float(cells.cost_G[pool_G].sum())
    target_compute = float(np.median(training_flops_of(cells, heldout_G)))
    evaluator = Evaluator(cells, heldout_G, law, resamples, seed, target_compute, pool_flops, level, truth)
    start = seed_design(cells, pool_G, FORMS[law].n_params)
    pool = [int(g) for g in np.flatnonzero(pool_G)]
    rest = [g for g in pool if g not in start]
    rng = np.random.default_rng(seed)
    orders = {s: start + baseline_order(s, cells, rest, rng) for s in BASELINES}
    evaluator.linearise_at(pool)
    oracle_rng = np.random.default_rng([seed, 1])  # the oracle's search, apart from the random order

    active, rounds, criterion = list(start), [], ""
    picks, gain, expected = list(start), 0.0, {}  # this round's
    rounds_expected = expected_rounds(float(cells.cost_G[start].sum()), pool_flops, growth, max_fraction)
    with progress(rounds_expected, "sweep suggest --replay", unit="rounds", delay_s=PROGRESS_DELAY_S,
                  enabled=show_progress) as bar:
        while True:
            spent = float(cells.cost_G[active].sum())
            designs = {"active": list(active)}
            for s in BASELINES:
                same = fitting_walk if s == "random" else nearest_prefix
                designs[s] = same(orders[s], cells.cost_G, spent)
            if evaluator.bound is not None:
                designs[ORACLE] = evaluator.bound.best(cells.cost_G, pool, start, spent, oracle_rng,
                                                       starts=list(designs.values()))[0]
            evaluations = {s: evaluator.evaluate(s, chosen) for s, chosen in designs.items()}
            rounds.append(Round(len(rounds), tuple(cells.names[g] for g in picks), gain, evaluations, expected))
            left = [g for g in rest if g not in active]
            last = not left or spent / pool_flops >= max_fraction
            # the estimate is a guess: past it, one more round than done (it read 6/6, then 7/7, 8/8 at 100%)
            bar.update(done=len(rounds), total=len(rounds) if last else max(bar.total, len(rounds) + 1),
                       info=f"{spent / pool_flops:.1%} of the pool's compute")
            if last:
                break
            fit, boot = evaluator.fit(active)
            picks, gain, expected = [], 0.0, {}
            if fit is not None:
                laws = boot.laws()
                cand = [design.Candidate(float(cells.n_params_G[g]), float(cells.tokens_G[g]), float(cells.cost_G[g]))
                        for g in left]
                if heldout_targets:  # the log loss of each held-out run
                    tested = [design.Candidate(float(cells.n_params_G[g]), float(cells.tokens_G[g]))
                              for g in np.flatnonzero(heldout_G)]
                    target_QxT, names = design.candidate_samples(laws, tested), tuple(f"{HELDOUT}{i}" for i in
                                                                                       range(len(tested)))
                else:
                    target_QxT, names = design.target_samples(laws, target_compute, targets), tuple(targets)
                noise_var = design.noise_variance(fit, noise_floor)
                choice = design.choose(target_QxT, design.candidate_samples(laws, cand), cells.cost_G[left],
                                       noise_var, count=count,
                                       budget=max(growth * spent, float(cells.cost_G[left].min())), targets=names,
                                       cost_exponent=cost_exponent)
                picks, gain, criterion = [left[i] for i in choice.picked], choice.total_gain, choice.criterion
                if choice.picked and not heldout_targets:  # as `sweep suggest` says it: refits with the picks added
                    idx = sorted(active)
                    now = target_intervals(fit, target_QxT, target_compute, names, evaluator.level)
                    ratio = refit_width_ratio(law, cells.n_params_G[idx], cells.tokens_G[idx], cells.loss_G[idx],
                                              fit, now, cells.n_params_G[picks], cells.tokens_G[picks], noise_var,
                                              target_compute=target_compute, resamples=resamples, seed=seed,
                                              level=evaluator.level, draws=defaults.suggest_expect_draws)
                    expected, _ = or_linear(ratio, choice.width_ratio)
            if not picks:  # no fit, or no candidate tells anything (a noise-free table): the cheapest next,
                picks = cheapest_within(left, cells.cost_G, growth * spent)  # as many as the round's budget holds
            active += picks
    orders["active"] = list(active)
    full = evaluator.evaluate("full", pool)
    within = None if evaluator.bound is None else smallest_share_within(evaluator.bound, cells.cost_G, pool, start,
                                                                         oracle_rng)
    return Replay(law, growth, count, seed, resamples, target_compute, pool_flops,
                  tuple(cells.names[g] for g in start), tuple(cells.names[g] for g in np.flatnonzero(heldout_G)),
                  full, tuple(rounds), criterion, {s: tuple(cells.names[g] for g in o) for s, o in orders.items()},
                  within)


def expected_rounds(seed_flops: float, pool_flops: float, growth: float, max_fraction: float) -> int:
    """About how many rounds a replay plays: the seed design's, then one each time the compute spent grows
    (1 + growth)-fold, until the pool (or max_fraction of it) is spent; for the progress bar's ETA."""
    return 1 + max(1, math.ceil(math.log(max_fraction * pool_flops / seed_flops) / math.log1p(growth)))


def cheapest_within(left: Sequence[int], cost_G: np.ndarray, budget: float) -> list[int]:
    """The cheapest of `left` whose summed cost is within `budget`, at least one: a round's picks where the
    criterion sees nothing to gain (one run a round had a noise-free 72-run table take 58 rounds)."""
    picks, spent = [], 0.0
    for g in sorted(left, key=lambda g: cost_G[g]):
        if picks and spent + cost_G[g] > budget:
            break
        picks.append(g)
        spent += float(cost_G[g])
    return picks


def training_flops_of(cells: Cells, mask_G: np.ndarray) -> np.ndarray:
    return 6.0 * cells.n_params_G[mask_G] * cells.tokens_G[mask_G]


def nearest_prefix(order: Sequence[int], cost_G: np.ndarray, compute: float) -> list[int]:
    """The prefix of `order` whose total cost is nearest `compute` (the shorter on a tie)."""
    total_P = np.concatenate([[0.0], np.cumsum(cost_G[list(order)])])
    n = int(np.argmin(np.abs(total_P - compute)))
    return list(order[:n])


def fitting_walk(order: Sequence[int], cost_G: np.ndarray, compute: float) -> list[int]:
    """The cells of `order` taken one by one when they still fit within `compute` (the first
    `keep` always: the seed design)."""
    taken, left = [], compute
    for g in order:
        if cost_G[g] <= left * (1 + 1e-9):
            taken.append(g)
            left -= cost_G[g]
    return taken
