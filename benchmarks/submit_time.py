"""Time to submit a 400-point grid to a real Slurm (target: a few seconds).

    python benchmarks/submit_time.py        # as root: starts the project's test Slurm if none answers

Submits the grid of benchmarks/plan_time.py with the Slurm launcher's own code (plan_grid, then
submit_grid: run folders, pickled jobs, one `sbatch` job array per resource bucket), held
(`sbatch --hold`) so that nothing runs, then cancels the arrays. Prints (1) the in-process
submission time after planning and (2) the wall time of the whole command
`python -m sweep.train -m hydra/launcher=slurm GRID` (start-up, planning and submission).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plan_time import GRID

REPO = Path(__file__).resolve().parent.parent
HELD = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", "+hydra.launcher.additional_parameters.hold=true"]


def ensure_slurm() -> None:
    if subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode != 0:
        subprocess.run(["bash", str(REPO / "launch/slurm_testbed/up.sh")], check=True, timeout=900)


def cancel(job_ids: set[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *sorted(job_ids)], check=True, timeout=60)


def in_process(out_dir: str) -> tuple[float, float, int, set[str]]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from launch.grid import CONF_DIR, GridComposer, split_grid
    from launch.submit import SlurmOptions, plan_grid, submit_grid

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        launcher = compose("train", overrides=["hydra/launcher=slurm", f"out_dir={out_dir}", *HELD],
                           return_hydra_config=True).hydra.launcher
        options = SlurmOptions(**{k: v for k, v in OmegaConf.to_container(launcher, resolve=True).items()
                                  if k != "_target_"})
        start = time.perf_counter()
        composer = GridComposer(lambda o: compose("train", overrides=o),
                                GlobalHydra.instance().config_loader().repository.group_exists)
        planned = plan_grid(split_grid([*GRID, f"out_dir={out_dir}"]), composer, options)
        planning = time.perf_counter() - start
        start = time.perf_counter()
        entries = submit_grid(planned, options)
        submitting = time.perf_counter() - start
    return planning, submitting, len(entries), {e["job_id"].split("_")[0] for e in entries}


def main() -> None:
    ensure_slurm()
    planning, submitting, n, arrays = in_process(tempfile.mkdtemp(prefix="submit-bench-"))
    cancel(arrays)
    print(f"in process: plan {planning:.2f} s (Slurm states read), submit {submitting:.2f} s: "
          f"{n} runs as {len(arrays)} job arrays")

    out_dir = tempfile.mkdtemp(prefix="submit-bench-")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=slurm", *HELD, *GRID,
                           f"out_dir={out_dir}"], cwd=REPO, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    from launch.queue import latest_jobs

    entries = latest_jobs(Path(out_dir))
    cancel({e["job_id"].split("_")[0] for e in entries.values()})
    print(f"whole command (start-up, plan, submit {len(entries)} runs): {wall:.2f} s")


if __name__ == "__main__":
    main()
