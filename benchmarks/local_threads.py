"""Wall time of CPU runs trained at once by the local launcher: the cores shared out as torch
threads (what the launcher does) against every run at all cores (what it did before), with one run
at a time as the reference.

    python benchmarks/local_threads.py [--tokens-per-param 20] [--lrs 4e-3,8e-3,1.6e-2,3.2e-2]

Trains the same grid (the demo's d32 l2 model, one run per learning rate, logger=none) three
times, each into a fresh temporary folder: `hydra.launcher.parallelism=2` with the threads split
(no OMP_NUM_THREADS in the environment: the launcher gives each run cores // 2 torch threads);
`parallelism=2` with OMP_NUM_THREADS set to the core count (the launcher keeps a user's setting,
so every run uses every core, as before the split); `parallelism=1`. Prints each one's wall
seconds, its runs' mean wall seconds (result.json), and the ratios. Record the figures, with the
machine, its load and the command, in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def usable_cores() -> int:
    """The cores this process may run on (as the launcher counts them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def prepare_data(cache: Path) -> None:
    """The demo's synthetic corpus in `cache`, once, before any variant is timed."""
    subprocess.run([sys.executable, "-m", "launch.cli", "prepare", "--config-name", "demo",
                    f"data.cache_dir={cache}"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def train_grid(out: Path, cache: Path, grid: list[str], parallelism: int, omp_threads: int | None) -> float:
    """Wall seconds of one multirun of `grid` into `out`, `parallelism` runs at once, with
    OMP_NUM_THREADS=`omp_threads` in its environment (None: not set)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    cmd = [sys.executable, "-m", "sweep.train", "-m", "--config-name", "demo", *grid, "logger=none",
           f"data.cache_dir={cache}", f"out_dir={out}", f"hydra.launcher.parallelism={parallelism}",
           "hydra.launcher.poll_s=0.2"]
    start = time.perf_counter()
    ran = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if ran.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit code {ran.returncode}):\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}")
    said = [line for line in (ran.stdout + ran.stderr).splitlines() if "at once:" in line]
    print(f"  launcher: {said[0].rsplit('] ', 1)[-1] if said else '(no line on threads)'}")
    return wall


def mean_run_seconds(out: Path) -> float:
    """The mean wall seconds of the runs of `out` (their result.json)."""
    seconds = [json.loads(p.read_text())["wall_seconds"] for p in out.glob("*/result.json")]
    return sum(seconds) / len(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens-per-param", default="20")
    parser.add_argument("--lrs", default="4e-3,8e-3,1.6e-2,3.2e-2", help="the grid's optim.lr values")
    args = parser.parse_args()
    grid = ["model.d=32", "model.l=2", f"optim.lr={args.lrs}", f"budget.tokens_per_param={args.tokens_per_param}"]
    cores = usable_cores()
    root = Path(tempfile.mkdtemp(prefix="local-threads-"))
    cache = root / "cache"
    prepare_data(cache)
    variants = [("split", 2, None), ("all cores", 2, cores), ("one at a time", 1, None)]
    print(f"machine: {platform.machine()}, {cores} usable cores, load average {os.getloadavg()[0]:.1f} at the "
          f"start; grid: {' '.join(grid)} ({len(args.lrs.split(','))} runs)")
    walls, runs = {}, {}
    for name, parallelism, omp in variants:
        print(f"{name}: parallelism={parallelism}" + (f", OMP_NUM_THREADS={omp}" if omp else ""))
        out = root / name.replace(" ", "-")
        walls[name] = train_grid(out, cache, grid, parallelism, omp)
        runs[name] = mean_run_seconds(out)
        print(f"  {walls[name]:.1f} s wall; a run's mean wall {runs[name]:.1f} s")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"all cores / split: {walls['all cores'] / walls['split']:.2f}x wall, "
          f"{runs['all cores'] / runs['split']:.2f}x per run")
    print(f"one at a time / split: {walls['one at a time'] / walls['split']:.2f}x wall")


if __name__ == "__main__":
    main()
