"""`sweep sync DIR --jobs N`: upload a sweep's offline W&B runs to the server, N runs at once.

A run that logged offline (no API key, or a server that did not start it: sweep/tracking.py)
leaves one `wandb/offline-run-<time>-<id>` folder per attempt in its run folder; `sweep report
--upload` may leave some in the sweep folder's own `wandb/`. `wandb sync` uploads them one run at
a time, which for hundreds of runs can take longer than the training (W&B issues #1775, #10220).

- One W&B run (a run folder, or a report) is one upload: its attempts go in order of start time,
  one after the other, each by its own `wandb sync` (they resume the same W&B run, so they never
  run concurrently or out of order); an attempt that fails stops that run's later attempts.
- N such uploads run at once (`--jobs`, default in conf/sync.yaml).
- Resumable: `wandb sync` marks an uploaded attempt with `run-<id>.wandb.synced` beside its
  .wandb file; such attempts are skipped, so an interrupted sync run again uploads only what is
  left. An attempt counts as synced only when that marker exists after its command (wandb sync
  can exit 0 without having uploaded).
- A run folder held by a live process (still training) is left for later: its last attempt is
  still being written.
- Each attempt's command output goes to `sweep-sync.log` in its folder; a failed one's tail is in
  the summary. An attempt not uploaded within the time limit (conf/sync.yaml `timeout_s`: wandb
  sync retries an unreachable server for minutes) is killed and counts as failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from sweep.errors import ConfigError
from sweep.rundir import iter_run_dirs, no_run_folders

OFFLINE_GLOB = "offline-run-*"
LOG_NAME = "sweep-sync.log"
TAIL_LINES = 15


def wandb_sync_command(attempt: Path) -> list[str]:
    """The command that uploads one offline-run folder: W&B's own `wandb sync`."""
    return [sys.executable, "-m", "wandb", "sync", "--skip-synced", str(attempt)]


def wandb_file(attempt: Path) -> Path | None:
    """The attempt's `run-<id>.wandb` file, None when W&B never wrote one."""
    return next(iter(sorted(attempt.glob("run-*.wandb"))), None)


def is_synced(attempt: Path) -> bool:
    """Whether `wandb sync` has uploaded the attempt (its `.wandb.synced` marker)."""
    file = wandb_file(attempt)
    return file is not None and file.with_name(file.name + ".synced").exists()


def start_key(attempt: Path) -> tuple[str, float]:
    """Order of start: the folder's `YYYYMMDD_HHMMSS`, then its .wandb file's modification time."""
    stamp = attempt.name[len("offline-run-"):].rsplit("-", 1)[0]
    file = wandb_file(attempt)
    return stamp, file.stat().st_mtime if file is not None else 0.0


@dataclass
class Upload:
    """One W&B run's offline attempts, in order of start."""

    label: str
    attempts: list[Path]
    held: bool = False  # its run folder is held by a live process (training)


@dataclass
class UploadResult:
    label: str
    outcome: str  # synced | skipped | held | failed
    synced: int = 0  # attempts uploaded now
    seconds: float = 0.0
    log: str = ""  # the failed attempt's command and output tail


@dataclass
class SyncSummary:
    results: list[UploadResult] = field(default_factory=list)

    def of(self, outcome: str) -> list[UploadResult]:
        return [r for r in self.results if r.outcome == outcome]

    def line(self) -> str:
        counts = {o: len(self.of(o)) for o in ("synced", "skipped", "held", "failed")}
        return ", ".join(f"{n} {o}" for o, n in counts.items() if n or o in ("synced", "failed"))


def find_uploads(sweep_dir: Path) -> list[Upload]:
    """Every W&B run with offline attempts in the sweep folder: each run folder's, and those in
    the sweep folder's own `wandb/` (reports), one upload per W&B run id."""
    if not sweep_dir.is_dir():  # a file was "does not exist"
        raise ConfigError(f"{sweep_dir} {'is a file' if sweep_dir.exists() else 'does not exist'}; accepted: a sweep "
                          "folder (the out_dir of a sweep, holding its run folders)")
    runs = list(iter_run_dirs(sweep_dir))
    if not runs and not (sweep_dir / "wandb").is_dir():  # was "0 synced", rc 0, where status and fit refuse it
        raise ConfigError(no_run_folders(sweep_dir))
    uploads = []
    for run in runs:
        attempts = sorted((run.path / "wandb").glob(OFFLINE_GLOB), key=start_key)
        if attempts:
            uploads.append(Upload(run.path.name, attempts, held=run.holder() is not None))
    by_id: dict[str, list[Path]] = {}
    for attempt in (sweep_dir / "wandb").glob(OFFLINE_GLOB):
        by_id.setdefault(attempt.name.rsplit("-", 1)[-1], []).append(attempt)
    for run_id, attempts in sorted(by_id.items()):
        uploads.append(Upload(f"wandb/{run_id}", sorted(attempts, key=start_key)))
    return uploads


def upload(item: Upload, command: Callable[[Path], Sequence[str]], timeout_s: float | None = None) -> UploadResult:
    """Run `command` for each attempt not yet synced, in order, each for at most `timeout_s`
    (None: no limit); stop at the first failure."""
    started = time.perf_counter()
    if item.held:
        return UploadResult(item.label, "held")
    pending = [a for a in item.attempts if not is_synced(a)]
    done = 0
    for attempt in pending:
        args = [str(a) for a in command(attempt)]
        with open(attempt / LOG_NAME, "w") as log:
            try:
                code = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      timeout=timeout_s).returncode
            except subprocess.TimeoutExpired:  # the command is killed; its attempt is uploaded next time
                code = None
        if code != 0 or not is_synced(attempt):
            why = f"no upload within {timeout_s:g} s (killed)" if code is None else f"exit code {code}" \
                if code != 0 else "exit code 0 but no .wandb.synced marker written"
            tail = (attempt / LOG_NAME).read_text(errors="replace").splitlines()[-TAIL_LINES:]
            log_text = "\n".join([f"{attempt}: {why}; `{' '.join(args)}`; log {attempt / LOG_NAME}:", *tail])
            return UploadResult(item.label, "failed", done, time.perf_counter() - started, log_text)
        done += 1
    return UploadResult(item.label, "synced" if pending else "skipped", done, time.perf_counter() - started)


def check_wandb_login() -> None:
    """Before the first `wandb sync`: without credentials each one fails alike (`No API key
    configured`, 400 runs, 400 failures); one error instead, saying how to log in."""
    from sweep.tracking import wandb_login_found

    found, host = wandb_login_found()
    if not found:
        raise ConfigError(f"no W&B login for {host}: nothing uploaded; log in with `wandb login` (or set "
                          f"WANDB_API_KEY; WANDB_BASE_URL for another server), then run sweep sync again")


def sync_sweep(sweep_dir: Path, jobs: int, command: Callable[[Path], Sequence[str]] | None = None,
               on_result: Callable[[UploadResult, int, int], None] = lambda result, done, total: None,
               timeout_s: float | None = None) -> SyncSummary:
    """Upload every offline W&B run of the sweep, `jobs` at once, each attempt by `command`
    (default wandb_sync_command) within `timeout_s`; `on_result(result, done, total)` is called
    as each finishes."""
    uses_wandb_sync, command = command is None, command or wandb_sync_command
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs {jobs!r}: accepted is an integer >= 1 (W&B runs uploaded at once)")
    uploads = find_uploads(sweep_dir)
    if uses_wandb_sync and any(not is_synced(a) for item in uploads if not item.held for a in item.attempts):
        check_wandb_login()
    summary = SyncSummary()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(upload, item, command, timeout_s) for item in uploads]
        try:
            for future in as_completed(futures):
                summary.results.append(future.result())
                on_result(summary.results[-1], len(summary.results), len(uploads))
        except BaseException:  # Ctrl-C: no new uploads; what was synced stays marked
            for future in futures:
                future.cancel()
            raise
    return summary
