"""`sweep fit --law NAME`: each law fitted on a runs table, as one JSON-able dict.

    chinchilla   Approach 3: E, A, B, alpha, beta, a, b, G, N_opt / T_opt (d_opt) / tokens per
                 parameter at `compute`, convergence; with bootstrap > 0, percentile intervals
    subscaling   the sub-optimal law of README "The science: Sub-scaling and data density", the same robust way
    compare      Chinchilla's, the sub-scaling and Kaplan's laws fitted below a cutoff (N or C, C the
                 table's flops column where given, else 6 N T), their errors on the runs above it, each
                 run's predictions (per_run)
    isoflop      Approach 2: parabolas per compute budget (around its best size), N_opt and T_opt
                 power laws of C; with bootstrap > 0, percentile intervals of a, b, N_opt, T_opt
    envelope     Approach 1: the lower envelope of every run's loss-vs-FLOPs curve
    lr, batch    optimal learning rate / batch size per budget (by="flops"), per model size
                 (by="n_params") or per (N, tokens) cell (by="cell"), power laws of it (DeepSeek's,
                 in C or N) and Step Law's joint form over the cells (`step_law`: lr_opt = c N^a D^b,
                 B_opt = c D^b; by="cell" requires it), near-optimal band
    crossover    a law per recipe (the runs' `recipe` label), where their optimal losses cross:
                 every pair of recipes (`pairs`), which recipe is lowest where (`lowest`)

The parametric laws (chinchilla, subscaling, compare, crossover) are fitted to one point per
(recipe, N, T), the best setting there, its seeds averaged (sweep/fit/points.py); the others read every run. A table of
several recipes is fitted one recipe at a time (`recipe`), or each recipe side by side
(recipe="all": {"recipes": {name: result}}), except by crossover, which takes every recipe.
`min_tokens_per_param` leaves out runs with tokens / N below it from every law (counted in
`excluded`). Where the chinchilla / subscaling (and compare's) points come from lr (or batch-size) grids of 3 or
more values that leave the optimum open in a quarter of the cells or more (sweep/fit/hyperparams.py
`grid_upper_bounds`), `untuned_points` counts them: those points are upper bounds on the tuned
loss. Runs stopped early are no point of any law (counted in `excluded` as stopped_early)
but those of lr and batch, whose U-curves take them with their predicted final loss (`predicted`:
how many; `excluded` then counts only the stopped runs without a prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.curves import Curves
from sweep.fit.defaults import fit_defaults
from sweep.fit.law_comparison import check_cutoff
from sweep.fit.points import law_scatter, loss_rises, noise_to_dict, point_table, seed_spread
from sweep.fit.table import RunsTable, validate
from sweep.jsonable import jsonable

LAWS = ("chinchilla", "subscaling", "compare", "isoflop", "envelope", "lr", "batch", "crossover")


def fit_to_dict(fit: Any, boot: Any = None, compute: float | None = None) -> dict[str, Any]:
    """A LawFit's parameters, convergence, the parameters held (--fix) and its identifiability
    flags (sweep/fit/identify.py: from the fit, its bootstrap `boot` and the compute of N_opt
    where given; an empty list when the data pin everything down)."""
    from sweep.fit.identify import identifiability_flags

    out: dict[str, Any] = {"form": fit.form, **fit.params()}
    law = fit.law
    if hasattr(law, "a"):
        out.update(a=law.a, b=law.b, G=law.G)
    out.update(converged=fit.converged, reason=fit.reason, n_iter=fit.n_iter, n_points=fit.n_runs,
               n_starts=fit.n_starts, n_converged_starts=fit.n_converged_starts, objective=fit.objective,
               fixed=dict(fit.fixed),
               identifiability=[f.to_dict() for f in identifiability_flags(fit, boot, compute)])
    return out


def bootstrap_to_dict(boot: Any) -> dict[str, Any]:
    """A BootstrapResult's intervals, the fraction of resamples at each bound, and the flags of its
    fit with the intervals (sweep/fit/identify.py)."""
    from sweep.fit.identify import identifiability_flags

    return {"n_resamples": boot.n_resamples, "method": boot.method, "level": boot.level, "seed": boot.seed,
            "converged_fraction": boot.converged_fraction, "n_starts_per_resample": boot.n_starts_per_resample,
            "intervals": {k: list(v) for k, v in boot.intervals.items()}, "at_bound": dict(boot.at_bound),
            "identifiability": [f.to_dict() for f in identifiability_flags(boot.fit, boot, boot.compute)]}


def truth_to_dict(table: RunsTable, boot: Any = None) -> dict[str, Any]:
    """The runs' true entropy (data=synthetic) beside E: `true_entropy_nats` and, with a bootstrap,
    whether E's interval contains it; {} when the runs carry none (or disagree)."""
    try:
        truth = table.true_entropy()
    except ConfigError:
        return {}
    if truth is None:
        return {}
    inside = None if boot is None else bool(boot.intervals["E"][0] <= truth <= boot.intervals["E"][1])
    return {"true_entropy_nats": truth, "E_interval_contains_truth": inside}


def comparison_to_dict(cmp: Any) -> dict[str, Any]:
    """The held-out errors, the fits, and `per_run`: every run (held_out true or false) with each
    law's prediction, relative and log error."""
    return {"by": cmp.by, "cutoff": cmp.cutoff, "n_train": cmp.n_train, "n_held_out": cmp.n_held_out,
            "best": cmp.best, "best_is_clear": cmp.best_is_clear, "verdict": cmp.verdict(), "misses": cmp.misses(), "held_out_errors": {name: vars(e) for name, e in cmp.errors.items()},
            "per_run": cmp.per_run(include_train=True),
            "fits": {name: fit_to_dict(f) for name, f in cmp.fits.items()}}


def crossover_to_dict(r: Any) -> dict[str, Any]:
    """One pair of recipes (a CrossoverResult)."""
    return {"recipes": list(r.recipes), "summary": r.summary(), "compute_range": list(r.compute_range),
            "crosses": r.crosses, "supported": r.supported,
            "lower_beyond_noise": list(r.lower_beyond_noise) if r.lower_beyond_noise is not None else None,
            "crossings": [vars(c) for c in r.crossings], "winner": r.winner,
            "n_resamples": r.n_resamples, "level": r.level, "cross_fraction": r.cross_fraction,
            "compute_interval": list(r.compute_interval) if r.compute_interval else None,
            "n_opt_intervals": {k: list(v) for k, v in r.n_opt_intervals.items()} if r.n_opt_intervals else None,
            "fits": {name: fit_to_dict(f) for name, f in r.fits.items()}}


def crossovers_to_dict(r: Any) -> dict[str, Any]:
    """Two or more recipes (a RecipeCrossovers): `pairs` (each pair's crossover, without its
    fits), `lowest` (which recipe has the lowest loss* where) and each recipe's fit. With exactly
    two recipes the one pair's keys (crosses, crossings, winner, ..., its summary) are also at
    the top level, as before there were pairs."""
    pairs = [{k: v for k, v in crossover_to_dict(p).items() if k != "fits"} for p in r.pairs]
    out = {"recipes": list(r.recipes), "summary": r.summary(), "compute_range": list(r.compute_range),
           "runs_compute": list(r.runs_compute) if r.runs_compute is not None else None,
           "n_resamples": r.n_resamples, "level": r.level, "lowest": [vars(s) for s in r.lowest],
           "skipped": dict(r.skipped)}
    if len(pairs) == 1:
        out.update(pairs[0])
    return {**out, "pairs": pairs, "fits": {name: fit_to_dict(f) for name, f in r.fits.items()}}


ALL_RECIPES = "all"  # recipe= value that fits every recipe side by side


@dataclass(frozen=True)
class FittedLaw:
    """One law fitted by `fit_result`. `fit` is the typed result: a LawFit (chinchilla, subscaling:
    `predict(N, T)`, `law.n_opt(C)`, ...), LawComparison (compare), IsoFlopFit (isoflop),
    EnvelopeFit (envelope), HyperparamLaw (lr, batch; `optima` holds the U-curves it came from)
    or RecipeCrossovers (crossover). `bootstrap`: chinchilla / subscaling's BootstrapResult where
    resampled. `table`: the runs it was fitted to (the parametric laws: the point of each
    (recipe, N, T), sweep/fit/points.py). `summary`: the JSON-able dict `sweep fit --json` prints."""

    law: str
    fit: Any
    table: RunsTable
    summary: dict[str, Any]
    bootstrap: Any = None
    optima: Any = None  # lr, batch: the HyperparamOptima
    curves: Curves | None = None  # envelope: the loss curves
    compute: float | None = None  # chinchilla: the C of N_opt, T_opt in `summary`

    def predict(self, n_params: Any, tokens: Any) -> Any:
        """The fitted loss at (N, T): chinchilla and subscaling; ConfigError for the other laws."""
        if not hasattr(self.fit, "predict"):
            raise ConfigError(f"a {self.law} fit predicts no loss: predict(N, T) is the chinchilla and subscaling "
                              "laws'")
        return self.fit.predict(n_params, tokens)


def fit_law(law: str, table: RunsTable, *, curves: Curves | None = None, bootstrap: int = 0,
            seed: int | None = None,
            compute: float | None = None, cutoff: float | None = None, by: str | None = None,
            level: float | None = None, recipe: str | None = None, fix: Any = None,
            min_tokens_per_param: float | None = None, bootstrap_method: str | None = None) -> dict[str, Any]:
    """Fit `law` (one of LAWS) on `table`: `fit_result`'s summary dict; ConfigError when the table
    cannot support it. recipe="all": each recipe fitted alone, {"recipes": {name: result}} (a
    recipe the law cannot be fitted to is named in "skipped" with the reason; ConfigError when
    none can)."""
    options = dict(curves=curves, bootstrap=bootstrap, seed=seed, compute=compute, cutoff=cutoff, by=by, level=level,
                   fix=fix, bootstrap_method=bootstrap_method)
    if recipe == ALL_RECIPES and law in LAWS and law != "crossover":  # crossover takes every recipe anyway
        _check_law(law, fix, bootstrap, compute)
        _check_cutoff_and_by(law, cutoff, by)
        table = validate(table.with_min_tokens_per_param(min_tokens_per_param), 1, f"--law {law}")
        labels = sorted({r for r in table.recipe if r is not None}) if table.recipe is not None else []
        return _fit_each_recipe(law, table, _head(law, table, min_tokens_per_param), labels, **options)
    return fit_result(law, table, recipe=recipe, min_tokens_per_param=min_tokens_per_param, **options).summary


def _check_law(law: str, fix: Any, bootstrap: int = 0, compute: float | None = None) -> None:
    if law not in LAWS:
        raise ConfigError(f"--law {law!r}: accepted are {', '.join(LAWS)}")
    if bootstrap != 0:  # 0: no intervals
        fit_defaults().check_resamples(bootstrap, "--bootstrap", 2, "0 (no intervals) or ")
    if compute is not None and (isinstance(compute, bool) or not isinstance(compute, (int, float))
                                or not math.isfinite(compute) or compute <= 0):
        raise ConfigError(f"--compute {compute!r}: accepted is a number of FLOPs > 0 (the C at which N_opt, T_opt "
                          "and the tokens per parameter are given)")
    if fix and law not in ("chinchilla", "subscaling"):
        raise ConfigError(f"--fix with --law {law}: parameters are held only in the chinchilla and subscaling "
                          "fits; accepted: --law chinchilla or --law subscaling")


BY_OF_LAW = {"compare": ("n_params", "flops"), "lr": ("n_params", "flops", "cell"),
             "batch": ("n_params", "flops", "cell")}  # the laws that take --by, and its values each accepts


def _check_cutoff_and_by(law: str, cutoff: float | None, by: str | None) -> None:
    """--cutoff is the held-out comparison's, --by its and the lr / batch laws': given to another law
    they were ignored without a word."""
    if cutoff is not None and law != "compare":
        raise ConfigError(f"--cutoff {cutoff:g} with --law {law}: the cutoff is --law compare's (fit below it, "
                          "predict above); give --law compare, or leave --cutoff out")
    if cutoff is not None:
        check_cutoff(cutoff)
    if by is not None and by not in BY_OF_LAW.get(law, ()):
        takes = "; ".join(f"--law {name}: {', '.join(values)}" for name, values in BY_OF_LAW.items())
        raise ConfigError(f"--by {by} with --law {law}: accepted are {takes}")


def _head(law: str, table: RunsTable, min_tokens_per_param: float | None) -> dict[str, Any]:
    head: dict[str, Any] = {"law": law, "source": table.source, "n_runs": len(table), "excluded": table.excluded}
    if table.columns_read:
        head["columns_read"] = dict(table.columns_read)
    if table.repeated_data() is not None:
        head["repeated_data"] = table.repeated_data()
    if table.copied_losses() is not None:
        head["copied_losses"] = table.copied_losses()
    if table.flops_spread() is not None:
        head["flops_spread"] = table.flops_spread()
    rising = loss_rises(table)
    if rising is not None:
        head["loss_rises"] = rising
    if min_tokens_per_param is not None:
        head["min_tokens_per_param"] = min_tokens_per_param
    return head


def fit_result(law: str, table: RunsTable, *, curves: Curves | None = None, bootstrap: int = 0,
               seed: int | None = None,
               compute: float | None = None, cutoff: float | None = None, by: str | None = None,
               level: float | None = None, recipe: str | None = None, fix: Any = None,
               min_tokens_per_param: float | None = None, bootstrap_method: str | None = None) -> FittedLaw:
    """Fit `law` (one of LAWS) on `table`, as a FittedLaw (the typed fit and its summary dict);
    ConfigError when the table cannot support it. `fix`: parameters of chinchilla / subscaling held
    at a value (sweep/fit/fixed.py: "E=1.69", "E=true"). `recipe`: the recipe whose runs are fitted
    (required when the runs have several, except by crossover, which takes every recipe; "all" is
    fit_law's). bootstrap_method: residual | case, the chinchilla / subscaling bootstrap's; seed: the
    bootstrap's (None: conf/fit.yaml's)."""
    from sweep.fit import crossover, envelope, hyperparams, isoflop, law_bootstrap, law_comparison, parametric
    from sweep.fit.fixed import fix_values

    seed = fit_defaults().seed if seed is None else seed

    _check_law(law, fix, bootstrap, compute)
    _check_cutoff_and_by(law, cutoff, by)
    table = validate(table.with_min_tokens_per_param(min_tokens_per_param), 1, f"--law {law}")
    head = _head(law, table, min_tokens_per_param)
    labels = sorted({r for r in table.recipe if r is not None}) if table.recipe is not None else []
    if recipe == ALL_RECIPES and law != "crossover":
        raise ConfigError(f"recipe={ALL_RECIPES!r}: one fit is one recipe's; fit each of {labels or 'the recipes'} "
                          "with recipe=NAME (or fit_law, whose recipe='all' gives their summaries side by side)")
    if recipe is not None and not (recipe == ALL_RECIPES and law == "crossover"):
        if recipe not in labels:
            raise ConfigError(f"--recipe {recipe!r}: the runs' recipes are {', '.join(map(repr, labels))}"
                              if labels else f"--recipe {recipe!r}: the runs have no recipe (no recipe column, or "
                              "none set): fit them without --recipe")
        table = table.of_recipe(recipe)
        head.update(recipe=recipe, n_runs=len(table))
    elif len(labels) > 1 and law != "crossover":
        column = table.columns_read.get("recipe", "recipe")
        raise ConfigError(f"the runs belong to {len(labels)} recipes (column {column!r}: {', '.join(labels)}): fit "
                          "one with --recipe NAME, each alone side by side with --recipe all, or compare them with "
                          "--law crossover")
    for label in (labels or [""]) if law == "crossover" else [None]:  # a recipe's runs of one corpus
        (table if label is None else table.of_recipe(label)).check_one_density(f"--law {law}")
    if law in ("chinchilla", "subscaling", "compare", "crossover"):
        tags = np.array([r or "" for r in table.recipe]) if table.recipe is not None else None
        if law in ("chinchilla", "subscaling", "compare"):  # compare fits both on the same points
            untuned = hyperparams.grid_upper_bounds(table)
            if untuned is not None:  # the points' hyperparameter grids leave their optimum open
                head["untuned_points"] = untuned
        spread = seed_spread(table, tags)
        n_runs, table = len(table), point_table(table, tags)
        head["n_points"] = len(table)  # the best setting of each (recipe, N, T)
        if law in ("chinchilla", "subscaling"):
            parametric.check_enough_points(n_runs, len(table), law)
    N, tokens, loss = table.n_params_R, table.tokens_R, table.loss_R
    if law in ("chinchilla", "subscaling"):
        fit = parametric.fit_law(law, N, tokens, loss, fix=fix_values(fix, table))
        rms, test = law_scatter(fit.law.predict, table, len(fit.params()) - len(fit.fixed or {}), spread)
        out = {**head, **fit_to_dict(fit), **noise_to_dict(rms, spread, test)}
        C = None
        if law == "chinchilla":
            C = float(table.flops_R.max()) if compute is None else compute
            out.update(compute=C, n_opt=float(fit.law.n_opt(C)), d_opt=float(fit.law.d_opt(C)),
                       tokens_per_param=float(fit.law.tokens_per_param(C)))
        boot = None
        if bootstrap > 0:
            boot = law_bootstrap.bootstrap(fit, n_resamples=bootstrap, level=level, seed=seed, compute=C,
                                        method=bootstrap_method)
            out["bootstrap"] = bootstrap_to_dict(boot)
        out["identifiability"] = fit_to_dict(fit, boot, C)["identifiability"]
        out.update(truth_to_dict(table, boot))
        return FittedLaw(law, fit, table, jsonable(out), bootstrap=boot, compute=C)
    if law == "compare":
        by = by or "n_params"
        if cutoff is None:  # hold out the largest size (or compute)
            values = N if by == "n_params" else table.flops_R
            cutoff = float(np.unique(values)[-1])
        cmp = law_comparison.compare_laws(N, tokens, loss, cutoff=cutoff, by=by, flops=table.flops_R,
                                      names=table.names)
        return FittedLaw(law, cmp, table, jsonable({**head, **comparison_to_dict(cmp)}))
    if law == "isoflop":
        iso = isoflop.fit_isoflop(table, n_resamples=bootstrap, level=level, seed=seed)
        return FittedLaw(law, iso, table, jsonable({**head, **iso.to_dict()}))
    if law == "envelope":
        if curves is None:
            raise ConfigError("--law envelope reads each run's loss curve (its metrics.jsonl, or its W&B history): "
                              "give a sweep folder or a W&B group, whose runs have curves; a table of final "
                              "losses has none")
        env = envelope.fit_envelope(curves)
        return FittedLaw(law, env, table, jsonable({**head, **env.to_dict()}), curves=curves)
    if law in ("lr", "batch"):
        param = "lr" if law == "lr" else "batch_size"
        by = by or "flops"  # optimum per compute budget, per model size, or per (N, tokens) cell
        table = table.with_stopped()  # the runs stopped early stand with their predicted loss
        head.update(n_runs=len(table), predicted=int(table.is_predicted().sum()), excluded=table.excluded)
        optima = hyperparams.find_optima(table, param=param, by=by)
        fit = hyperparams.fit_laws(optima)
        if by == "cell" and fit.step_law is None:  # asked for the law in N and D
            raise ConfigError(f"--law {law} --by cell: {fit.step_law_skipped}")
        return FittedLaw(law, fit, table, jsonable({**head, **fit.to_dict()}), optima=optima)
    if table.recipe is None:
        raise ConfigError("--law crossover needs runs tagged with two or more recipes: train them with recipe=NAME "
                          "(or give a runs table with a recipe column)")
    tags = np.array([r if r is not None else "" for r in table.recipe])
    if (tags == "").any():
        raise ConfigError(f"--law crossover: {int((tags == '').sum())} runs have no recipe label")
    if bootstrap < 2:
        raise ConfigError(f"--law crossover: bootstrap={bootstrap}: the crossing's interval needs a bootstrap of "
                          "K >= 2 resamples (`sweep fit` takes conf/fit.yaml's unless --bootstrap K is given)")
    result = crossover.find_crossovers(N, tokens, loss, tags, n_resamples=bootstrap, level=level, seed=seed)
    return FittedLaw(law, result, table, jsonable({**head, **crossovers_to_dict(result)}))


def _fit_each_recipe(law: str, table: RunsTable, head: dict[str, Any], labels: list[str],
                     **options: Any) -> dict[str, Any]:
    """recipe="all": fit_law per recipe label, side by side."""
    if not labels:
        raise ConfigError(f"--recipe {ALL_RECIPES}: the runs table{' of ' + table.source if table.source else ''} "
                          "has no recipe labels (train with recipe=NAME or give a recipe column)")
    if law == "envelope":
        raise ConfigError(f"--recipe {ALL_RECIPES} --law envelope: the loss curves carry no recipe label; fit "
                          "one recipe's sweep folder at a time")
    unlabelled = sum(r is None for r in table.recipe)
    if options["compute"] is None:  # N_opt, T_opt of every recipe at one C: the largest run's of any
        options["compute"] = float(table.flops_R.max())
    results, skipped = {}, {}
    for name in labels:
        try:
            results[name] = fit_law(law, table, recipe=name, **options)
        except ConfigError as err:
            skipped[name] = str(err)
    if not results:
        raise ConfigError(f"--recipe {ALL_RECIPES} --law {law}: no recipe can be fitted: "
                          + "; ".join(f"{name!r}: {why}" for name, why in skipped.items()))
    out = {**head, "recipe": ALL_RECIPES, "recipes": results, "skipped": skipped}
    if unlabelled:
        out["unlabelled_runs"] = unlabelled  # left out: no recipe to fit them with
    return jsonable(out)
