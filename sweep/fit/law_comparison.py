"""The held-out comparison of the parametric laws (sweep/fit/parametric.py: Chinchilla's, the
sub-scaling law and Kaplan et al.'s, as the sub-scaling paper compares them): each fitted on the runs
below a size or compute cutoff, its error on the runs at or above it (`sweep fit --law compare`,
the report's section 2).

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.parametric import COMPARED_FORMS, LawFit, fit_law, form_named, run_arrays, validate_runs
from sweep.record import training_flops

COMPARED_LAWS = tuple(COMPARED_FORMS)  # chinchilla, subscaling, kaplan
MIN_HELD_OUT_TO_RANK, Z_RANK = 3, 2.0  # a law is named the better over this many held-out runs, this clearly,
MIN_RANK_GAP = 0.1  # and with an RMS log error this much lower (relative)
MISS_FACTOR = 3.0  # a law misses the held-out runs when each is off, on one side, by this x its in-sample scatter


@dataclass(frozen=True)
class HeldOutError:
    mean_abs_rel: float  # mean |pred / loss - 1|
    rms_log: float  # sqrt(mean (log pred - log loss)^2)
    max_abs_rel: float  # max |pred / loss - 1|


@dataclass(frozen=True)
class LawComparison:
    """Each law fitted on the runs below the cutoff, judged on the runs at or above it.

    The `_R` arrays are every input run (training and held-out); `held_out_R` marks those at or
    above the cutoff, `predictions_R` is each law's prediction of every run."""

    by: str  # n_params | flops
    cutoff: float
    n_train: int
    n_held_out: int
    fits: dict[str, LawFit]
    errors: dict[str, HeldOutError]
    held_out_rows: np.ndarray  # indices into the input of the held-out runs
    predictions: dict[str, np.ndarray]  # law -> prediction of each held-out run
    names: tuple[str, ...]
    N_R: np.ndarray = field(repr=False)
    tokens_R: np.ndarray = field(repr=False)
    flops_R: np.ndarray = field(repr=False)  # C: the given flops, else 6 N T
    loss_R: np.ndarray = field(repr=False)
    held_out_R: np.ndarray = field(repr=False)
    predictions_R: dict[str, np.ndarray] = field(repr=False)

    @property
    def best(self) -> str:
        """The law with the lower RMS log error on the held-out runs."""
        return min(self.errors, key=lambda name: self.errors[name].rms_log)

    @property
    def runner_up(self) -> str:
        return sorted(self.errors, key=lambda name: self.errors[name].rms_log)[1]

    @property
    def best_is_clear(self) -> bool:
        """Whether `best` is better than the runner-up beyond the held-out runs' spread: over at least
        MIN_HELD_OUT_TO_RANK runs, its |log error| is lower on average by more than Z_RANK standard
        errors of the paired differences, and its RMS log error at least MIN_RANK_GAP below the
        runner-up's ("(Mis)Fitting Scaling Laws": 2 held-out runs, RMS 0.0083 against 0.0088, were
        called a winner; held-out runs of one size share its errors, so the paired test alone called
        0.00395 against 0.00404 clear)."""
        if self.n_held_out < MIN_HELD_OUT_TO_RANK:
            return False
        if self.errors[self.best].rms_log > (1 - MIN_RANK_GAP) * self.errors[self.runner_up].rms_log:
            return False
        held = self.held_out_rows
        diff_H = np.array([np.abs(np.log(self.predictions_R[law][held] / self.loss_R[held]))
                           for law in (self.best, self.runner_up)])
        d_H = diff_H[0] - diff_H[1]
        return bool(d_H.mean() + Z_RANK * d_H.std(ddof=1) / np.sqrt(len(d_H)) < 0)

    def verdict(self) -> str:
        """'chinchilla (RMS log error ... for subscaling, over 4 held-out run(s))' where `best_is_clear`;
        else the same with ', not clearly' and why: too few held-out runs, or a difference within their
        spread. Where every law misses every held-out run on one side (`misses`), a sentence says so."""
        best, other = self.errors[self.best], self.errors[self.runner_up]
        how = (f"RMS log error {best.rms_log:.3g} against {other.rms_log:.3g} for {self.runner_up}, over "
               f"{self.n_held_out} held-out run(s)")
        if self.best_is_clear:
            ranked = f"{self.best} ({how})"
        elif self.n_held_out < MIN_HELD_OUT_TO_RANK:
            ranked = f"{self.best}, not clearly ({how}: at least {MIN_HELD_OUT_TO_RANK} are needed to rank the laws)"
        else:
            ranked = f"{self.best}, not clearly ({how}: the difference is within their spread)"
        misses = self.misses()
        if not misses:
            return ranked
        each = "; ".join(f"{law} {m['side']}-predicts all {self.n_held_out} ({m['min_rel']:+.2%} .. "
                         f"{m['max_rel']:+.2%}; in-sample rms {m['in_sample_rms_log']:.2%})" for law, m in misses.items())
        return (f"{ranked}. No law predicts the held-out runs within {MISS_FACTOR:g}x its in-sample scatter: {each}")

    def misses(self) -> dict[str, dict]:
        """Per law, where every law misses every held-out run on one side (each run's |log error|
        above MISS_FACTOR x the law's rms log residual on the training runs): the side (over |
        under), the held-out relative errors' least and most, and that in-sample rms; {} where any
        law predicts a held-out run within that, or from both sides."""
        train_R = ~self.held_out_R
        out = {}
        for law, pred_R in self.predictions_R.items():
            log_R = np.log(pred_R / self.loss_R)
            in_sample = float(np.sqrt(np.mean(log_R[train_R] ** 2)))
            held_H = log_R[self.held_out_R]
            if not (np.all(held_H > 0) or np.all(held_H < 0)) or np.abs(held_H).min() <= MISS_FACTOR * in_sample:
                return {}
            rel_H = np.expm1(held_H)
            out[law] = {"side": "over" if held_H[0] > 0 else "under", "min_rel": float(rel_H.min()),
                        "max_rel": float(rel_H.max()), "in_sample_rms_log": in_sample}
        return out

    def per_run(self, include_train: bool = False) -> list[dict]:
        """One dict per held-out run (and each training run too with include_train), in input
        order: name, n_params, tokens, flops, loss, held_out, and per law pred_LAW,
        rel_error_LAW = pred / loss - 1 and log_error_LAW = log(pred / loss) (> 0: the law
        predicts too high)."""
        out = []
        for i in range(len(self.loss_R)):
            if not (include_train or self.held_out_R[i]):
                continue
            row = {"name": self.names[i], "n_params": float(self.N_R[i]), "tokens": float(self.tokens_R[i]),
                   "flops": float(self.flops_R[i]), "loss": float(self.loss_R[i]),
                   "held_out": bool(self.held_out_R[i])}
            for law, pred_R in self.predictions_R.items():
                ratio = float(pred_R[i] / self.loss_R[i])
                row.update({f"pred_{law}": float(pred_R[i]), f"rel_error_{law}": ratio - 1,
                            f"log_error_{law}": float(np.log(ratio))})
            out.append(row)
        return out


def held_out_error(pred_R: np.ndarray, loss_R: np.ndarray) -> HeldOutError:
    rel_R = pred_R / loss_R - 1
    return HeldOutError(mean_abs_rel=float(np.mean(np.abs(rel_R))),
                        rms_log=float(np.sqrt(np.mean(np.log(pred_R / loss_R) ** 2))),
                        max_abs_rel=float(np.max(np.abs(rel_R))))


def check_cutoff(cutoff: float) -> None:
    """ConfigError unless `cutoff` (N or C, the held-out comparison's) is a number > 0: `sweep report`
    took --cutoff -3 and said so only among the skipped analyses, after every fit."""
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float, np.number)) or not cutoff > 0:
        raise ConfigError(f"cutoff={cutoff!r}: accepted is a number > 0 (parameters or FLOPs)")


def compare_laws(N, tokens, loss, *, cutoff: float, by: str = "n_params",
                 laws: tuple[str, ...] = COMPARED_LAWS, flops=None,
                 names=None) -> LawComparison:
    """Fit each law on runs with N (by="n_params") or compute C (by="flops") below `cutoff`,
    predict the runs at or above it and report each law's held-out error and every run's
    prediction. C is `flops` where given (a runs table's flops column), else 6 N T; `names`
    labels the runs in `per_run` (default "run 0", "run 1", ...)."""
    N_R, tokens_R, loss_R = run_arrays(N, tokens, loss)
    if by not in ("n_params", "flops"):
        raise ConfigError(f"by={by!r}: accepted are 'n_params' and 'flops'")
    check_cutoff(cutoff)
    flops_R = training_flops(N_R, tokens_R) if flops is None else np.asarray(flops, dtype=np.float64)
    if flops_R.shape != N_R.shape or not (np.isfinite(flops_R) & (flops_R > 0)).all():
        raise ConfigError(f"flops: accepted is one finite number > 0 per run ({N_R.size}); got shape "
                          f"{flops_R.shape}" + ("" if flops_R.shape != N_R.shape else
                                                f", {int((~(np.isfinite(flops_R) & (flops_R > 0))).sum())} bad"))
    names = tuple(f"run {i}" for i in range(N_R.size)) if names is None else tuple(str(n) for n in names)
    if len(names) != N_R.size:
        raise ConfigError(f"names: accepted is one name per run ({N_R.size}); got {len(names)}")
    x_R = N_R if by == "n_params" else flops_R
    train_R = x_R < cutoff
    n_train, n_test = int(train_R.sum()), int((~train_R).sum())
    if n_test == 0:
        raise ConfigError(f"cutoff={cutoff:g} ({by}) leaves no run to predict: the largest run "
                          f"has {by}={x_R.max():g}; accepted is a cutoff <= that")
    forms = [form_named(name) for name in laws]
    for form in forms:
        try:
            validate_runs(N_R[train_R], tokens_R[train_R], loss_R[train_R], n_params=form.n_params,
                          law=form.name)
        except ConfigError as exc:
            raise ConfigError(f"cutoff={cutoff:g} ({by}) leaves {n_train} runs below it to fit "
                              f"on: {exc}") from None
    fits = {form.name: fit_law(form, N_R[train_R], tokens_R[train_R], loss_R[train_R]) for form in forms}
    predictions_R = {name: f.predict(N_R, tokens_R) for name, f in fits.items()}
    predictions = {name: p_R[~train_R] for name, p_R in predictions_R.items()}
    return LawComparison(
        by=by, cutoff=float(cutoff), n_train=n_train, n_held_out=n_test, fits=fits,
        errors={name: held_out_error(p_R, loss_R[~train_R]) for name, p_R in predictions.items()},
        held_out_rows=np.flatnonzero(~train_R), predictions=predictions, names=names, N_R=N_R,
        tokens_R=tokens_R, flops_R=flops_R, loss_R=loss_R, held_out_R=~train_R, predictions_R=predictions_R)
