"""`sweep sync`: a sweep's offline W&B runs uploaded, several at once (launch/sync.py does the work)."""

from __future__ import annotations

from pathlib import Path

from launch.commands.conf_tree import conf_file
from launch.commands.printing import console


def sync(source: Path, jobs: int | None) -> int:
    """`sweep sync`: upload the sweep's offline W&B runs, `jobs` runs at once; 1 when any failed."""
    from launch.sync import sync_sweep

    defaults = conf_file("sync.yaml")
    jobs = defaults["jobs"] if jobs is None else jobs

    def progress(result, done: int, total: int) -> None:
        attempts = f" ({result.synced} attempt{'s' * (result.synced != 1)}, {result.seconds:.1f} s)" \
            if result.synced else ""
        console.print(f"[{done}/{total}] {result.label}: {result.outcome}{attempts}", highlight=False)

    summary = sync_sweep(source, jobs, on_result=progress, timeout_s=defaults["timeout_s"])
    if not summary.results:
        console.print(f"{source}: nothing to sync: no run holds an offline W&B run (wandb/offline-run-*; runs "
                      "logged online or with logger=none have none)", highlight=False)
        return 0
    console.print(f"{source}: {summary.line()} W&B runs", highlight=False)
    for result in summary.of("held"):
        console.print(f"held: {result.label} is still training; sync it when it stops", highlight=False)
    for result in summary.of("failed"):
        console.print(f"failed: {result.label}: {result.log}", highlight=False)
    return 1 if summary.of("failed") else 0

