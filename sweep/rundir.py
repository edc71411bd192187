"""A run's identity and its folder: the contract every other part (launchers, status, fits,
W&B) relies on.

The folder is `out_dir/<name>` with name = readable prefix + short hash of the config fields
that change what is trained, e.g. `d512-l8-b256-lr3.0e-03-wd0.1-tpp20-3f9a2c1e`; never a timestamp
or a job number, so a re-launched or requeued run finds its own checkpoint. A run started before
tokens per parameter joined the prefix has its folder under the old name (`...-wd0.1-3f9a2c1e`,
the same hash): `RunDir.for_config` finds it there when no folder has the new name, so re-running
an older sweep's command resumes or skips its runs instead of training them again. It holds:

  config.yaml      the resolved config (written at start)
  overrides.yaml   the command-line overrides of each launch that started or submitted the run,
                   with its time, oldest first (Hydra's .hydra/overrides.yaml, with a history)
  checkpoints/     latest.pt, written atomically (sweep/run/checkpoint.py); a ladder trunk also
                   keeps step-XXXXXXXX.pt at each branch's cooldown start (`kept_checkpoint`)
  metrics.jsonl    one JSON line per log step (and per eval)
  result.json      written atomically, last; its `status` is complete | diverged | failed |
                   stopped_early (sweep/record.py STATUSES)
  .lock            held (flock) by the one process training the run; names that process

Every file is read back defensively: one that cannot be read (truncated, not JSON / YAML, not
the shape written) raises DamagedFile naming it, what is wrong and what to do; the run's state is
then `damaged` and the other runs go on. A last metrics.jsonl line without its newline was torn
by a process killed mid-write: it was never acknowledged and is dropped.

A write that fails raises one `StorageError` naming the file and the free space. Temporary files
of atomic writes left by a killed process are removed when the run starts again.

One run folder is trained by one process at a time: `RunDir.hold()` takes a non-blocking
`flock` on `.lock` for the whole run, and a second process that finds it held gets `RunHeld`
(and skips the run). A holder that dies releases it with its process (the kernel drops the
lock), so nothing blocks forever. The lock file is never deleted: deleting it would let two
processes lock two different files. Across nodes this needs a shared file system with flock
(NFSv4, Lustre mounted with `flock`, GPFS, BeeGFS); where flock is not supported, `hold()`
raises a ConfigError naming the folder.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import socket
import re
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from sweep.config import TrainConfig, to_plain
from sweep.errors import ConfigError, DamagedFile
from sweep.record import (COMPLETE, FINISHED, STATUSES, STOPPED_EARLY, TRUNK, legacy_run_name_prefix, run_name_prefix,
                          run_status, settings_prefixes)
from sweep.storage import atomic_write, tail_lines, write_failed

log = logging.getLogger("sweep.rundir")

RESUME_REMEDY = "delete it and re-run the command: the run resumes from its last checkpoint, if any"
CONFIG_REMEDY = "re-run the sweep's command to rewrite it, or delete the run folder"
# result.json's values that the runs table, the fits and `sweep status` read as numbers (null where unknown)
NUMERIC_RESULT_KEYS = ("d", "l", "batch_size", "lr", "weight_decay", "tokens_per_param", "n_params", "tokens",
                       "flops", "steps", "steps_done", "final_train_loss", "final_eval_loss", "final_eval_loss_stderr",
                       "wall_seconds", "trained_flops", "predicted_final_eval_loss")
OVERRIDES_REMEDY = "delete the damaged entry (or the file: it is a record, the run does not read it)"
METRICS_REMEDY = ("delete the damaged line(s) to keep the rest of the curve, or delete the run folder "
                  "to train the run again")

# Fields that do not change what is trained: where runs go and where they are tracked, how often
# they log, eval and checkpoint, which device and compiler run them, how the loss is chunked,
# whether they are early-stopped (a probed run trains exactly as a plain one), which experiment
# preset planned them. Everything else is identity.
NON_IDENTITY_FIELDS = {
    "out_dir": None,
    "logger": None,
    "early_stop": None,
    "experiment": None,
    "data": {"cache_dir", "max_epochs", "density_documents"},
    "train": {"log_every", "eval_every", "checkpoint_every_minutes", "divergence_factor", "device", "compile",
              "peak_tflops", "loss_chunk_tokens"},
}


def is_identity_setting(key: str) -> bool:
    """Whether the dotted config key (`optim.lr`, `train.log_every`) is part of a run's identity."""
    head, _, rest = key.partition(".")
    if head not in NON_IDENTITY_FIELDS:
        return True
    sub = NON_IDENTITY_FIELDS[head]
    return sub is not None and rest.split(".")[0] not in sub


def seedless_setting(config: Any) -> str | None:
    """What runs that differ only in their seed share (replicates, averaged by the fits:
    sweep/fit/points.py): the sha256 (12 hex digits) of a run's config as a plain mapping
    (config.yaml, or the config a W&B run logged), reduced to the settings that change what is
    trained (`is_identity_setting`), without the top-level `seed`. None for anything else."""
    if not isinstance(config, dict):
        return None

    def settings(mapping: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
        for key, value in mapping.items():
            if isinstance(value, dict):
                yield from settings(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    kept = {k: v for k, v in settings(config) if k != "seed" and is_identity_setting(k)}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:12]


# Settings that only exist for a schedule or a ladder: left out of the identity while they are
# unused, so the runs of sweeps started before they existed keep their names (and hashes)
WSD_ONLY = ("schedule", "cooldown_fraction", "cooldown_shape")  # optim.*, with optim.schedule=cosine
LADDER_ONLY = ("branch", "ladder_tokens_per_param", "trunk")  # budget.*, with budget.branch=false


def identity_fields(cfg: TrainConfig) -> dict[str, Any]:
    plain = to_plain(cfg)
    for key, sub in NON_IDENTITY_FIELDS.items():
        if sub is None:
            plain.pop(key, None)
        else:
            for name in sub:
                plain[key].pop(name, None)
    if plain["optim"]["schedule"] == "cosine":
        for name in WSD_ONLY:
            plain["optim"].pop(name)
    if not plain["budget"]["branch"]:
        for name in LADDER_ONLY:
            plain["budget"].pop(name)
    return plain


GROUP_FREE_SETTINGS = (("optim", "lr"), ("optim", "weight_decay"), ("train", "batch_size"))  # what a group's runs vary


def group_key(cfg: TrainConfig) -> str:
    """The budget group of a run: its identity without learning rate, weight decay and batch size,
    as `d32-l2-tpp20-<hash>`."""
    return f"d{cfg.model.d}-l{cfg.model.l}-tpp{cfg.budget.tokens_per_param:g}-{_digest_without(cfg, GROUP_FREE_SETTINGS)[:8]}"


REFERENCE_SETTINGS = (("model", "d"), ("model", "l"), ("optim", "lr"))  # what a run and its collapse references vary


def reference_key(cfg: TrainConfig) -> str:
    """The runs a run can be predicted from by the collapse of curves (sweep/fit/collapse.py): those
    that differ from it only in model size (width, depth) and learning rate (a reference of another
    size is matched by its summed learning rate: collapse.area_matched), with the same tokens per
    parameter, batch size, weight decay, schedule, data and seed. A hash of its identity without
    model.d, model.l and optim.lr."""
    return _digest_without(cfg, REFERENCE_SETTINGS)[:12]


def _digest_without(cfg: TrainConfig, settings: tuple[tuple[str, str], ...]) -> str:
    """The sha256 of the run's identity without `settings` ((section, name) pairs)."""
    plain = identity_fields(cfg)
    for section, name in settings:
        plain[section].pop(name, None)
    return hashlib.sha256(json.dumps(plain, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RunHeld(Exception):
    """The run folder is held by another live process (which trains the run): not a failure."""

    def __init__(self, path: Path, holder: dict[str, Any] | None):
        super().__init__(f"{path}: held by {describe_holder(holder)}: not run here")
        self.path, self.holder = path, holder


def describe_holder(holder: dict[str, Any] | None) -> str:
    """'pid 123 on node7 (Slurm job 45_2) since 2026-01-01T00:00:00+00:00'."""
    if not holder:
        return "another process"
    job = f" (Slurm job {holder['slurm_job']})" if holder.get("slurm_job") else ""
    return f"pid {holder.get('pid')} on {holder.get('host')}{job} since {holder.get('since')}"


def this_process() -> dict[str, Any]:
    """Who holds a run: written into its lock file for other processes' messages."""
    array_task = os.environ.get("SLURM_ARRAY_TASK_ID")
    job = (f"{os.environ['SLURM_ARRAY_JOB_ID']}_{array_task}" if array_task and "SLURM_ARRAY_JOB_ID" in os.environ
           else os.environ.get("SLURM_JOB_ID"))
    return {"host": socket.gethostname(), "pid": os.getpid(), "slurm_job": job,
            "since": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def run_hash(cfg: TrainConfig) -> str:
    blob = json.dumps(identity_fields(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


RUN_NAME = re.compile(r"d\d+-l\d+-b\d+-lr.+?-wd")  # a run folder's name (run_name), not any folder


def run_name(cfg: TrainConfig) -> str:
    """Readable prefix (the grid coordinates, sweep/record.py) + hash of the whole identity."""
    return f"{run_name_prefix(cfg)}-{run_hash(cfg)}"


def legacy_run_name(cfg: TrainConfig) -> str:
    """The name the run's folder had before tokens per parameter joined the prefix (same hash)."""
    return f"{legacy_run_name_prefix(cfg)}-{run_hash(cfg)}"


def last_step(metrics_file: Path) -> int:
    """The step of the last whole line of a run's metrics.jsonl (0: none yet); reads only its
    end, so it costs the same at any length."""
    for line in reversed(tail_lines(metrics_file)[:-1]):  # after the last newline: torn or empty
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):  # the first, cut by the seek
            continue
    return 0


class RunDir:
    """Paths and file operations of one run folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def for_config(cls, cfg: TrainConfig) -> "RunDir":
        """The run's folder: `out_dir/run_name(cfg)`, or the folder of the same run under its
        legacy name when only that one exists (a sweep started before the name changed)."""
        path = Path(cfg.out_dir) / run_name(cfg)
        legacy = Path(cfg.out_dir) / legacy_run_name(cfg)
        if not path.exists() and legacy.is_dir():
            return cls(legacy)
        return cls(path)

    config_file = property(lambda self: self.path / "config.yaml")
    overrides_file = property(lambda self: self.path / "overrides.yaml")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    result_file = property(lambda self: self.path / "result.json")
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    checkpoint_file = property(lambda self: self.path / "checkpoints" / "latest.pt")

    def kept_checkpoint(self, step: int) -> Path:
        """A checkpoint kept at `step` beside latest.pt (a ladder trunk's, where branches start)."""
        return self.checkpoint_dir / f"step-{step:08d}.pt"
    lock_file = property(lambda self: self.path / ".lock")

    def make_folder(self) -> None:
        """Create the run folder (and its parents) where it is not there; a ConfigError where a file stands
        where it, or its checkpoints folder, goes (a FileExistsError traceback, or a run that trained until
        its first checkpoint could not be written)."""
        for folder in (self.path, self.checkpoint_dir):
            if folder.exists() and not folder.is_dir():
                raise ConfigError(f"{folder} is a file where a folder of the run goes; accepted: a folder (move the "
                                  "file away and re-run the same command)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file where one of its parents goes
            raise ConfigError(f"{self.path} cannot be made: a file stands where one of its folders goes; accepted: "
                              "folders (move the file away, or set out_dir elsewhere)") from None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the run folder for this process until the block ends; `RunHeld` (naming the
        holder) when another live process holds it."""
        self.make_folder()
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if not self._try_flock(fd, fcntl.LOCK_EX):
                raise RunHeld(self.path, self.holder())
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(this_process()) + "\n").encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    def holder(self) -> dict[str, Any] | None:
        """Who holds the run folder ({host, pid, slurm_job, since}; {} if it has not said yet),
        or None when it is free. Does not take it."""
        try:
            fd = os.open(self.lock_file, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):  # no such run folder (out_dir may even be a file)
            return None
        try:
            if self._try_flock(fd, fcntl.LOCK_SH, tries=1):
                return None
            try:
                return json.loads(os.pread(fd, 4096, 0).decode())
            except ValueError:  # being written
                return {}
        finally:
            os.close(fd)

    def _try_flock(self, fd: int, kind: int, tries: int = 5) -> bool:
        """Non-blocking flock; a few short retries ride over another process's probe (holder()
        holds a shared lock for microseconds)."""
        for attempt in range(tries):
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if attempt + 1 < tries:
                    time.sleep(0.05)
            except OSError as err:
                if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise ConfigError(
                        f"{self.lock_file}: the file system does not support flock ({err.strerror}); "
                        "run folders need one that does (local disk, NFSv4, Lustre mounted with flock, "
                        "GPFS): set out_dir there") from None
                raise
        return False

    def write_config(self, cfg: TrainConfig) -> None:
        self.make_folder()
        text = yaml.safe_dump(to_plain(cfg), sort_keys=False)
        atomic_write(self.config_file, text)

    def read_config(self) -> dict[str, Any]:
        """config.yaml as a plain mapping; DamagedFile when it is not one."""
        try:
            config = yaml.safe_load(self.config_file.read_text())
        except FileNotFoundError:
            raise DamagedFile(self.config_file, "is missing", CONFIG_REMEDY) from None
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise DamagedFile(self.config_file, f"not YAML ({_first_line(err)})", CONFIG_REMEDY) from None
        if not isinstance(config, dict):
            raise DamagedFile(self.config_file, f"holds {_kind(config)}, not a mapping of settings", CONFIG_REMEDY)
        prefixes = settings_prefixes(config)  # the name's and the legacy name's (run_name, legacy_run_name)
        if RUN_NAME.match(self.path.name) and prefixes is not None and not any(
                re.fullmatch(re.escape(p) + r"-[0-9a-f]{8}", self.path.name) for p in prefixes):
            raise DamagedFile(self.config_file, f"does not match its run folder's name: its settings read "
                                                f"{prefixes[0]} (edited after the run was made?)", CONFIG_REMEDY)
        return config

    def remove_if_unstarted(self) -> bool:
        """Remove the folder when it holds nothing but overrides.yaml: what a launch that made it
        and then failed before the run started leaves (a corpus too small for its tokenizer), a
        folder `sweep status` does not list. Never one holding anything else (a config, a lock,
        metrics, a checkpoint, a result). Returns whether it was removed."""
        try:
            if [p.name for p in self.path.iterdir()] != [self.overrides_file.name]:
                return False
            self.overrides_file.unlink()
            self.path.rmdir()
        except OSError:  # gone, or another process wrote into it meanwhile
            return False
        return True

    def record_overrides(self, overrides: Iterable[str], config_name: str = "train") -> None:
        """Append one launch's overrides (a YAML list, as Hydra's overrides.yaml), the config they
        apply to (`config_name`: conf/<name>.yaml, `--config-name`) and its time to overrides.yaml,
        whose earlier entries stay as written: a re-launch with other but equivalent overrides (the
        same identity) is one more entry."""
        self.make_folder()
        entry = yaml.safe_dump([{"at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                                 "config_name": str(config_name), "overrides": [str(o) for o in overrides]}],
                               sort_keys=False)
        try:
            previous = self.overrides_file.read_text() if self.overrides_file.exists() else ""
        except (OSError, UnicodeDecodeError) as err:
            raise DamagedFile(self.overrides_file, f"cannot be read ({_first_line(err)})", OVERRIDES_REMEDY) from None
        atomic_write(self.overrides_file, previous + ("" if not previous or previous.endswith("\n") else "\n") + entry)

    def read_overrides_history(self) -> list[dict[str, Any]]:
        """Every launch recorded in overrides.yaml, oldest first: `{at, config_name, overrides}` each
        (no config_name in an entry written before they named it); [] for a
        run launched before the file existed; DamagedFile when it is not such a list."""
        if not self.overrides_file.exists():
            return []
        try:
            history = yaml.safe_load(self.overrides_file.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise DamagedFile(self.overrides_file, f"not YAML ({_first_line(err)})", OVERRIDES_REMEDY) from None
        if not isinstance(history, list) or not all(
                isinstance(e, dict) and isinstance(e.get("overrides"), list) for e in history):
            raise DamagedFile(self.overrides_file, f"holds {_kind(history)}, not a list of {{at, overrides}} "
                              "entries", OVERRIDES_REMEDY)
        return history

    def read_config_name(self) -> str | None:
        """The config the latest launch's overrides apply to (`demo` for `--config-name demo`), or
        None when none was recorded (no launch recorded, or one from before entries named it)."""
        history = self.read_overrides_history()
        return str(history[-1]["config_name"]) if history and history[-1].get("config_name") else None

    def read_overrides(self) -> list[str] | None:
        """The overrides of the latest launch (the command line that made config.yaml, less
        the command), or None when none was recorded."""
        history = self.read_overrides_history()
        return [str(o) for o in history[-1]["overrides"]] if history else None

    def read_result(self) -> dict[str, Any] | None:
        """result.json, or None when the run has not ended; DamagedFile when it is empty,
        truncated, not a JSON object or has no known status."""
        if not self.result_file.exists():
            return None
        result = read_json_object(self.result_file, RESUME_REMEDY)
        if result.get("status") not in STATUSES:
            raise DamagedFile(self.result_file, f"status {result.get('status')!r} is not one of "
                              f"{', '.join(STATUSES)}", RESUME_REMEDY)
        for key in NUMERIC_RESULT_KEYS:  # what the tables and fits read as numbers: "abc" was a traceback
            if result.get(key) is not None and not _is_number(result[key]):
                raise DamagedFile(self.result_file, f"{key} = {result[key]!r} is not a number", RESUME_REMEDY)
        problem = result_contradiction(result)
        if problem is not None:
            raise DamagedFile(self.result_file, problem, RESUME_REMEDY)
        return result

    def state(self) -> str:
        """The run's status (sweep/record.py run_status): complete | diverged | failed |
        stopped_early (from result.json), running (a live process holds the folder), started (a checkpoint or metrics
        exist) or pending; DamagedFile when result.json, or the metrics.jsonl a resume would read,
        cannot be read."""
        result = self.read_result()
        recorded = None if result is None else result["status"]
        held = recorded not in FINISHED and self.holder() is not None  # e.g. a failed run being retried
        if recorded not in FINISHED and not held and self.checkpoint_file.exists():
            self.read_metrics()  # a resume reads it back
        started = self.checkpoint_file.exists() or self.metrics_file.exists()
        return run_status(recorded, held, started)

    def write_result(self, result: dict[str, Any]) -> None:
        if result.get("status") not in STATUSES:
            raise ValueError(f"result status {result.get('status')!r} not in {STATUSES}")
        atomic_write(self.result_file, json.dumps(_finite(result), indent=2) + "\n")

    def append_metrics(self, record: dict[str, Any]) -> None:
        try:
            with open(self.metrics_file, "a") as f:
                f.write(json.dumps(_finite(record)) + "\n")
        except OSError as err:
            raise write_failed(self.metrics_file, err) from None

    def remove_stale_temporaries(self) -> list[Path]:
        """Remove the temporary files of atomic writes (checkpoint, result, config, metrics) that
        a killed process left behind; only the process training the run may call this."""
        stale = [tmp for file in (self.checkpoint_file, self.result_file, self.config_file, self.metrics_file)
                 for tmp in file.parent.glob(f".{file.name}.*.tmp")]
        stale += self.checkpoint_dir.glob(".step-*.pt.*.tmp")  # kept checkpoints (a ladder trunk's)
        for tmp in stale:
            tmp.unlink(missing_ok=True)
        return stale

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of metrics.jsonl, each a JSON object with a `step`. A torn last line (no
        newline: the writer was killed mid-line) is dropped; any other bad line: DamagedFile."""
        if not self.metrics_file.exists():
            return []
        lines = self.metrics_file.read_bytes().split(b"\n")
        if lines[-1]:
            log.debug("%s: dropped a torn last line (%d bytes, no newline)", self.metrics_file, len(lines[-1]))
        records = []
        for number, line in enumerate(lines[:-1], start=1):
            if line.strip():
                records.append(_metrics_record(self.metrics_file, number, line))
        return records

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records of steps later than `after_step`: on resume from a checkpoint at that
        step, those steps are trained again and logged again."""
        self.write_metrics([r for r in self.read_metrics() if r["step"] <= after_step])

    def write_metrics(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace metrics.jsonl with `records`, all at once (a ladder branch starts with its
        trunk's)."""
        atomic_write(self.metrics_file, "".join(json.dumps(_finite(r)) + "\n" for r in records))


def result_contradiction(result: dict[str, Any]) -> str | None:
    """What a result.json says against itself, read alike by every command (its numbers checked
    first): `complete` short of its steps (hand-edited, or a bug: status, the fits and the report
    took its loss there for the run's final one), an `early_stop` decision that is no object, or a
    stopped run whose decision holds the prediction its result lacks (status showed it as none)."""
    done, steps = result.get("steps_done"), result.get("steps")
    if (result["status"] == COMPLETE and result.get("role") != TRUNK  # a trunk ends at its cooldown start
            and done is not None and steps is not None and done < steps):
        return (f"status complete, but steps_done {done:g} is below its steps {steps:g} (a complete run "
                "trained them all)")
    decision = result.get("early_stop")
    if decision is not None and not isinstance(decision, dict):
        return f"early_stop = {_clipped(decision)} is not an early-stopping decision (an object)"
    if (result["status"] == STOPPED_EARLY and result.get("predicted_final_eval_loss") is None
            and decision is not None and decision.get("predicted") is not None):
        return (f"status stopped_early without its predicted_final_eval_loss, which its early_stop decision "
                f"holds ({_clipped(decision['predicted'])})")
    return None


def _clipped(value: Any, chars: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= chars else shown[:chars] + "..."


def read_json_object(path: Path, remedy: str) -> dict[str, Any]:
    """A JSON file holding an object; DamagedFile (naming `path`, with `remedy`) otherwise."""
    try:
        value = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        problem = "empty" if not path.stat().st_size else f"not valid JSON ({_first_line(err)})"
        raise DamagedFile(path, problem, remedy) from None
    if not isinstance(value, dict):
        raise DamagedFile(path, f"holds {_kind(value)}, not a JSON object", remedy)
    return value


def _metrics_record(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise DamagedFile(path, f"line {number} is not JSON", METRICS_REMEDY) from None
    if not isinstance(record, dict) or not isinstance(record.get("step"), int):
        raise DamagedFile(path, f"line {number} is not a record with an integer step", METRICS_REMEDY)
    for key, value in record.items():  # every value a run logs is a number (NaN and inf as null)
        if value is not None and not _is_number(value):
            raise DamagedFile(path, f"line {number}: {key} = {value!r} is not a number", METRICS_REMEDY)
    return record


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _finite(record: Any) -> Any:
    """JSON has no NaN/Inf: write them as null (a diverged loss is recorded as its status)."""
    if isinstance(record, float) and not math.isfinite(record):
        return None
    if isinstance(record, dict):
        return {k: _finite(v) for k, v in record.items()}
    if isinstance(record, (list, tuple)):
        return [_finite(v) for v in record]
    return record


def no_run_folders(root: str | os.PathLike, shown: int = 3) -> str:
    """What to say of a folder with no run folders directly under it: `runs holds no run folders
    (...)`, and where folders under it are sweep folders (they hold run folders: `runs/` of
    `runs/mini`, `runs/one`), the first `shown` of them and how many more, to give one of them."""
    root = Path(root)
    sweeps = [path for path in sorted(root.iterdir()) if path.is_dir() and next(iter(iter_run_dirs(path)), None)] \
        if root.is_dir() else []
    text = f"{root} holds no run folders (folders with a config.yaml)"
    if not sweeps:
        return text
    more = f" and {len(sweeps) - shown} more" if len(sweeps) > shown else ""
    return (f"{text}; it holds sweep folders: {', '.join(str(path) for path in sweeps[:shown])}{more}; "
            f"give one of them")


def iter_run_dirs(root: str | os.PathLike) -> Iterable[RunDir]:
    """Every run folder directly under a sweep root (those with a config.yaml, or a result.json whose
    config.yaml is gone: shown damaged, not dropped with its finished result), sorted."""
    root = Path(root)
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if (path / "config.yaml").is_file() or (path / "result.json").is_file():
            yield RunDir(path)
