"""Figures of a finished sweep: final eval loss against N and against training FLOPs
(`sweep status --plot`), drawn onto a caller's axes or a fresh matplotlib Figure, without pyplot
and without switching the backend."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from sweep.fit.figures import new_axes, save
from sweep.record import COMPLETE, is_fit_point


# What a series of the figure may be told apart by: every swept setting but the size (d, l),
# with the label it gets in the legend.
SERIES_KEYS = {"tokens_per_param": "tokens/param", "lr": "lr", "batch_size": "batch", "weight_decay": "wd",
               "seed": "seed", "recipe": "recipe"}


def group_series(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The runs split into series by the swept settings that differ among them (token budget,
    learning rate, batch, weight decay, seed, recipe), each series labelled by its values, e.g.
    `tokens/param 5, lr 0.003`; one series `all runs` when only the size was swept."""
    varied = [key for key in SERIES_KEYS if len({r.get(key) for r in runs}) > 1]
    series: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        series[tuple(run.get(key) for key in varied)].append(run)
    labelled = {}
    for values in sorted(series, key=lambda values: tuple(map(_order, values))):
        label = ", ".join(f"{SERIES_KEYS[key]} {_value(value)}" for key, value in zip(varied, values))
        labelled[label or "all runs"] = series[values]
    return labelled


def _order(value: Any) -> tuple:
    """Numbers in increasing order, then labels (a recipe) alphabetically, then unset."""
    if value is None:
        return (2, "")
    return (1, value) if isinstance(value, str) else (0, value)


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def complete_runs(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The complete runs with a final eval loss, ladder trunks aside: the ones the figure shows."""
    return [r for r in rows if r.get("status") == COMPLETE and r.get("final_eval_loss") is not None
            and is_fit_point(r)]


def draw_loss_vs_size(rows: Sequence[dict[str, Any]], axes: Any = None) -> Figure:
    """Two panels (loss vs N, loss vs FLOPs) onto `axes` (a pair; None: a fresh Figure with a
    title), complete runs only (`complete_runs`), one series per combination of the swept settings
    other than the size (`group_series`)."""
    done = complete_runs(rows)
    series = group_series(done)
    fresh = axes is None
    fig, axes = new_axes(axes, 2, (11, 4.2), sharey=True)
    for ax, key, label in ((axes[0], "n_params", "parameters N"), (axes[1], "flops", "training FLOPs (6 N T)")):
        for name, runs in series.items():
            runs = sorted(runs, key=lambda r: r[key])
            ax.plot([r[key] for r in runs], [r["final_eval_loss"] for r in runs], "o-", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.set_xlabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("final held-out loss (nats/token)")
    if series:
        axes[1].legend(title=f"{len(done)} complete runs", fontsize=8)
    else:  # nothing complete yet: say so on the figure, not through an empty legend's warning
        axes[1].text(0.5, 0.5, "no complete runs yet", transform=axes[1].transAxes, ha="center", va="center")
    if fresh:
        fig.suptitle("Final loss against model size and compute")
    return fig


def plot_loss_vs_size(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> int:
    """`draw_loss_vs_size` saved as a PNG at `path`. Returns the number of runs plotted."""
    save(draw_loss_vs_size(rows), path, dpi=120)
    return len(complete_runs(rows))
