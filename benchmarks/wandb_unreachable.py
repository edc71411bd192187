"""What a W&B server that cannot take a run costs the run at its start (target: seconds).

    python benchmarks/wandb_unreachable.py

Opens one run's tracker (`sweep.tracking.open_tracker`, logger=wandb, mode auto) with an API key
set, each time in a fresh process (as every run of a sweep does), against four servers on the
loopback interface only (tests/wandb_servers.py):
  - closed port: nothing listens (the connection is refused);
  - black hole: TCP connections accepted, never answered;
  - 429 always: every request answered HTTP 429 Too Many Requests (a rate-limited server);
  - never starts the run: answers a GET, never answers wandb.init's GraphQL POST;
and, for reference, with no API key at all (offline from the start: W&B's own start-up).
Each server is tried with two start settings in the same run:
  - before: one wandb.init try bounded by 60 s (what the code did before logger.start existed);
  - after: conf/wandb_start.yaml (a few short tries, jittered waits, a bound on the total).
Prints the seconds from the call to a tracker ready for training, and the mode it ended in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
from sweep.config import to_typed
from sweep.budget import compute_budget
from sweep.tracking import open_tracker
from sweep.run.loop import coordinates
from tests.helpers import TINY, compose_config

cfg = to_typed(compose_config(*TINY, "logger=wandb", "logger.mode=auto", "logger.project=bench",
                              "out_dir=" + sys.argv[1], *sys.argv[2:]))
started = time.perf_counter()
tracker = open_tracker(cfg, coordinates(cfg, compute_budget(cfg)), is_main=True)
seconds = time.perf_counter() - started
run = getattr(tracker, "run", None)
mode = "none" if run is None else run.settings.mode
tracker.finish({"status": "complete"})
print("RESULT " + json.dumps({"seconds": seconds, "mode": mode}), flush=True)
"""


# logger.start settings: the old behaviour (one try, W&B waiting up to 60 s) and conf/wandb_start.yaml
STARTS = {"before": ["logger.start.attempts=1", "logger.start.init_timeout_s=60", "logger.start.max_total_s=60"],
          "after": []}


def open_tracker_seconds(base_url: str | None, folder: Path, overrides: list[str]) -> dict:
    home = folder / "wandb-home"
    server = {"WANDB_API_KEY": "local-" + "0" * 40, "WANDB_BASE_URL": base_url} if base_url else {}
    env = {**os.environ, **server,
           "WANDB_CONFIG_DIR": str(home / "config"), "WANDB_CACHE_DIR": str(home / "cache"),
           "WANDB_DATA_DIR": str(home / "data"), "NETRC": str(home / "netrc"), "PYTHONPATH": str(REPO)}
    for var in ("WANDB_MODE", *(() if base_url else ("WANDB_API_KEY", "WANDB_BASE_URL"))):
        env.pop(var, None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder / "runs"), *overrides], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    results = [line[len("RESULT "):] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        raise SystemExit(f"exit code {done.returncode}\n{done.stdout}\n{done.stderr}")
    return {**json.loads(results[0]), "process_seconds": time.perf_counter() - started}


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.wandb_servers import SERVERS

    with tempfile.TemporaryDirectory() as tmp:
        figures = open_tracker_seconds(None, Path(tmp) / "no-key", [])
        print(f"{'no API key':22s} {'-':7s} open_tracker {figures['seconds']:6.1f} s -> {figures['mode']:8s} "
              f"(whole process {figures['process_seconds']:.1f} s)", flush=True)
        for name, server in SERVERS.items():
            for when, overrides in STARTS.items():
                with server() as url:
                    figures = open_tracker_seconds(url, Path(tmp) / f"{name}-{when}".replace(" ", "-"), overrides)
                print(f"{name:22s} {when:7s} open_tracker {figures['seconds']:6.1f} s -> {figures['mode']:8s} "
                      f"(whole process {figures['process_seconds']:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
