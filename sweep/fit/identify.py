"""What a parametric fit's data cannot pin down: identifiability flags, each a parameter, the
problem in words with its numbers, and what would fix it (README "Fitting scaling laws:
Identifiability").

Given a LawFit (sweep/fit/parametric.py), optionally its BootstrapResult (sweep/fit/law_bootstrap.py)
and the compute C at which N_opt is reported, `identifiability_flags` lists:

    design         fewer than 3 distinct model sizes (or token counts): E and that term not separable
    bound          a parameter at or near a bound: E below e_floor_fraction x the lowest loss
                   (E -> 0), an exponent below exponent_floor or above exponent_ceiling, log A or
                   log B above log_coefficient_max
    interval       a bootstrap interval of a positive quantity spanning more than max_orders
                   orders of magnitude, or reaching a bound (E's lower end 0, an exponent's below
                   exponent_floor, A's or B's above exp(log_coefficient_max))
    extrapolation  (Chinchilla, given C) N_opt, T_opt or tokens per parameter at C outside the
                   sampled range of N, T or T / N, and by what factor
    convergence    the full-data fit not converged, or fewer bootstrap resamples converged than
                   min_converged_fraction

Thresholds are conf/fit.yaml's (sweep/fit/defaults.py). A held parameter (--fix) is not flagged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sweep.fit.defaults import fit_defaults
from sweep.fit.parametric import overtraining_factor
from sweep.record import training_flops

MORE_SIZES = "more model sizes over a wider N range (larger N)"
LONGER_RUNS = "longer runs (more tokens per parameter) at several sizes"
FIX_E = "fix E with --fix E=VALUE if the irreducible loss is known (--fix E=true for a synthetic corpus)"
REMEDY = {
    "E": f"{LONGER_RUNS} and larger N, so the loss flattens towards E; or {FIX_E}",
    "alpha": f"{MORE_SIZES}; or {FIX_E}",
    "A": f"{MORE_SIZES}; or {FIX_E}",
    "beta": f"{LONGER_RUNS}; or {FIX_E}",
    "B": f"{LONGER_RUNS}; or {FIX_E}",
    "k_D": "more token-per-parameter ratios, from under- to over-trained",
    "k_N": "more token-per-parameter ratios, from under- to over-trained",
    "a": f"{MORE_SIZES} and {LONGER_RUNS}",
    "b": f"{MORE_SIZES} and {LONGER_RUNS}",
    "G": f"{MORE_SIZES} and {LONGER_RUNS}",
    "n_opt": "runs at sizes around N_opt at this compute, or report N_opt at a compute the runs reach",
    "d_opt": "runs of T_opt tokens at this compute, or report at a compute the runs reach",
    "tokens_per_param": "runs at the tokens per parameter the law prefers at this compute",
    "fit": "more runs, or a simpler law (--fix E=VALUE removes the flattest direction)",
    "compute": "runs at a larger compute near N_opt, or report N_opt at a compute the runs reach",
}
POSITIVE = ("E", "A", "B", "G", "k_D", "k_N", "n_opt", "d_opt", "tokens_per_param")


@dataclass(frozen=True)
class Flag:
    """One thing the data cannot pin down: which parameter, the problem, what would fix it."""

    parameter: str
    problem: str
    remedy: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"warning: {self.parameter}: {self.problem} (remedy: {self.remedy})"


def identifiability_flags(fit: Any, boot: Any = None, compute: float | None = None) -> list[Flag]:
    """The flags of `fit` (a LawFit), its bootstrap `boot` (a BootstrapResult, optional) and the
    compute C of its N_opt (optional; Chinchilla only); empty when the data pin everything down.
    Kaplan's form (fitted only for the held-out comparison, unbootstrapped): its convergence alone."""
    if fit.form == "kaplan":
        return _convergence_flags(fit, boot)
    flags = [*_bound_flags(fit), *_interval_flags(fit, boot), *_extrapolation_flags(fit, compute),
             *_convergence_flags(fit, boot)]
    if fit.form == "subscaling":  # there A, alpha go with the tokens and B, beta with N
        swap = {"alpha": "beta", "beta": "alpha", "A": "B", "B": "A"}
        flags = [Flag(f.parameter, f.problem, REMEDY[swap.get(f.parameter, f.parameter)]) for f in flags]
    covered = _coverage_remedy(fit)
    if covered is not None:  # more sizes and longer runs are there already: say what else leaves it loose
        flags = [Flag(f.parameter, f.problem, covered) if f.parameter in SPAN_PARAMETERS else f for f in flags]
    flags = [*_design_flags(fit), *flags]  # a span of two sizes is no coverage: more sizes, whatever it spans
    if "E" in fit.fixed:  # held already (--fix E=1.69): a remedy does not suggest holding it
        flags = [Flag(f.parameter, f.problem, _without_holding_e(f.remedy)) for f in flags]
    return [f for f in flags if f.parameter not in fit.fixed]


def _without_holding_e(remedy: str) -> str:
    """The remedy without its suggestion to hold E (FIX_E, or the convergence remedy's)."""
    return remedy.replace(f"; or {FIX_E}", "").replace(" (--fix E=VALUE removes the flattest direction)", "")


SPAN_PARAMETERS = ("E", "alpha", "A", "beta", "B", "a", "b", "G")  # what more sizes or longer runs would pin
WIDE_DECADES = 1.5  # N and tokens per parameter each spanning this many decades: a design that is wide already


def _coverage_remedy(fit: Any) -> str | None:
    """The remedy for a parameter the runs leave loose although they span WIDE_DECADES of N and of
    tokens per parameter (more sizes and longer runs, REMEDY's words, are there already); None for a
    narrower design."""
    n_R, ratio_R = np.asarray(fit.N_R, dtype=float), np.asarray(fit.tokens_R, dtype=float) / np.asarray(fit.N_R)
    n_decades, ratio_decades = (float(np.log10(v.max() / v.min())) for v in (n_R, ratio_R))
    if min(n_decades, ratio_decades) < WIDE_DECADES:
        return None
    predicted_R = np.asarray(fit.law.predict(n_R, np.asarray(fit.tokens_R, dtype=float)), dtype=float)
    rms = float(np.sqrt(np.mean(np.log(np.asarray(fit.loss_R, dtype=float) / predicted_R) ** 2)))
    return (f"the runs already span {n_decades:.1f} decades of N and tokens per parameter {ratio_R.min():.3g} .. "
            f"{ratio_R.max():.3g}, and scatter about the law by an rms {rms:.1%}: a form that fits them better "
            f"(--law compare), leaving out runs it does not describe (--min-tokens-per-param), seeds to measure the "
            f"noise; or {FIX_E}")


def one_per_parameter(flags: list[Flag]) -> list[Flag]:
    """The flags with one per parameter, in the order each first appears: a parameter flagged twice
    (E collapsed to 0 and its interval reaching 0) gets its problems joined and each distinct remedy
    once."""
    problems: dict[str, list[str]] = {}
    remedies: dict[str, list[str]] = {}
    for f in flags:
        problems.setdefault(f.parameter, []).append(f.problem)
        if f.remedy not in remedies.setdefault(f.parameter, []):
            remedies[f.parameter].append(f.remedy)
    return [Flag(name, "; and ".join(problems[name]), "; also ".join(remedies[name])) for name in problems]


def no_allocation_flag(law: Any, compute: float) -> Flag:
    """The flag of a Chinchilla law with a fitted alpha or beta at or below 0 (law.G NaN): the loss
    along C = 6 N T has no minimum."""
    falls = [f"{name} = {value:.3g} <= 0: the fitted loss does not fall with more {what}"
             for name, value, what in (("alpha", law.alpha, "parameters"), ("beta", law.beta, "tokens"))
             if not value > 0]
    return Flag("n_opt", f"N_opt, T_opt and tokens per parameter at C = {compute:.3g} are undefined: the law has no "
                         f"compute-optimal allocation ({'; '.join(falls)})",
                "check that the loss falls with N and with tokens in the runs (a loss column of another domain, "
                "data repeated for many epochs or schedules cut short can make it rise), or fit only the runs where "
                "it does")


ONE_RATIO_SPREAD = 1.5  # tokens per parameter all within this factor: one ratio (Cerebras-GPT's 19.6 .. 20.2)


def _design_flags(fit: Any) -> list[Flag]:
    """A term the design cannot separate from the floor E: fewer than 3 distinct model sizes (or token
    counts) leave E, the term's coefficient and its exponent, three parameters, to 2 values of N (T),
    so the fit lands where its start and bounds put it (2 sizes: E 0.17 and alpha 0.09 for the truth's
    1.69 and 0.34, N_opt 3.6x off, with nothing flagged). One fewer is needed per parameter held
    (--fix E=...). Chinchilla's size exponent is alpha; sub-scaling's, beta. Runs all at about one
    tokens per parameter (within ONE_RATIO_SPREAD) lie on one line T = r N: the two power laws in N
    and in T are one in N there (a known law at Cerebras-GPT's 7 sizes and 20 tokens per parameter,
    0.5% noise: no allocation in 10 of 20 seeds, N_opt a median 14x off in the rest; benchmarks/
    one_ratio.py), unless an exponent or coefficient is held."""
    size_exponent, token_exponent = ("beta", "alpha") if fit.form == "subscaling" else ("alpha", "beta")
    out = []
    for exponent, values, what in ((size_exponent, fit.N_R, "model sizes N"), (token_exponent, fit.tokens_R,
                                                                              "token counts T")):
        distinct = np.unique(np.round(np.log10(np.asarray(values, dtype=float)), 3))
        needed = 3 - sum(p in fit.fixed for p in ("E", exponent))
        if len(distinct) < needed:
            shown = ", ".join(f"{10 ** v:.3g}" for v in distinct)
            out.append(Flag(exponent, f"the runs have {len(distinct)} distinct {what} ({shown}): E, {exponent} and "
                                       f"its coefficient need at least {needed}, so their values (and N_opt) are set "
                                       f"by where the fit started, not by the runs",
                            REMEDY["alpha" if what.startswith("model") else "beta"]))
    ratio_R = np.asarray(fit.tokens_R, dtype=float) / np.asarray(fit.N_R, dtype=float)
    held = {"alpha", "beta", "A", "B"} & set(fit.fixed)
    if not held and len(ratio_R) and ratio_R.max() < ONE_RATIO_SPREAD * ratio_R.min():
        out.append(Flag("a", f"every run is at about one tokens per parameter ({ratio_R.min():.3g} .. "
                             f"{ratio_R.max():.3g}): N and T grow together, so the size and data terms (alpha, beta, "
                             "A, B), the allocation exponents a, b and N_opt are not set by the runs, however "
                             "well the law fits them", "runs at other tokens per parameter (half and twice as many, "
                             "at two sizes or more), or an IsoFLOP design"))
    return out


def _flag(parameter: str, problem: str) -> Flag:
    return Flag(parameter, problem, REMEDY[parameter])


def _bound_flags(fit: Any) -> list[Flag]:
    d = fit_defaults()
    params = fit.params()
    lowest = float(np.min(fit.loss_R))
    out = []
    if params["E"] < d.e_floor_fraction * lowest:
        out.append(_flag("E", f"E = {params['E']:.3g} has collapsed to its bound 0 (below {d.e_floor_fraction:g} x "
                              f"the lowest loss {lowest:.4g}): the runs show no floor"))
    for name in ("alpha", "beta"):
        if params[name] < d.exponent_floor:
            grows = {"alpha": "parameters", "beta": "tokens"}[name]
            where = (f"at its bound 0 (below {d.exponent_floor:g})" if params[name] >= 0
                     else f"below 0: the fitted loss rises with more {grows}")
            out.append(_flag(name, f"{name} = {params[name]:.3g} is {where}"))
        elif params[name] > d.exponent_ceiling:
            out.append(_flag(name, f"{name} = {params[name]:.3g} is implausibly steep (above {d.exponent_ceiling:g})"))
    if fit.form == "subscaling":
        out += _sigmoid_reach_flags(params, np.asarray(fit.tokens_R, dtype=float) / np.asarray(fit.N_R, dtype=float))
    for name in ("A", "B"):
        if params[name] > 0 and math.log(params[name]) > d.log_coefficient_max:
            out.append(_flag(name, f"{name} = {params[name]:.3g} runs off to infinity (log {name} = "
                                   f"{math.log(params[name]):.1f} > {d.log_coefficient_max:g})"))
    return out


def _sigmoid_reach_flags(params: dict[str, float], ratio_R: np.ndarray) -> list[Flag]:
    """Sub-scaling's R = 1 + sigmoid(k T/N) spreading less than `subscaling_min_r_spread` over the runs:
    its term is a near-constant factor that A (B) absorbs, so the runs do not pin k. Flat at 1.5 (k T/N
    small at every run) they bound k from above only, saturated at 2 from below only (CS336's
    Chinchilla-exact table: k_D = 7.9e-30 reported with nothing flagged; a table of the published law
    at 5 .. 600 tokens per parameter: k_D 0.936 for 0.0081, R_D 1.991 .. 2.000, nothing flagged)."""
    least = fit_defaults().subscaling_min_r_spread
    out = []
    for name in ("k_D", "k_N"):
        k = params[name]
        r_R = overtraining_factor(k, ratio_R)
        low, high = float(r_R.min()), float(r_R.max())
        if high - low >= least:
            continue
        if low >= 2 - least:
            why = "saturated at 2, so the runs give only a lower bound on it"
        elif high <= 1.5 + least:
            why = "flat at 1.5, so the runs give only an upper bound on it"
        else:
            why = "nearly constant, so the runs do not pin it"
        out.append(_flag(name, f"{name} = {k:.3g}: its R_{name[-1]} = 1 + sigmoid({name} T/N) is {low:.3f} .. "
                               f"{high:.3f} over the runs ({name} T/N {k * ratio_R.min():.3g} .. "
                               f"{k * ratio_R.max():.3g}), a spread under {least:g}: {why}"))
    return out


def _share(share: float) -> str:
    """A share of resamples as a percentage that is never 0% when some are (1 of 200: 0.5%)."""
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.1%}"


def _interval_flags(fit: Any, boot: Any) -> list[Flag]:
    if boot is None:
        return []
    d = fit_defaults()
    out = []
    at_bound = getattr(boot, "at_bound", {})
    for name, (lo, hi) in boot.intervals.items():
        what = f"its {boot.level:.0%} interval [{lo:.3g}, {hi:.3g}]"
        share = at_bound.get(name)
        bound_words = f" ({_share(share)} of resamples at the bound)" if share else ""
        if name == "E" and lo <= 0:
            out.append(_flag(name, f"{what} reaches the bound E = 0{bound_words}: the runs cannot tell E "
                                   f"from 0"))
        elif name in ("alpha", "beta") and (lo < d.exponent_floor or hi > d.exponent_ceiling):
            below = f" ({_share(share)} of resamples below {d.exponent_floor:g})" if share else ""
            rising = (f"; below 0 in some: the loss rising with more {'parameters' if name == 'alpha' else 'tokens'}, "
                      "which the law does not describe" if lo < 0 else "")
            out.append(_flag(name, f"{what} reaches below {d.exponent_floor:g} or above "
                                   f"{d.exponent_ceiling:g}{below}{rising}"))
        elif name in ("A", "B") and share:
            out.append(_flag(name, f"{what}: {_share(share)} of resamples run off to infinity (log {name} > "
                                   f"{d.log_coefficient_max:g})"))
        elif name in POSITIVE and lo > 0 and math.isfinite(hi) and math.log10(hi / lo) > d.max_orders:
            out.append(_flag(name, f"{what} spans {math.log10(hi / lo):.1f} orders of magnitude (more than "
                                   f"{d.max_orders:g})"))
        elif name in POSITIVE and not (math.isfinite(lo) or math.isfinite(hi)):  # was "[nan, nan] is not a ..."
            out.append(_flag(name, f"no {boot.level:.0%} interval: no resample gave it a finite value"))
        elif name in POSITIVE and not (lo > 0 and math.isfinite(hi)):
            out.append(_flag(name, f"{what} is not a finite positive range"))
    return out


def _extrapolation_flags(fit: Any, compute: float | None) -> list[Flag]:
    law = fit.law
    if compute is None or not hasattr(law, "n_opt"):
        return []
    if not math.isfinite(law.G):
        return [no_allocation_flag(law, compute)]
    out = []
    checks = (("n_opt", "N_opt", float(law.n_opt(compute)), fit.N_R, "sampled N"),
              ("d_opt", "T_opt", float(law.d_opt(compute)), fit.tokens_R, "sampled tokens"),
              ("tokens_per_param", "T_opt / N_opt", float(law.tokens_per_param(compute)),
               fit.tokens_R / fit.N_R, "sampled tokens per parameter"))
    for name, label, value, sampled_R, what in checks:
        lo, hi = float(np.min(sampled_R)), float(np.max(sampled_R))
        if not (math.isfinite(value) and value > 0):
            out.append(_flag(name, f"{label} at C = {compute:.3g} is {value:.3g}: no allocation"))
        elif value > hi:
            out.append(_flag(name, f"{label} = {value:.3g} at C = {compute:.3g} is {value / hi:.3g}x the largest "
                                   f"{what} ({hi:.3g}): an extrapolation"))
        elif value < lo:
            out.append(_flag(name, f"{label} = {value:.3g} at C = {compute:.3g} is {lo / value:.3g}x below the "
                                   f"smallest {what} ({lo:.3g}): an extrapolation"))
    largest = float(np.max(training_flops(fit.N_R, fit.tokens_R)))
    if not out and compute > fit_defaults().compute_extrapolation * largest:
        # each of N_opt, T_opt inside its sampled range, but no run near both: CS336's IsoFLOP table at 1e23
        out.append(_flag("compute", f"C = {compute:.3g} is {compute / largest:.3g}x the largest run's 6 N T "
                                    f"({largest:.3g}): N_opt, T_opt and the loss there are an extrapolation, though "
                                    "each lies inside the runs' ranges"))
    return out


def _convergence_flags(fit: Any, boot: Any) -> list[Flag]:
    out = []
    if not fit.converged:
        out.append(_flag("fit", f"the best start did not converge ({fit.reason} after {fit.n_iter} iterations)"))
    minimum = fit_defaults().min_converged_fraction
    if boot is not None and boot.converged_fraction < minimum:
        out.append(_flag("fit", f"only {boot.converged_fraction:.0%} of {boot.n_resamples} bootstrap resamples "
                                f"converged (below {minimum:.0%}): the intervals are rough"))
    return out
