"""Time to plan a 400-point grid (target: about a second), without submitting anything.

    python benchmarks/plan_time.py

Prints (1) the in-process planning time: compose + validate every point, budgets, GPU-hour
estimates and buckets, run folder states; and (2) the wall time of the whole command
`python -m sweep.train -m hydra/launcher=slurm --dry-run GRID` (Python, torch and Hydra
start-up included).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

GRID = ["model.d=256,512,768,1024,1280", "model.l=4,8", "optim.lr=1e-4,3e-4,1e-3,3e-3,1e-2",
        "train.batch_size=64,128,256,512", "optim.weight_decay=0,0.1"]


def main() -> None:
    out_dir = tempfile.mkdtemp(prefix="plan-bench-")
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

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=slurm", "--dry-run", *GRID,
                    f"out_dir={out_dir}"], check=True, capture_output=True)
    print(f"whole dry-run command (start-up included): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
