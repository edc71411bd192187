"""Figures of a finished sweep: final eval loss against N and against training FLOPs."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402

from sweep.record import COMPLETE  # noqa: E402


def plot_loss_vs_size(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> int:
    """Two panels (loss vs N, loss vs FLOPs), one series per learning rate, complete runs only.
    Returns the number of runs plotted."""
    done = [r for r in rows if r.get("status") == COMPLETE and r.get("final_eval_loss") is not None]
    series: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for row in done:
        series[row["lr"]].append(row)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, label in ((axes[0], "n_params", "parameters N"), (axes[1], "flops", "training FLOPs (6 N T)")):
        for lr, runs in sorted(series.items()):
            runs = sorted(runs, key=lambda r: r[key])
            ax.plot([r[key] for r in runs], [r["final_eval_loss"] for r in runs], "o-", label=f"lr {lr:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.set_xlabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("final held-out loss (nats/token)")
    axes[1].legend(title=f"{len(done)} complete runs", fontsize=8)
    fig.suptitle("Final loss against model size and compute")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return len(done)
