"""What an unreachable W&B server costs a run at its start (target: a few seconds).

    python benchmarks/wandb_unreachable.py

Opens one run's tracker (`sweep.tracking.open_tracker`, logger=wandb, mode auto) with an API key
set, each time in a fresh process (as every run of a sweep does), against two servers that
cannot be reached, both on the loopback interface only:
  - closed: WANDB_BASE_URL=http://127.0.0.1:9 (nothing listens: the connection is refused);
  - black hole: a local socket that accepts TCP connections and never answers.
and, for reference, with no API key at all (offline from the start: W&B's own start-up).
Prints the seconds from the call to a tracker ready for training, and the mode it ended in.
"""

from __future__ import annotations

import json
import os
import socket
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
                              "out_dir=" + sys.argv[1]))
started = time.perf_counter()
tracker = open_tracker(cfg, coordinates(cfg, compute_budget(cfg)), is_main=True)
seconds = time.perf_counter() - started
run = getattr(tracker, "run", None)
mode = "none" if run is None else run.settings.mode
tracker.finish({"status": "complete"})
print("RESULT " + json.dumps({"seconds": seconds, "mode": mode}), flush=True)
"""


def black_hole() -> socket.socket:
    """A loopback socket that completes TCP handshakes (the kernel's backlog) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    return server


def open_tracker_seconds(base_url: str | None, folder: Path) -> dict:
    home = folder / "wandb-home"
    server = {"WANDB_API_KEY": "local-" + "0" * 40, "WANDB_BASE_URL": base_url} if base_url else {}
    env = {**os.environ, **server,
           "WANDB_CONFIG_DIR": str(home / "config"), "WANDB_CACHE_DIR": str(home / "cache"),
           "WANDB_DATA_DIR": str(home / "data"), "NETRC": str(home / "netrc"), "PYTHONPATH": str(REPO)}
    for var in ("WANDB_MODE", *(() if base_url else ("WANDB_API_KEY", "WANDB_BASE_URL"))):
        env.pop(var, None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder / "runs")], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    results = [line[len("RESULT "):] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        raise SystemExit(f"exit code {done.returncode}\n{done.stdout}\n{done.stderr}")
    return {**json.loads(results[0]), "process_seconds": time.perf_counter() - started}


def main() -> None:
    hole = black_hole()
    servers = {"no API key": None, "closed port": "http://127.0.0.1:9",
               "black hole": f"http://127.0.0.1:{hole.getsockname()[1]}"}
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in servers.items():
            figures = open_tracker_seconds(url, Path(tmp) / name.replace(" ", "-"))
            print(f"{name:12s} {url or '-':24s} open_tracker {figures['seconds']:6.1f} s -> {figures['mode']:8s} "
                  f"(whole process {figures['process_seconds']:.1f} s)", flush=True)
    hole.close()


if __name__ == "__main__":
    main()
