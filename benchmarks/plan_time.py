"""Time to plan a 400-point grid (target: about a second), without submitting anything.

    python benchmarks/plan_time.py
    python benchmarks/plan_time.py --before /tmp/plan-before --repeats 5

Prints (1) the in-process planning time: compose + validate every point, budgets, GPU-hour
estimates and buckets, run folder states; and (2) the wall time of the whole command
`python -m sweep.train -m hydra/launcher=slurm --dry-run GRID` (Python, torch and Hydra
start-up included). With `--before CHECKOUT` (another checkout of the project, e.g.
`git worktree add /tmp/plan-before COMMIT`), (2) is run in that checkout and in this one
alternately, `--repeats` times each, so both see the same machine load; it prints every time,
the medians and their ratio. Each checkout's own code runs (its root and its Hydra plugins first
on PYTHONPATH, checked before timing), with this interpreter's packages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ["model.d=256,512,768,1024,1280", "model.l=4,8", "optim.lr=1e-4,3e-4,1e-3,3e-3,1e-2",
        "train.batch_size=64,128,256,512", "optim.weight_decay=0,0.1"]
HERE = Path(__file__).resolve().parent.parent


def plan_in_process(out_dir: str) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from launch.grid import CONF_DIR, GridComposer, split_grid
    from launch.submit import SlurmOptions, plan_grid

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        launcher = compose("train", overrides=["hydra/launcher=slurm", f"out_dir={out_dir}"],
                           return_hydra_config=True).hydra.launcher
        options = SlurmOptions(**{k: v for k, v in OmegaConf.to_container(launcher, resolve=True).items()
                                  if k != "_target_"})
        start = time.perf_counter()
        points = split_grid([*GRID, f"out_dir={out_dir}"])
        composer = GridComposer(lambda o: compose("train", overrides=o),
                                GlobalHydra.instance().config_loader().repository.group_exists)
        planned = plan_grid(points, composer, options, slurm_states=False)
        planning = time.perf_counter() - start
    print(f"in-process plan of {len(planned)} points: {planning:.2f} s")


def checkout_env(checkout: Path, scratch: Path) -> dict[str, str]:
    """The environment in which `python -m sweep.train` runs `checkout`'s code: its root, and its
    `hydra_plugins` folder (launch/hydra_plugins, linked into `scratch`), first on PYTHONPATH."""
    paths = [str(checkout)]
    plugins = checkout / "launch" / "hydra_plugins"
    if plugins.is_dir():  # not the whole launch/ folder: its queue.py would hide the standard library's
        scratch.mkdir(parents=True)
        link = scratch / "hydra_plugins"
        link.symlink_to(plugins, target_is_directory=True)
        paths.append(str(scratch))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    where = subprocess.run([sys.executable, "-c", "import sweep.train, hydra_plugins.sweep_launchers as p, conf; "
                            "print(sweep.train.__file__); print(p.__file__); print(list(conf.__path__)[0])"],
                           cwd=checkout, env=env, check=True, capture_output=True, text=True).stdout.split()
    for path in where:
        if not Path(path).resolve().is_relative_to(checkout.resolve()):
            raise SystemExit(f"{checkout}: {path} is not this checkout's code")
    return env


def whole_command(checkout: Path, env: dict[str, str] | None = None) -> float:
    """Seconds of `python -m sweep.train -m hydra/launcher=slurm --dry-run GRID` in `checkout`."""
    out_dir = tempfile.mkdtemp(prefix="plan-bench-")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=slurm", "--dry-run", *GRID,
                    f"out_dir={out_dir}"], cwd=checkout, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare this one with")
    parser.add_argument("--repeats", type=int, default=5, help="whole commands per checkout (with --before)")
    args = parser.parse_args()
    if args.before is None:
        plan_in_process(tempfile.mkdtemp(prefix="plan-bench-"))
        print(f"whole dry-run command (start-up included): {whole_command(HERE):.2f} s")
        return
    scratch = Path(tempfile.mkdtemp(prefix="plan-bench-env-"))
    checkouts = {"before": args.before.resolve(), "after": HERE}
    envs = {name: checkout_env(path, scratch / name) for name, path in checkouts.items()}
    times: dict[str, list[float]] = {name: [] for name in checkouts}
    for i in range(args.repeats):
        for name, path in checkouts.items():  # alternately, so both see the same load
            times[name].append(whole_command(path, envs[name]))
            print(f"{i + 1}/{args.repeats} {name} ({path}): {times[name][-1]:.2f} s", flush=True)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, path in checkouts.items():
        print(f"{name}: median {medians[name]:.2f} s of {args.repeats} ({path})")
    print(f"after / before: {medians['after'] / medians['before']:.2f}")


if __name__ == "__main__":
    main()
