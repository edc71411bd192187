"""What a W&B server that cannot take a run costs the run's training (target: seconds).

    python benchmarks/wandb_unreachable.py [--samples 3] [--train-s 30]

Each sample is one run's tracker in a fresh process (as every run of a sweep is), logger=wandb,
mode auto, an API key set, against four servers on the loopback interface only
(tests/wandb_servers.py):
  - closed port: nothing listens (the connection is refused);
  - black hole: TCP connections accepted, never answered;
  - 429 always: every request answered HTTP 429 Too Many Requests (a rate-limited server);
  - never starts the run: answers a GET, never answers wandb.init's GraphQL POST;
and, for reference, with no API key at all (offline from the start: W&B's own start-up).
The process opens the tracker, "trains" for --train-s seconds (a metrics record logged every
0.1 s, nothing computed), then finishes the run. Two ways to start, in the same invocation:
  - blocking: `sweep.tracking.start_tracker` (the start of conf/wandb_start.yaml: a few short
    tries, jittered waits, a bound on the total), training waiting for it, as before this change;
  - background: `sweep.tracking.open_tracker` (the same start, in a thread beside training).
Prints, per case, what training waited: at the start (open), in log() calls (the held records
sent at once), at the end (finish: W&B's own finish plus any wait for a start under way), their
sum, and the mode the run ended in; median and range over the samples.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
from sweep.config import to_typed
from sweep.budget import compute_budget
from sweep.rundir import RunDir
from sweep.tracking import open_tracker, start_tracker
from sweep.run.loop import coordinates
from tests.helpers import TINY, compose_config

how, train_s = sys.argv[2], float(sys.argv[3])
cfg = to_typed(compose_config(*TINY, "logger=wandb", "logger.mode=auto", "logger.project=bench",
                              "out_dir=" + sys.argv[1]))
where = coordinates(cfg, compute_budget(cfg))
started = time.perf_counter()
if how == "background":
    tracker = open_tracker(cfg, where, is_main=True)
else:
    tracker = start_tracker(cfg, where, RunDir.for_config(cfg))
open_s = time.perf_counter() - started
log_s, log_max_s, step, training_ends = 0.0, 0.0, 0, time.perf_counter() + train_s
while time.perf_counter() < training_ends:
    step += 1
    time.sleep(0.1)
    t = time.perf_counter()
    tracker.log({"step": step, "tokens": 64 * step, "flops": 1e6 * step, "train_loss": 5.0 / step})
    log_s += time.perf_counter() - t
    log_max_s = max(log_max_s, time.perf_counter() - t)
t = time.perf_counter()
tracker.finish({"status": "complete"})
finish_s = time.perf_counter() - t
print("RESULT " + json.dumps({"open_s": open_s, "log_s": log_s, "log_max_s": log_max_s, "finish_s": finish_s,
                              "steps": step}), flush=True)
"""


def one_run(base_url: str | None, folder: Path, how: str, train_s: float) -> dict:
    home = folder / "wandb-home"
    server = {"WANDB_API_KEY": "local-" + "0" * 40, "WANDB_BASE_URL": base_url} if base_url else {}
    env = {**os.environ, **server,
           "WANDB_CONFIG_DIR": str(home / "config"), "WANDB_CACHE_DIR": str(home / "cache"),
           "WANDB_DATA_DIR": str(home / "data"), "NETRC": str(home / "netrc"), "PYTHONPATH": str(REPO)}
    for var in ("WANDB_MODE", *(() if base_url else ("WANDB_API_KEY", "WANDB_BASE_URL"))):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder / "runs"), how, str(train_s)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    results = [line[len("RESULT "):] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        raise SystemExit(f"exit code {done.returncode}\n{done.stdout}\n{done.stderr}")
    figures = json.loads(results[0])
    figures["mode"] = "offline" if list((folder / "runs").rglob("offline-run-*")) else "none"
    figures["lost_s"] = figures["open_s"] + figures["log_s"] + figures["finish_s"]
    return figures


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):5.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3, help="fresh processes per case")
    parser.add_argument("--train-s", type=float, default=30.0, help="seconds each run 'trains'")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.wandb_servers import SERVERS

    cases = {"no API key": None, **SERVERS}
    print(f"{args.samples} samples per case, each run trains {args.train_s:g} s; seconds training waited, "
          "median [min-max]", flush=True)
    print(f"{'server':22s} {'start':10s} {'open':>15s} {'in log()':>15s} {'finish':>15s} {'lost in all':>15s} mode",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, server in cases.items():
            for how in ("blocking", "background"):
                samples = []
                for i in range(args.samples):
                    folder = Path(tmp) / f"{name}-{how}-{i}".replace(" ", "-")
                    if server is None:
                        samples.append(one_run(None, folder, how, args.train_s))
                    else:
                        with server() as url:
                            samples.append(one_run(url, folder, how, args.train_s))
                column = lambda key: spread([s[key] for s in samples])  # noqa: E731
                modes = "/".join(sorted({s["mode"] for s in samples}))
                print(f"{name:22s} {how:10s} {column('open_s'):>15s} {column('log_s'):>15s} "
                      f"{column('finish_s'):>15s} {column('lost_s'):>15s} {modes}", flush=True)


if __name__ == "__main__":
    main()
