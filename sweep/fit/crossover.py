"""Where two recipes' scaling laws cross (README "The science: Crossover between recipes").

Each recipe's runs get a Chinchilla fit (sweep.fit.parametric). The recipes are compared along
each law's own compute-optimal frontier: loss*(C) = loss(N_opt(C), T_opt(C)), the loss the
recipe reaches at compute C when N and T are split its own best way. A crossing is a compute C
where loss*_x(C) - loss*_y(C) changes sign within [C_min, C_max]; by default that range is the
runs' compute range (C = 6 N T over both recipes) widened by a factor of 10 each way
(DEFAULT_EXTEND), since the question is usually one step beyond the largest affordable run.

All crossings in range are reported, in increasing C; the bootstrap interval and the fraction
of resamples that cross are about the FIRST (lowest-C) crossing. The bootstrap resamples each
recipe's runs independently (one batched L-BFGS call per recipe), pairs resample b of one
recipe with resample b of the other, and finds that pair's first crossing.

More than two recipes (find_crossovers, crossovers_of_fits): every pair in sorted order, each
as above over one common compute range; each recipe is bootstrapped ONCE and its resamples
reused in every pair it belongs to (a recipe's resamples are independent of the others'), so
with two recipes the one pair is exactly find_crossover's result. Also which recipe has the
lowest loss*(C) along the range (`lowest`: stretches of C, their ends where the leading
pair's frontiers cross).

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here
G the points of a log-spaced grid of C, Q bootstrap resamples (pairs of resampled laws), K
recipes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.law_bootstrap import bootstrap_thetas, check_bootstrap_args, law_samples, percentile_interval
from sweep.fit.parametric import CHINCHILLA, ChinchillaLaw, LawFit, fit_chinchilla, params_times_tokens, validate_runs
from sweep.record import training_flops

DEFAULT_EXTEND = 10.0
GRID_POINTS = 513  # log-spaced C per range, searched for sign changes
BISECTIONS = 60  # then each bracket is halved this often (in log C)


@dataclass(frozen=True)
class Crossing:
    compute: float  # C where the two compute-optimal losses are equal
    loss: float  # that loss
    n_opt: dict[str, float]  # recipe -> its own law's N_opt(C)
    better_below: str  # recipe with the lower loss* just below C (the other wins above)


@dataclass(frozen=True)
class CrossoverResult:
    recipes: tuple[str, str]
    fits: dict[str, LawFit]
    compute_range: tuple[float, float]
    crossings: tuple[Crossing, ...]  # all in range, increasing C
    winner: str | None  # with no crossing: the recipe with the lower loss* throughout the range
    n_resamples: int
    level: float
    seed: int
    cross_fraction: float  # resamples whose laws cross in range
    compute_interval: tuple[float, float] | None  # of the first crossing, over those resamples
    n_opt_intervals: dict[str, tuple[float, float]] | None  # recipe -> N_opt there
    # the recipes whose loss* is lower than the other's beyond the noise somewhere in range (the level's
    # bootstrap interval of their difference excludes 0 at some C); None without resamples
    lower_beyond_noise: tuple[str, ...] | None = None

    @property
    def crosses(self) -> bool:
        return bool(self.crossings)

    @property
    def supported(self) -> bool:
        """A crossing the data support: each recipe lower than the other beyond the noise on its side
        (two recipes of one law cross somewhere in nearly every resample, within the noise)."""
        return self.crosses and (self.lower_beyond_noise is None or len(self.lower_beyond_noise) == 2)

    def _noise_text(self) -> str:
        apart = self.lower_beyond_noise or ()
        interval = f"the {self.level:.0%} bootstrap interval of the difference of their compute-optimal losses"
        if not apart:
            return f"{interval} holds 0 at every C in range: the data do not tell the two recipes apart"
        return f"only {apart[0]!r} is lower beyond the noise anywhere in range ({interval} excludes 0 only there)"

    @property
    def first(self) -> Crossing | None:
        return self.crossings[0] if self.crossings else None

    def summary(self) -> str:
        lo, hi = self.compute_range
        where = f"in C = [{lo:.3g}, {hi:.3g}] FLOPs"
        # the range searched, not an interval of the crossing (compute_interval is that)
        spread = (f"{self.cross_fraction:.0%} of {self.n_resamples} bootstrap resamples cross somewhere in the "
                  f"search range C = [{lo:.3g}, {hi:.3g}] FLOPs")
        if not self.crossings:
            text = f"no crossing {where}: {self.winner!r} has the lower compute-optimal loss throughout ({spread})"
            if self.lower_beyond_noise is not None and self.winner not in self.lower_beyond_noise:
                text += f"; but not beyond the noise: {self._noise_text()}"
            return text
        first = self.crossings[0]
        if not self.supported:
            return (f"no crossing the data support {where}: the fitted frontiers cross at C = "
                    + ", ".join(f"{c.compute:.3g}" for c in self.crossings) + f" FLOPs, but {self._noise_text()}; "
                    f"{spread}")
        other = self.recipes[1] if first.better_below == self.recipes[0] else self.recipes[0]
        n_opt = ", ".join(f"{n:.3g} for {r!r}" for r, n in first.n_opt.items())
        text = (f"{first.better_below!r} has the lower compute-optimal loss below "
                f"C = {first.compute:.3g} FLOPs (N_opt {n_opt}), {other!r} above it")
        if len(self.crossings) > 1:
            text += f"; {len(self.crossings) - 1} more crossing(s) at C = " + ", ".join(
                f"{c.compute:.3g}" for c in self.crossings[1:])
        if self.compute_interval is not None:
            ci_lo, ci_hi = self.compute_interval
            text += (f"; {self.level:.0%} bootstrap interval C = [{ci_lo:.3g}, {ci_hi:.3g}]")
        text += f"; {spread}"
        if self.cross_fraction < 0.5:
            text += ": the data cannot place the crossing"
        return text


@dataclass(frozen=True)
class Lowest:
    """A stretch of compute where one recipe has the lowest compute-optimal loss."""

    recipe: str
    compute_from: float
    compute_to: float


@dataclass(frozen=True)
class RecipeCrossovers:
    """Two or more recipes: every pair's CrossoverResult (pairs in the recipes' order, x before
    y) over one compute range, and which recipe is lowest where."""

    recipes: tuple[str, ...]
    fits: dict[str, LawFit]
    compute_range: tuple[float, float]
    pairs: tuple[CrossoverResult, ...]
    lowest: tuple[Lowest, ...]  # in increasing C, covering compute_range
    n_resamples: int
    level: float
    seed: int
    runs_compute: tuple[float, float] | None = None  # the least and most compute of the recipes' runs
    skipped: dict[str, str] = field(default_factory=dict)  # recipe -> why it could not be fitted (left out)

    def pair(self, x: str, y: str) -> CrossoverResult:
        """The pair of recipes x and y (either order)."""
        return next(p for p in self.pairs if set(p.recipes) == {x, y})

    def summary(self) -> str:
        lo, hi = self.compute_range
        stretches = ", ".join(f"{s.recipe!r} for C in [{s.compute_from:.3g}, {s.compute_to:.3g}]"
                              for s in self.lowest)
        crossing = [p for p in self.pairs if p.supported]
        within = sum(p.crosses and not p.supported for p in self.pairs)
        runs = (f" (the runs: [{self.runs_compute[0]:.3g}, {self.runs_compute[1]:.3g}])"
                if self.runs_compute is not None else "")
        text = (f"lowest compute-optimal loss in C = [{lo:.3g}, {hi:.3g}] FLOPs{runs}: {stretches}; "
                f"{len(crossing)} of {len(self.pairs)} pairs cross in range"
                + (f" beyond the noise ({within} more within it)" if within else ""))
        if crossing:
            text += " (" + "; ".join(f"{p.recipes[0]!r} / {p.recipes[1]!r} at C = "
                                     + ", ".join(f"{c.compute:.3g}" for c in p.crossings)
                                     + f", {p.cross_fraction:.0%} of resamples cross" for p in crossing) + ")"
        if self.skipped:
            text += "; left out: " + "; ".join(f"{name!r} ({why})" for name, why in self.skipped.items())
        return text

    def beyond_noise(self, recipe: str) -> list[str]:
        """The recipes `recipe` is lower than beyond the noise somewhere in range (its pairs'
        `lower_beyond_noise`; every other recipe where no resamples were drawn)."""
        return [next(r for r in p.recipes if r != recipe) for p in self.pairs
                if recipe in p.recipes and (p.lower_beyond_noise is None or recipe in p.lower_beyond_noise)]


def frontier_loss(p: dict[str, np.ndarray], C) -> np.ndarray:
    """loss*(C) = E + A / N_opt^alpha + B / T_opt^beta of Chinchilla laws given as named arrays
    (E, A, B, alpha, beta, a, b, G), elementwise with C (numpy broadcasting)."""
    x = params_times_tokens(C)
    with np.errstate(all="ignore"):  # a degenerate resample (alpha or beta ~ 0) gives NaN
        n_opt = p["G"] * x ** p["a"]
        t_opt = x ** p["b"] / p["G"]
        return p["E"] + p["A"] / n_opt ** p["alpha"] + p["B"] / t_opt ** p["beta"]


def loss_opt_QxG(params: dict[str, np.ndarray], C_G: np.ndarray) -> np.ndarray:
    """loss*(C) of Q laws (params as Q arrays) at each of G computes."""
    return frontier_loss({name: np.asarray(v)[:, None] for name, v in params.items()}, C_G)


def law_params(laws: list[ChinchillaLaw]) -> dict[str, np.ndarray]:
    """Named Q arrays of Q laws, as loss_opt_QxG wants them."""
    names = ("E", "A", "B", "alpha", "beta", "a", "b", "G")
    return {name: np.array([getattr(law, name) for law in laws]) for name in names}


def sign_changes(params_x, params_y, logC_G: np.ndarray):
    """Brackets (row, lo, hi in log C) where loss*_x - loss*_y changes sign between grid points."""
    delta_QxG = loss_opt_QxG(params_x, np.exp(logC_G)) - loss_opt_QxG(params_y, np.exp(logC_G))
    with np.errstate(invalid="ignore"):
        change_QxG = np.sign(delta_QxG[:, :-1]) * np.sign(delta_QxG[:, 1:]) < 0
    rows, cols = np.nonzero(change_QxG)
    return rows, logC_G[cols], logC_G[cols + 1], delta_QxG


def bisect(params_x, params_y, rows, lo, hi) -> np.ndarray:
    """log C of the sign change inside each bracket [lo, hi] of law pair `rows`."""
    px = {name: v[rows] for name, v in params_x.items()}
    py = {name: v[rows] for name, v in params_y.items()}

    def delta(logC):
        return frontier_loss(px, np.exp(logC)) - frontier_loss(py, np.exp(logC))

    d_lo = delta(lo)
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        d_mid = delta(mid)
        same = np.sign(d_mid) == np.sign(d_lo)
        lo, d_lo = np.where(same, mid, lo), np.where(same, d_mid, d_lo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def law_crossings(law_x: ChinchillaLaw, law_y: ChinchillaLaw,
                  compute_range: tuple[float, float]) -> list[float]:
    """Every C in compute_range where the two laws' compute-optimal losses are equal."""
    logC_G = np.linspace(*np.log(_check_range(compute_range)), GRID_POINTS)
    px, py = law_params([law_x]), law_params([law_y])
    rows, lo, hi, _ = sign_changes(px, py, logC_G)
    return sorted(np.exp(bisect(px, py, rows, lo, hi)).tolist())


def _check_range(compute_range) -> tuple[float, float]:
    try:
        lo, hi = (float(c) for c in compute_range)
    except (TypeError, ValueError):
        raise ConfigError(f"compute_range={compute_range!r}: accepted is (C_min, C_max) in "
                          f"FLOPs with 0 < C_min < C_max") from None
    if not (0 < lo < hi < np.inf):
        raise ConfigError(f"compute_range={compute_range!r}: accepted is (C_min, C_max) in "
                          f"FLOPs with 0 < C_min < C_max")
    return lo, hi


def split_recipes(N, tokens, loss, recipe, exactly: int | None = 2):
    """{recipe: (N_R, tokens_R, loss_R)} for `exactly` recipe tags (None: two or more), in
    sorted order of the tags."""
    tags_R = np.asarray(recipe).astype(str)
    arrays = [np.asarray(v) for v in (N, tokens, loss)]
    if tags_R.ndim != 1 or any(a.shape != tags_R.shape for a in arrays):
        raise ConfigError(f"recipe must tag every run: got {tags_R.shape} tags for N, tokens, loss of "
                          f"shapes {[a.shape for a in arrays]}")
    names = np.unique(tags_R)
    if (names.size < 2) if exactly is None else (names.size != exactly):
        wanted = f"exactly {exactly}" if exactly else "at least 2"
        raise ConfigError(f"a crossover compares {wanted} recipes; the runs are tagged with "
                          f"{names.size}: {', '.join(repr(n) for n in names.tolist())}")
    return {str(name): tuple(a[tags_R == name] for a in arrays) for name in names}


def find_crossover(N, tokens, loss, recipe, *, compute_range: tuple[float, float] | None = None,
                   extend: float = DEFAULT_EXTEND, n_resamples: int | None = None,
                   level: float | None = None, seed: int | None = None) -> CrossoverResult:
    """Fit a Chinchilla law per recipe (runs tagged by `recipe`, two distinct tags) and find
    where their compute-optimal losses cross in compute_range (default: the runs' range of
    C = 6 N T widened `extend` x each way), with a bootstrap interval for the first crossing
    (n_resamples, level, seed None: conf/fit.yaml's)."""
    fits, _ = fit_recipes(N, tokens, loss, recipe, 2, compute_range, extend, n_resamples, level)
    return crossover_of_fits(fits, compute_range=compute_range, extend=extend,
                             n_resamples=n_resamples, level=level, seed=seed)


def find_crossovers(N, tokens, loss, recipe, *, compute_range: tuple[float, float] | None = None,
                    extend: float = DEFAULT_EXTEND, n_resamples: int | None = None,
                    level: float | None = None, seed: int | None = None) -> RecipeCrossovers:
    """find_crossover for two or more recipes: a Chinchilla law per recipe, every pair's
    crossings (sorted pairs), which recipe is lowest where; a recipe too few runs to fit is left
    out (`skipped`) while two remain."""
    fits, skipped = fit_recipes(N, tokens, loss, recipe, None, compute_range, extend, n_resamples, level)
    return replace(crossovers_of_fits(fits, compute_range=compute_range, extend=extend,
                                      n_resamples=n_resamples, level=level, seed=seed), skipped=skipped)


def fit_recipes(N, tokens, loss, recipe, exactly, compute_range, extend, n_resamples,
                level) -> tuple[dict[str, LawFit], dict[str, str]]:
    """({recipe: Chinchilla fit}, {recipe left out: why}), every argument checked and every
    recipe's runs validated before any is fitted; one with too few runs is left out by
    `recipes_kept`'s rule."""
    n_resamples, level, _ = fit_defaults().resolve_bootstrap(n_resamples, level, None)
    check_bootstrap_args(n_resamples, level)
    _check_extend(extend)
    if compute_range is not None:
        _check_range(compute_range)
    runs = split_recipes(N, tokens, loss, recipe, exactly)
    skipped = {}
    for name, (n_R, tokens_R, loss_R) in runs.items():
        try:
            validate_runs(n_R, tokens_R, loss_R, n_params=CHINCHILLA.n_params, law="chinchilla")
        except ConfigError as exc:
            skipped[name] = str(exc)
    return {name: fit_chinchilla(*runs[name]) for name in recipes_kept(list(runs), skipped, exactly)}, skipped


def recipes_kept(names: list[str], unfit: dict[str, str], exactly: int | None = None) -> list[str]:
    """The recipes of `names` a crossover compares: those not in `unfit` (recipe -> why it cannot be
    fitted). Of two or more recipes (`exactly` None) one that cannot be fitted is left out while 2
    remain (a third recipe of one run stopped the whole comparison); of exactly two, or with fewer
    than 2 left, ConfigError naming the first one left out and why."""
    kept = [name for name in names if name not in unfit]
    if unfit and (exactly is not None or len(kept) < 2):
        name, why = next(iter(unfit.items()))
        raise ConfigError(f"recipe {name!r}: {why}")
    return kept


def crossover_of_fits(fits: dict[str, LawFit], *,
                      compute_range: tuple[float, float] | None = None,
                      extend: float = DEFAULT_EXTEND, n_resamples: int | None = None,
                      level: float | None = None, seed: int | None = None) -> CrossoverResult:
    """find_crossover from two Chinchilla fits already made ({recipe: fit}, in that order)."""
    if len(fits) != 2:
        raise ConfigError(f"a crossover compares 2 Chinchilla fits, got "
                          f"{ {name: f.form for name, f in fits.items()} }")
    (result,) = crossovers_of_fits(fits, compute_range=compute_range, extend=extend,
                                   n_resamples=n_resamples, level=level, seed=seed).pairs
    return result


def crossovers_of_fits(fits: dict[str, LawFit], *,
                       compute_range: tuple[float, float] | None = None,
                       extend: float = DEFAULT_EXTEND, n_resamples: int | None = None,
                       level: float | None = None, seed: int | None = None) -> RecipeCrossovers:
    """Every pair of two or more Chinchilla fits ({recipe: fit}; pairs in that order), over one
    compute range (default: all recipes' runs, widened `extend` x each way); each recipe is
    bootstrapped once (its own stream of the seed) and reused in every pair."""
    n_resamples, level, seed = fit_defaults().resolve_bootstrap(n_resamples, level, seed)
    check_bootstrap_args(n_resamples, level)
    _check_extend(extend)
    if len(fits) < 2 or any(f.form != "chinchilla" for f in fits.values()):
        raise ConfigError(f"a crossover compares 2 or more Chinchilla fits, got "
                          f"{ {name: f.form for name, f in fits.items()} }")
    if compute_range is None:
        C_R = np.concatenate([training_flops(f.N_R, f.tokens_R) for f in fits.values()])
        compute_range = (C_R.min() / extend, C_R.max() * extend)
    lo, hi = _check_range(compute_range)
    logC_G = np.linspace(np.log(lo), np.log(hi), GRID_POINTS)
    laws = {name: f.law for name, f in fits.items()}
    for name, law in laws.items():
        if not np.all(np.isfinite(law.loss_opt(np.exp(logC_G)))):
            raise ConfigError(f"recipe {name!r}: its fitted law (alpha={law.alpha:.3g}, "
                              f"beta={law.beta:.3g}) has no compute-optimal frontier in "
                              f"C = [{lo:.3g}, {hi:.3g}]; accepted are fits with alpha, beta > 0")
    rngs = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(fits)))
    samples = {name: law_samples("chinchilla", bootstrap_thetas(fit, n_resamples, rng)[0])
               for (name, fit), rng in zip(fits.items(), rngs)}
    names = list(fits)
    pairs = tuple(pair_crossover({x: fits[x], y: fits[y]}, samples[x], samples[y], (lo, hi),
                                 n_resamples, level, seed)
                  for i, x in enumerate(names) for y in names[i + 1:])
    C_R = np.concatenate([training_flops(f.N_R, f.tokens_R) for f in fits.values()])
    return RecipeCrossovers(recipes=tuple(names), fits=dict(fits), compute_range=(lo, hi), pairs=pairs,
                            lowest=lowest_stretches(laws, (lo, hi)), n_resamples=n_resamples,
                            level=level, seed=seed, runs_compute=(float(C_R.min()), float(C_R.max())))


def pair_crossover(pair: dict[str, LawFit], samples_x: dict, samples_y: dict,
                   compute_range: tuple[float, float], n_resamples: int, level: float,
                   seed: int) -> CrossoverResult:
    """The crossings of two fits ({x: fit, y: fit}) in compute_range, with the first crossing's
    bootstrap interval from the recipes' resampled laws (law_samples of each)."""
    x, y = pair
    logC_G = np.linspace(*np.log(compute_range), GRID_POINTS)
    laws = {name: f.law for name, f in pair.items()}
    px, py = law_params([laws[x]]), law_params([laws[y]])
    rows, b_lo, b_hi, delta_1xG = sign_changes(px, py, logC_G)
    crossings = tuple(crossing(laws, x, y, float(np.exp(c)))
                      for c in sorted(bisect(px, py, rows, b_lo, b_hi)))
    winner = None if crossings else (x if delta_1xG[0, GRID_POINTS // 2] < 0 else y)
    first_Q, delta_QxG = first_crossings(samples_x, samples_y, logC_G)
    crossed_Q = np.isfinite(first_Q)
    lower_beyond_noise = None
    if first_Q.size:
        with np.errstate(invalid="ignore"):
            tail = 50.0 * (1.0 - level)
            lo_G, hi_G = np.nanpercentile(delta_QxG, [tail, 100.0 - tail], axis=0)
        lower_beyond_noise = tuple(r for r, beyond_G in ((x, hi_G < 0), (y, lo_G > 0)) if beyond_G.any())
    compute_interval = n_opt_intervals = None
    if crossed_Q.any():
        C_Q = first_Q[crossed_Q]
        compute_interval = percentile_interval(C_Q, level)
        n_opt_intervals = {name: percentile_interval(s["G"][crossed_Q] * params_times_tokens(C_Q)
                                                     ** s["a"][crossed_Q], level)
                           for name, s in ((x, samples_x), (y, samples_y))}
    return CrossoverResult(
        recipes=(x, y), fits=dict(pair), compute_range=compute_range, crossings=crossings, winner=winner, n_resamples=n_resamples, level=level, seed=seed,
        cross_fraction=float(crossed_Q.mean()), compute_interval=compute_interval,
        n_opt_intervals=n_opt_intervals, lower_beyond_noise=lower_beyond_noise)


def lowest_stretches(laws: dict[str, ChinchillaLaw],
                     compute_range: tuple[float, float]) -> tuple[Lowest, ...]:
    """The stretches of compute_range where each recipe has the lowest loss*(C), in increasing
    C (found on a log grid of C); each end inside the range is bisected where the two leading
    frontiers cross."""
    names = list(laws)
    logC_G = np.linspace(*np.log(compute_range), GRID_POINTS)
    loss_KxG = np.stack([law.loss_opt(np.exp(logC_G)) for law in laws.values()])
    best_G = np.argmin(loss_KxG, axis=0)
    ends = [float(compute_range[0])]
    for g in np.flatnonzero(best_G[:-1] != best_G[1:]):
        px, py = law_params([laws[names[best_G[g]]]]), law_params([laws[names[best_G[g + 1]]]])
        ends.append(float(np.exp(bisect(px, py, np.zeros(1, dtype=int), logC_G[g:g + 1],
                                        logC_G[g + 1:g + 2])[0])))
    ends.append(float(compute_range[1]))
    leaders = [best_G[0], *best_G[1:][best_G[:-1] != best_G[1:]]]
    return tuple(Lowest(recipe=names[k], compute_from=ends[i], compute_to=ends[i + 1])
                 for i, k in enumerate(leaders))


def _check_extend(extend) -> None:
    if not extend >= 1:
        raise ConfigError(f"extend={extend!r}: accepted is a factor >= 1")


def first_crossings(params_x, params_y, logC_G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C of the first crossing of each law pair q in the grid's range, NaN where none; and
    loss*_x - loss*_y of each pair at each grid point (Q x G)."""
    rows, lo, hi, delta_QxG = sign_changes(params_x, params_y, logC_G)
    first_Q = np.full(delta_QxG.shape[0], np.nan)
    if rows.size:
        rows, at = np.unique(rows, return_index=True)  # nonzero() is row-major: lowest C first
        first_Q[rows] = np.exp(bisect(params_x, params_y, rows, lo[at], hi[at]))
    return first_Q, delta_QxG


def crossing(laws: dict[str, ChinchillaLaw], x: str, y: str, C: float) -> Crossing:
    below = C * np.exp(-1e-6)
    better_below = x if laws[x].loss_opt(below) < laws[y].loss_opt(below) else y
    return Crossing(compute=C, loss=float(laws[x].loss_opt(C)),
                    n_opt={name: float(law.n_opt(C)) for name, law in laws.items()},
                    better_below=better_below)
