"""Experiment tracking: each run streamed to Weights & Biases (`logger=wandb`), or nowhere
(`logger=none`; the run folder's metrics.jsonl and result.json hold everything either way).

- The W&B run id is the run's identity hash (the end of its folder name) with resume="allow",
  so a requeued or re-launched run continues its W&B run instead of starting a new one.
- group = the sweep (`logger.group`, by default the last part of `out_dir`), job_type = train,
  name = the run folder's name; config = the resolved config plus the run's coordinates
  (sweep/record.py: d, l, batch_size, lr, weight_decay, N, tokens, FLOPs, ...), and for a wsd run its
  schedule and, in a cooldown-branch ladder, its role (trunk | branch); tags = its grid
  labels, data and tokenizer + `logger.tags` (+ its recipe), as sweep/record.py run_tags makes them.
- Mode `auto`: online when an API key is configured (`wandb login`, WANDB_API_KEY), else offline
  into `<run folder>/wandb/`, to `sweep sync` later. The key itself is never passed or written.
- An online run first asks the W&B server for any HTTP answer (once per process, at most
  PROBE_TIMEOUT_S): a server that does not answer costs a run that long, and the run logs offline
  into its run folder instead (`sweep sync` later).
- A server that answers but does not start the run (rate limits: HTTP 429; an overloaded server;
  W&B's service process slow to start when many runs start at once) gets `logger.start.attempts`
  tries of wandb.init, each bounded by `logger.start.init_timeout_s`, with jittered exponential
  waits between them (`backoff_s`), all within `max_total_s` (conf/wandb_start.yaml); then the
  run logs offline into its run folder, nothing lost (`sweep sync` uploads it later).
- No gaps across attempts: after an attempt's W&B finish() returns, the run folder records the
  last step W&B surely holds (`wandb/tracked_step.json`). A resumed attempt logs again every
  record of metrics.jsonl after that step (identical values): online, after the step the
  server holds (`run.starting_step`). A signal while W&B finishes waits for it to finish.
- Training never waits for W&B to start: the run starts in a background thread (all of the
  above: probe, tries, waits, the offline fallback) while training goes on; records logged
  meanwhile are held in order and sent once the W&B run exists. Only the end of the run (finish,
  interrupted) waits for a start still under way, at most `logger.start.max_total_s` plus W&B's
  offline start: a run that trains longer than that loses no time to W&B at all.
- Tracking never stops training: the first W&B error is logged once, then this run's tracker is
  silent. Only rank 0 tracks.
"""

from __future__ import annotations

import http.client
import json
import logging
import netrc
import os
import random
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlparse

from sweep.config import LoggerKind, LoggerMode, Schedule, TrainConfig, WandbStartConfig, to_plain
from sweep.errors import ConfigError
from sweep.record import FINISHED, STOPPED_EARLY, Coordinates, run_role, run_tags
from sweep.run.preempt import StopRequest
from sweep.rundir import RunDir, run_hash
from sweep.storage import atomic_write

log = logging.getLogger("sweep.tracking")

AXES = ("step", "tokens", "flops")  # x-axes: every metric can be plotted against each
# metrics.jsonl key -> W&B metric
METRICS = {
    "train_loss": "train/loss",
    "lr": "train/lr",
    "grad_norm": "train/grad_norm",
    "eval_loss": "eval/loss",
    "eval_loss_stderr": "eval/loss_stderr",
    "tokens_per_second": "perf/tokens_per_second",
    "mfu": "perf/mfu",
    "wall_seconds": "perf/wall_seconds",
}
PROBE_TIMEOUT_S = 3  # a server that does not answer within this costs a run no more: it logs offline
# The end of a run waits for a W&B start still under way at most logger.start.max_total_s plus this
# (the probe, W&B's service shutdown after failed tries and its offline start: 5-12 s on a loaded machine)
END_WAIT_MARGIN_S = 60


class Tracker:
    """Tracks nothing: `logger=none`, ranks other than 0, or W&B failed to start."""

    def log(self, record: dict[str, Any]) -> None:
        """One metrics.jsonl record (step, tokens, flops, losses, ...)."""

    def finish(self, result: dict[str, Any]) -> None:
        """The run ended (complete, diverged or failed): `result` is its result.json."""

    def interrupted(self) -> None:
        """The run stopped on a signal and will resume later."""

    def catch_up(self, records: Iterable[dict[str, Any]]) -> None:
        """A resumed run: `records` are what its earlier attempts logged up to its checkpoint
        (metrics.jsonl); those W&B may not hold are logged again, the others not twice."""


class WandbTracker(Tracker):
    def __init__(self, run: Any, label: str, tracked_step_file: Path):
        self.run, self.label = run, label  # self.run is None once W&B has failed
        self.tracked_step_file = tracked_step_file
        # Steps before first_step are held by W&B already and are not sent twice (an attempt's
        # history, offline each offline-run folder, starts after them): online, what the server
        # holds; offline, what earlier attempts surely wrote.
        if run.settings.mode == "online":
            self.first_step = run.starting_step if run.resumed else 0
        else:
            self.first_step = read_tracked_step(tracked_step_file) + 1
        self.last_logged = self.first_step - 1

    def _safely(self, what: str, call: Callable[[Any], None]) -> bool:
        """Whether `call` succeeded; W&B failing is reported once and ends this run's tracking."""
        if self.run is None:
            return False
        try:
            call(self.run)
            return True
        except Exception as err:  # W&B must never stop training
            log.warning("%s: W&B %s failed (%s: %s); no more W&B logging for this run, training goes on "
                        "(metrics.jsonl is complete)", self.label, what, type(err).__name__, err)
            run, self.run = self.run, None
            try:
                run.finish(exit_code=1)
            except Exception:
                pass
        return False

    def log(self, record: dict[str, Any]) -> None:
        if record["step"] < self.first_step or record["step"] <= self.last_logged:
            return
        data = {axis: record[axis] for axis in AXES}
        data.update({METRICS[k]: v for k, v in record.items() if k in METRICS and v is not None})
        if self._safely("log", lambda run: run.log(data, step=record["step"])):
            self.last_logged = record["step"]

    def catch_up(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.log(record)

    def finish(self, result: dict[str, Any]) -> None:
        def close(run: Any) -> None:
            run.summary.update(result)
            run.finish(exit_code=0 if result.get("status") in (*FINISHED, STOPPED_EARLY) else 1)  # a clean end

        self._close(close)

    def interrupted(self) -> None:
        def close(run: Any) -> None:
            run.mark_preempting()
            run.finish(exit_code=1)

        self._close(close)

    def _close(self, close: Callable[[Any], None]) -> None:
        """Finish the W&B run; once finish() has returned, W&B surely holds every step logged.
        A stop signal meanwhile (SIGUSR2, SIGTERM) waits: the run has ended, its summary is
        written, and the process goes on to exit normally."""
        with StopRequest():
            if self._safely("finish", close):
                write_tracked_step(self.tracked_step_file, self.last_logged)
            else:
                end_wandb_service()
        self.run = None


def end_wandb_service() -> None:
    """After a W&B run failed to finish: end this process's connection to W&B's service now, so that
    W&B's own exit hook does not try again. A scancel stops the service process with the same
    SIGTERM as the run; its exit hook then printed a 25-line `Exception ignored in atexit callback
    ... ConnectionResetError` traceback at the end of the job's log. (W&B's teardown would wait for
    a live service at exit anyway: it waits now instead.)"""
    import wandb

    try:
        wandb.teardown()
    except Exception:  # the service is gone: nothing left to end
        pass


def read_tracked_step(path: Path) -> int:
    """The last step W&B surely holds, as recorded in `path`; -1 (none) when not recorded or unreadable."""
    try:
        return int(json.loads(path.read_text())["step"])
    except (OSError, ValueError, TypeError, KeyError):
        return -1


def write_tracked_step(path: Path, step: int) -> None:
    try:
        atomic_write(path, json.dumps({"step": step}) + "\n")
    except OSError as err:  # the next attempt logs these steps again: nothing lost
        log.warning("could not record the last step W&B holds in %s (%s)", path, err)


class StartingTracker(Tracker):
    """The tracker `start()` returns, started in a background thread so that training does not
    wait for it. Until it is ready, records are held here in the order logged (they are also in
    metrics.jsonl); the first call after it is ready sends them, from the training thread (W&B's
    run is only ever used by one thread at a time). finish() and interrupted() wait for the start,
    at most `wait_s` (then the run ends untracked; a stop signal meanwhile waits too, as while W&B
    finishes)."""

    def __init__(self, start: Callable[[], Tracker], label: str, wait_s: float):
        self.label, self.wait_s = label, wait_s
        self._started: list[Tracker] = []  # the started tracker, once the thread has made it
        self._ready: Tracker | None = None  # the same, once the held records were sent to it
        self._held: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._start, args=(start,), name=f"wandb-start {label}", daemon=True)
        self._thread.start()

    def _start(self, start: Callable[[], Tracker]) -> None:
        try:
            tracker = start()
        except BaseException as err:  # noqa: BLE001 (a thread's error would only be printed)
            log.warning("%s: W&B could not start (%s: %s); training goes on without it (metrics.jsonl is "
                        "complete)", self.label, type(err).__name__, err)
            tracker = Tracker()
        self._started.append(tracker)

    def started(self) -> Tracker | None:
        """The started tracker, the held records sent to it; None while it is still starting."""
        if self._ready is None and self._started:
            self._ready, held, self._held = self._started[0], self._held, []
            for record in held:
                self._ready.log(record)
        return self._ready

    def ended(self) -> Tracker:
        """The started tracker once the start is over (waiting for it, at most wait_s)."""
        self._thread.join(self.wait_s)
        tracker = self.started()
        if tracker is None:
            log.warning("%s: W&B had not started the run %g s after the end of training; the run ends "
                        "untracked (metrics.jsonl is complete)", self.label, self.wait_s)
            self._ready = tracker = Tracker()
        return tracker

    def log(self, record: dict[str, Any]) -> None:
        tracker = self.started()
        if tracker is None:
            self._held.append(record)
        else:
            tracker.log(record)

    def catch_up(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.log(record)

    def finish(self, result: dict[str, Any]) -> None:
        with StopRequest():
            self.ended().finish(result)

    def interrupted(self) -> None:
        with StopRequest():
            self.ended().interrupted()


def open_tracker(cfg: TrainConfig, coordinates: Coordinates, is_main: bool) -> Tracker:
    """The run's tracker. A W&B run is started (or resumed) in the background (StartingTracker):
    this returns at once."""
    if cfg.logger.kind is LoggerKind.none or not is_main:
        return Tracker()
    run_dir = RunDir.for_config(cfg)
    return StartingTracker(lambda: start_tracker(cfg, coordinates, run_dir), run_dir.path.name,
                           wait_s=cfg.logger.start.max_total_s + END_WAIT_MARGIN_S)


def start_tracker(cfg: TrainConfig, coordinates: Coordinates, run_dir: RunDir) -> Tracker:
    """A W&B run started (or resumed) for the run in `run_dir`, online or offline as the server
    allows; a tracker of nothing when W&B cannot start at all."""
    try:
        mode = offline_if_unreachable(resolve_mode(cfg.logger.mode), run_dir.path.name)
        run = start_run(lambda mode, timeout_s: init_wandb(
            project=cfg.logger.project, entity=cfg.logger.entity, group=sweep_group(cfg.logger.group, cfg.out_dir),
            job_type="train", name=run_dir.path.name, id=run_hash(cfg), resume="allow", dir=str(run_dir.path),
            mode=mode, tags=run_tags(coordinates, cfg.logger.tags),
            config={**coordinates.as_dict(), **schedule_config(cfg), "config": to_plain(cfg)},
            reinit="create_new",
            settings=_settings(timeout_s),
        ), mode, cfg.logger.start, run_dir.path.name)
        for axis in AXES:
            run.define_metric(axis)
        for section in ("train", "eval", "perf"):
            run.define_metric(f"{section}/*", step_metric="tokens")
    except Exception as err:
        log.warning("%s: W&B could not start (%s: %s); training goes on without it (metrics.jsonl is "
                    "complete)", run_dir.path.name, type(err).__name__, err)
        return Tracker()
    where = f"offline in {run.dir}; upload with `sweep sync {run_dir.path.parent}`" \
        if run.settings.mode == "offline" else run.url
    log.info("%s: W&B run %s (%s)", run_dir.path.name, run.id, where)
    return WandbTracker(run, run_dir.path.name, run_dir.path / "wandb" / "tracked_step.json")


def schedule_config(cfg: TrainConfig) -> dict[str, Any]:
    """What a W&B run's config says of its schedule beyond the coordinates: a wsd run its
    `schedule`, a cooldown-branch ladder's member also its `role` (trunk | branch), so the W&B
    table tells them apart (cosine runs: nothing, as before)."""
    if cfg.optim.schedule is not Schedule.wsd:
        return {}
    role = run_role(cfg)
    return {"schedule": cfg.optim.schedule.value, **({"role": role} if role else {})}


def start_run(init: Callable[[str | None, float], Any], mode: str | None, start: WandbStartConfig, label: str,
              sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random,
              clock: Callable[[], float] = time.monotonic) -> Any:
    """The W&B run `init(mode, timeout_s)` starts. Online: up to `start.attempts` tries, each
    bounded by `start.init_timeout_s` and by what is left of `start.max_total_s`; before try k+1 a
    wait of backoff_s * 2^(k-1) * (0.5 + jitter()) (runs that failed together do not retry
    together); no try is begun with less than half an init_timeout_s left. Then offline (into the
    run folder). Other modes: one try, its error raised."""
    if not is_online(mode):
        return init(mode, start.init_timeout_s)
    deadline = clock() + start.max_total_s
    started, tries = clock(), 0
    while True:
        tries += 1
        try:
            return init(mode, min(start.init_timeout_s, deadline - clock()))
        except Exception as err:  # a 429, a timeout, a service that did not start: try again, or go offline
            last = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        if tries >= start.attempts:
            break
        wait_s = start.backoff_s * 2 ** (tries - 1) * (0.5 + jitter())
        if deadline - clock() - wait_s < start.init_timeout_s / 2:
            break
        log.info("%s: W&B did not start the run (%s); try %d in %.1f s", label, last, tries + 1, wait_s)
        sleep(wait_s)
    log.warning("%s: W&B did not start the run online in %d tries (%.1f s; last: %s): logging offline into the "
                "run folder (upload later with `sweep sync`)", label, tries, clock() - started, last)
    return init("offline", start.init_timeout_s)


def init_wandb(**kwargs: Any) -> Any:
    """wandb.init(**kwargs); when it fails, W&B's service process is shut down: it would hold the
    run id of the failed start ("run ID is in use") and refuse the next try and the offline run."""
    import wandb

    try:
        return wandb.init(**kwargs)
    except Exception:
        try:
            wandb.teardown()
        except Exception:
            pass
        raise


def is_online(mode: str | None) -> bool:
    """Whether a wandb.init `mode` (None: W&B reads WANDB_MODE) logs to the server."""
    return (mode or os.environ.get("WANDB_MODE")) in ("online", "run")


def offline_if_unreachable(mode: str | None, label: str) -> str | None:
    """`mode`, or offline when it is online and the W&B server does not answer."""
    if not is_online(mode):
        return mode
    from wandb.sdk import wandb_setup

    # WANDB_BASE_URL, else W&B's settings files (`wandb login --host`) or its default
    base_url = os.environ.get("WANDB_BASE_URL") or wandb_setup.singleton().settings.base_url
    if server_answers(base_url):
        return mode
    log.warning("%s: the W&B server %s did not answer within %g s: logging offline into the run folder "
                "(upload later with `sweep sync`)", label, base_url, PROBE_TIMEOUT_S)
    return "offline"


_answers: dict[str, bool] = {}  # base URL -> whether it answered, asked once per process


def server_answers(base_url: str) -> bool:
    """Whether `base_url` gives any HTTP answer (an error status included) within PROBE_TIMEOUT_S,
    name resolution, connection and TLS included."""
    if base_url not in _answers:
        answered: list[bool] = []
        probe = threading.Thread(target=lambda: answered.append(_http_answers(base_url)), daemon=True)
        probe.start()
        probe.join(PROBE_TIMEOUT_S)  # a black hole: the thread stays behind, asleep, until it times out
        _answers[base_url] = bool(answered and answered[0])
    return _answers[base_url]


def _http_answers(url: str) -> bool:
    any_certificate = ssl.create_default_context()  # a server that answers is enough: nothing is sent
    any_certificate.check_hostname, any_certificate.verify_mode = False, ssl.CERT_NONE
    try:
        urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S, context=any_certificate).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError, http.client.HTTPException):
        return False
    return True


def _settings(timeout_s: float) -> Any:
    """No console capture (logs go to the job's own log), no banners, a bounded wait for the
    server and for W&B's service process to start."""
    import wandb

    return wandb.Settings(console="off", quiet=True, init_timeout=timeout_s, x_service_wait=timeout_s)


def start_defaults() -> WandbStartConfig:
    """conf/wandb_start.yaml: how a run that has no config of its own (a report) starts."""
    from importlib.resources import files

    import yaml

    return WandbStartConfig(**yaml.safe_load(files("conf").joinpath("wandb_start.yaml").read_text()))


def sweep_group(group: str | None, out_dir: str | os.PathLike) -> str:
    """The W&B group of a sweep: logger.group, or else the name of its out_dir."""
    return group or Path(os.path.abspath(out_dir)).name


def resolve_mode(mode: LoggerMode) -> str | None:
    """`auto`: WANDB_MODE when set (None: W&B reads it), else online if W&B finds a login for its
    host as it looks for one (wandb_login_found): W&B 0.31's default host is not api.wandb.ai, and a
    ~/.netrc entry read for api.wandb.ai alone sent a logged-in user offline, and one logged in there
    online to a host that had no key for it."""
    if mode is not LoggerMode.auto:
        return mode.value
    if os.environ.get("WANDB_MODE"):
        return None
    return "online" if wandb_login_found()[0] else "offline"


def api_key_configured() -> bool:
    """WANDB_API_KEY, or a `wandb login` entry in ~/.netrc (or $NETRC) for the W&B host
    (WANDB_BASE_URL, else api.wandb.ai): for a W&B without wbauth (wandb_login_found)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_login_found() -> tuple[bool, str]:
    """Whether W&B finds credentials as `wandb sync` looks for them (WANDB_API_KEY, an identity
    token file, a `wandb login` entry in ~/.netrc for its host, an api_key in its settings file),
    without prompting; and that host. Where this W&B has no such function, api_key_configured()."""
    try:
        from wandb.sdk import wandb_setup
        from wandb.sdk.lib import wbauth
    except ImportError:
        return api_key_configured(), os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    host = wandb_setup.singleton().settings.base_url
    try:
        found = wbauth.authenticate_session(host=host, source="sweep sync", prompt=False, update_session=False)
    except Exception:  # credentials found but malformed: `wandb sync` says what is wrong with them
        return True, host
    return found is not None, host


def upload_report(rows: list[dict[str, Any]], figures: dict[str, Path], *, project: str, entity: str | None,
                  group: str, mode: LoggerMode, folder: Path, fits: dict[str, Any] | None = None,
                  files: Sequence[Path] = (), kind: str | None = None) -> str:
    """Log a sweep's runs table (every column of `rows`: coordinates, results and, once fitted,
    predictions) and its figures as one W&B run of the sweep's group (job_type = analysis);
    `fits` (the fitted laws' numbers) goes to that run's summary.

    With a `kind` (report, fit-LAW), the upload is also a new version of the W&B artifact
    `<group>-<kind>` (type `scaling-<kind>`): `files`, the figures, and `fits` as fits.json
    (unless `files` holds one).

    Offline (no API key, mode offline, or a server that does not start the run) it goes to
    `folder`/wandb, to `sweep sync` later. Returns where it went. Unlike in training, W&B failing
    to start even offline is the command's error."""
    import wandb

    columns = sorted({k for r in rows for k in r if k != "traceback"})
    cell = lambda v: v if v is None or isinstance(v, (int, float, str, bool)) else str(v)  # noqa: E731
    folder.mkdir(parents=True, exist_ok=True)
    label = f"{group}-report"
    try:
        run = start_run(lambda mode, timeout_s: init_wandb(
            project=project, entity=entity, group=group, job_type="analysis", name=label, dir=str(folder),
            mode=mode, reinit="create_new", settings=_settings(timeout_s),
        ), offline_if_unreachable(resolve_mode(mode), label), start_defaults(), label)
    except Exception as err:  # no key, no network: nothing was logged
        where = "/".join(p for p in (entity, project, group) if p)
        raise ConfigError(f"could not start a W&B run in {where}: {type(err).__name__}: {err}") from err
    try:
        run.log({"runs": wandb.Table(columns=columns, data=[[cell(r.get(c)) for c in columns] for r in rows]),
                 **{name: wandb.Image(str(path)) for name, path in figures.items()}})
        if fits:
            run.summary.update({"fits": fits})
        artifact = report_artifact(f"{group}-{kind}", f"scaling-{kind}", [*files, *figures.values()], fits) \
            if kind else None
        if artifact is not None:
            run.log_artifact(artifact)
        where = f"offline in {run.dir}; upload with `sweep sync {folder}`" \
            if run.settings.mode == "offline" else run.url
    finally:
        run.finish()
    return where


def report_artifact(name: str, kind: str, files: Sequence[Path], fits: dict[str, Any] | None) -> Any:
    """A wandb.Artifact holding `files` (each under its own name) and `fits` as fits.json unless
    a file of that name is among them; None when it would be empty."""
    import wandb

    names = {Path(f).name for f in files}
    if not files and not fits:
        return None
    artifact = wandb.Artifact(name, type=kind, metadata={"files": sorted(names | ({"fits.json"} if fits else set()))})
    for path in files:
        artifact.add_file(str(path), name=Path(path).name)
    if fits and "fits.json" not in names:
        with artifact.new_file("fits.json") as out:
            json.dump(fits, out, indent=2, default=str)
    return artifact
