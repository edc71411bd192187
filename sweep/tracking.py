"""Experiment tracking: each run streamed to Weights & Biases (`logger=wandb`), or nowhere
(`logger=none`; the run folder's metrics.jsonl and result.json hold everything either way).

- The W&B run id is the run's identity hash (the end of its folder name) with resume="allow",
  so a requeued or re-launched run continues its W&B run instead of starting a new one.
- group = the sweep (`logger.group`, by default the last part of `out_dir`), job_type = train,
  name = the run folder's name; config = the resolved config plus the run's coordinates
  (sweep/record.py: d, l, batch_size, lr, weight_decay, N, tokens, FLOPs, ...); tags = its grid
  labels, data and tokenizer + `logger.tags` (+ its recipe), as sweep/record.py run_tags makes them.
- Mode `auto`: online when an API key is configured (`wandb login`, WANDB_API_KEY), else offline
  into `<run folder>/wandb/`, to `wandb sync` later. The key itself is never passed or written.
- An online run first asks the W&B server for any HTTP answer (once per process, at most
  PROBE_TIMEOUT_S): a server that does not answer costs a run that long, and the run logs offline
  into its run folder instead (`wandb sync` later).
- No gaps across attempts: after an attempt's W&B finish() returns, the run folder records the
  last step W&B surely holds (`wandb/tracked_step.json`). A resumed attempt logs again every
  record of metrics.jsonl after that step (identical values): online, after the step the
  server holds (`run.starting_step`). A signal while W&B finishes waits for it to finish.
- Tracking never stops training: the first W&B error is logged once, then this run's tracker is
  silent. Only rank 0 tracks.
"""

from __future__ import annotations

import http.client
import json
import logging
import netrc
import os
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlparse

from sweep.config import LoggerKind, LoggerMode, TrainConfig, to_plain
from sweep.errors import ConfigError
from sweep.record import FINISHED, Coordinates, run_tags
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
INIT_TIMEOUT_S = 60  # a server that answers but does not start the run: the run goes on without W&B
PROBE_TIMEOUT_S = 3  # a server that does not answer within this costs a run no more: it logs offline


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
            run.finish(exit_code=0 if result.get("status") in FINISHED else 1)

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
        self.run = None


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


def open_tracker(cfg: TrainConfig, coordinates: Coordinates, is_main: bool) -> Tracker:
    """The run's tracker; a W&B run is started (or resumed) here."""
    if cfg.logger.kind is LoggerKind.none or not is_main:
        return Tracker()
    run_dir = RunDir.for_config(cfg)
    try:
        import wandb

        mode = offline_if_unreachable(resolve_mode(cfg.logger.mode), run_dir.path.name)
        run = wandb.init(
            project=cfg.logger.project, entity=cfg.logger.entity, group=sweep_group(cfg.logger.group, cfg.out_dir),
            job_type="train", name=run_dir.path.name, id=run_hash(cfg), resume="allow", dir=str(run_dir.path),
            mode=mode, tags=run_tags(coordinates, cfg.logger.tags),
            config={**coordinates.as_dict(), "config": to_plain(cfg)},
            reinit="create_new",
            settings=_settings(),
        )
        for axis in AXES:
            run.define_metric(axis)
        for section in ("train", "eval", "perf"):
            run.define_metric(f"{section}/*", step_metric="tokens")
    except Exception as err:
        log.warning("%s: W&B could not start (%s: %s); training goes on without it (metrics.jsonl is "
                    "complete)", run_dir.path.name, type(err).__name__, err)
        return Tracker()
    where = f"offline in {run.dir}; upload with `wandb sync {Path(run.dir).parent}`" \
        if run.settings.mode == "offline" else run.url
    log.info("%s: W&B run %s (%s)", run_dir.path.name, run.id, where)
    return WandbTracker(run, run_dir.path.name, run_dir.path / "wandb" / "tracked_step.json")


def offline_if_unreachable(mode: str | None, label: str) -> str | None:
    """`mode`, or offline when it is online and the W&B server does not answer."""
    if (mode or os.environ.get("WANDB_MODE")) not in ("online", "run"):
        return mode
    from wandb.sdk import wandb_setup

    # WANDB_BASE_URL, else W&B's settings files (`wandb login --host`) or its default
    base_url = os.environ.get("WANDB_BASE_URL") or wandb_setup.singleton().settings.base_url
    if server_answers(base_url):
        return mode
    log.warning("%s: the W&B server %s did not answer within %g s: logging offline into the run folder "
                "(upload later with `wandb sync`)", label, base_url, PROBE_TIMEOUT_S)
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


def _settings() -> Any:
    """No console capture (logs go to the job's own log), no banners, a bounded wait for the server."""
    import wandb

    return wandb.Settings(console="off", quiet=True, init_timeout=INIT_TIMEOUT_S)


def sweep_group(group: str | None, out_dir: str | os.PathLike) -> str:
    """The W&B group of a sweep: logger.group, or else the name of its out_dir."""
    return group or Path(os.path.abspath(out_dir)).name


def resolve_mode(mode: LoggerMode) -> str | None:
    """`auto`: WANDB_MODE when set (None: W&B reads it), else online if an API key is configured."""
    if mode is not LoggerMode.auto:
        return mode.value
    if os.environ.get("WANDB_MODE"):
        return None
    return "online" if api_key_configured() else "offline"


def api_key_configured() -> bool:
    """WANDB_API_KEY, or a `wandb login` entry in ~/.netrc (or $NETRC) for the W&B host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def upload_report(rows: list[dict[str, Any]], figures: dict[str, Path], *, project: str, entity: str | None,
                  group: str, mode: LoggerMode, folder: Path, fits: dict[str, Any] | None = None) -> str:
    """Log a sweep's runs table (every column of `rows`: coordinates, results and, once fitted,
    predictions) and its figures as one W&B run of the sweep's group (job_type = analysis);
    `fits` (the fitted laws' numbers) goes to that run's summary.
    Offline (no API key, or mode offline) it goes to `folder`/wandb, to `wandb sync` later.
    Returns where it went. Unlike in training, W&B failing to start is the command's error."""
    import wandb

    columns = sorted({k for r in rows for k in r if k != "traceback"})
    cell = lambda v: v if v is None or isinstance(v, (int, float, str, bool)) else str(v)  # noqa: E731
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run = wandb.init(project=project, entity=entity, group=group, job_type="analysis", name=f"{group}-report",
                         dir=str(folder), mode=offline_if_unreachable(resolve_mode(mode), f"{group}-report"),
                         reinit="create_new",
                         settings=_settings())
    except Exception as err:  # no key, no network: nothing was logged
        where = "/".join(p for p in (entity, project, group) if p)
        raise ConfigError(f"could not start a W&B run in {where}: {type(err).__name__}: {err}") from err
    try:
        run.log({"runs": wandb.Table(columns=columns, data=[[cell(r.get(c)) for c in columns] for r in rows]),
                 **{name: wandb.Image(str(path)) for name, path in figures.items()}})
        if fits:
            run.summary.update({"fits": fits})
        where = f"offline in {run.dir}; upload with `wandb sync {Path(run.dir).parent}`" \
            if run.settings.mode == "offline" else run.url
    finally:
        run.finish()
    return where
