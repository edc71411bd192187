"""Streamed corpora (data=hf / c4, data=synthetic), tokenized once by `sweep prepare` into the shards
of a token store entry (sweep/data/store.py).

A streamed corpus has no end a sweep could reach (C4: 156 B tokens; the synthetic source is
infinite), so it is prepared up to what the sweep needs: `sweep prepare` asks for the largest
run's tokens and this module tokenizes units until the train shards hold them. Runs memory-map
the shards and never tokenize; a run needing more than was prepared fails before training.

One entry per corpus identity, a folder in `data.cache_dir` named
`{source}-{name}-v{V}-{key[:12]}` holding:

    manifest.json    tokenizer, V, dtype, the shards in order (unit, tokens, documents, sha256,
                     seconds), eval, totals, source description, true entropy (synthetic),
                     the data-density report
    train-00000.bin  the tokens of unit 0: each document's ids then EOS (BOS first with
    train-00001.bin  data.add_bos), uint16 when V <= 65536 else uint32; unit 1; ...
    eval.bin         the held-out stream, same layout
    tokenizer/       the pretrained tokenizer, saved (runs never reach a hub)

A unit is one data file of the dataset's train split (C4 en: 1,024 files) or, for the synthetic
source, `data.synthetic.documents_per_shard` documents. Units are tokenized in parallel worker
processes, each into its own shard, and recorded in the manifest in unit order: the prepared
stream is the same whatever the number of workers, and extending it later (a bigger sweep)
appends units. Each shard appears by rename once complete, and the manifest is rewritten after
each: an interrupted prepare keeps every recorded shard and goes on from the next unit.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sweep.config import DataConfig, DataSource, TokenizerKind
from sweep.data.checks import check_entry_inputs
from sweep.data.store import (
    EVAL_FILE,
    MANIFEST_FILE,
    SplitWriter,
    TokenStore,
    check_token_files,
    entry_lock,
    read_manifest,
    sha256_file,
    token_dtype,
    unusable,
    write_manifest,
)
from sweep.data.synthetic import document_tokens, documents, entropy_rate, synthetic_spec
from sweep.data.tokenizer import SyntheticIds, Tokenizer, load_tokenizer, new_tokenizer, vocab_size
from sweep.errors import ConfigError
from sweep.progress import progress

log = logging.getLogger("sweep.data")

PREPARED_VERSION = 1
STREAMED = (DataSource.hf, DataSource.synthetic)

_ENCODE_BATCH_DOCS = 512
_DENSITY_MAX_TOKENS = 64 << 20  # tokens of the first shards the density report may read


def is_streamed(data: DataConfig) -> bool:
    return DataSource(data.source) in STREAMED


# ---------------------------------------------------------------------------------------------
# Identity


def _local_or_name(value: str) -> str:
    """A local path resolved (so a relative path names one place), a hub name as it is."""
    path = Path(os.path.expanduser(value))
    return str(path.resolve()) if path.exists() else value


def describe_source(data: DataConfig) -> dict[str, Any]:
    """Everything that decides the prepared tokens (the entry key hashes this)."""
    source = DataSource(data.source)
    out: dict[str, Any] = {"source": source.value, "tokenizer": TokenizerKind(data.tokenizer).value,
                           "vocab_size": vocab_size(data), "eval_tokens": data.eval_tokens}
    if source is DataSource.hf:
        out.update(hf_path=_local_or_name(data.hf_path), hf_name=data.hf_name, split=data.split,
                   eval_split=data.eval_split, text_field=data.text_field)
    else:
        out["synthetic"] = synthetic_spec(data).to_dict()
        out["documents_per_shard"] = data.synthetic.documents_per_shard  # the units' size
    if TokenizerKind(data.tokenizer) is TokenizerKind.pretrained:
        out.update(tokenizer_name=_local_or_name(data.tokenizer_name), add_bos=data.add_bos)
    return out


def prepared_key(data: DataConfig) -> str:
    blob = json.dumps([PREPARED_VERSION, describe_source(data)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def prepared_path(data: DataConfig) -> Path:
    """The entry folder of `data` (which may not exist yet)."""
    source = DataSource(data.source)
    if source is DataSource.hf:
        name = Path(data.hf_path.rstrip("/")).name + (f"-{data.hf_name}" if data.hf_name else "")
    else:
        s = data.synthetic
        name = f"o{s.order}-b{s.branching}-s{s.seed}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return Path(data.cache_dir) / f"{source.value}-{name}-v{vocab_size(data)}-{prepared_key(data)[:12]}"


# ---------------------------------------------------------------------------------------------
# The prepared corpus, as runs see it


def open_prepared(data: DataConfig, seq_len: int) -> TokenStore:
    """The prepared entry of `data`, its files checked against the manifest (sizes; the
    checksums are checked by `sweep prepare`). A missing entry is a ConfigError saying what to run."""
    entry = prepared_path(data)
    manifest_file = entry / MANIFEST_FILE
    if not manifest_file.exists():
        source = DataSource(data.source)
        what = f"data.hf_path={data.hf_path}" if source is DataSource.hf else f"data={source.value}"
        where = (f"{entry} holds no {MANIFEST_FILE}: a `sweep prepare` did not finish there" if entry.exists()
                 else f"{entry} does not exist")
        raise ConfigError(f"{what} is not prepared ({where}): run `sweep prepare` with the sweep's overrides "
                          "first (README: Data)")
    corpus = _check_entry(entry, data, verify_checksums=False)
    if corpus.n_train_tokens < seq_len + 1 or corpus.manifest["eval"]["n_tokens"] < seq_len + 1:
        raise ConfigError(
            f"prepared corpus {entry} holds {corpus.n_train_tokens} train and "
            f"{corpus.manifest['eval']['n_tokens']} eval tokens, fewer than one sequence of "
            f"model.seq_len + 1 = {seq_len + 1}: run `sweep prepare` with the sweep's overrides"
        )
    return corpus


def _check_entry(entry: Path, data: DataConfig, verify_checksums: bool) -> TokenStore:
    manifest = read_manifest(entry, streamed=True)
    if not all(k in manifest for k in ("shards", "eval", "dtype")):
        raise _unusable(entry, f"{MANIFEST_FILE} is unreadable or incomplete (it lacks shards, eval or dtype)")
    if manifest.get("version") != PREPARED_VERSION:
        raise _unusable(entry, f"it has version {manifest.get('version')!r}, this code reads {PREPARED_VERSION}")
    if manifest.get("description") != describe_source(data):
        raise _unusable(entry, "its manifest describes another corpus than the config")
    try:
        vocab_size, eos_id = int(manifest["vocab_size"]), int(manifest["eos_id"])
    except (KeyError, TypeError, ValueError) as err:
        raise _unusable(entry, f"{MANIFEST_FILE} has an incomplete entry ({type(err).__name__}: {err})") from err
    check_token_files(entry, manifest, checksum_max_bytes=math.inf if verify_checksums else None, streamed=True)
    return TokenStore(entry, manifest, vocab_size, eos_id)


def _unusable(entry: Path, what: str) -> ConfigError:
    return unusable(entry, what, streamed=True)


# ---------------------------------------------------------------------------------------------
# Preparing


def prepare_streamed(data: DataConfig, train_tokens: int, workers: int = 1) -> TokenStore:
    """Make the entry of `data` hold at least `train_tokens` train tokens (fewer only when the
    dataset ends first), plus its eval split; resume or extend an existing entry."""
    check_entry_inputs(data)
    check_workers(workers)
    entry = prepared_path(data)
    try:
        entry.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"data.cache_dir={data.cache_dir!r} cannot be created ({err})") from err
    with entry_lock(entry):
        for stale in entry.glob("*.tmp-*"):  # left by a killed prepare
            stale.unlink()
        if (entry / MANIFEST_FILE).exists():
            corpus = _checked_or_repaired(data, entry)
            manifest = corpus.manifest
        else:
            manifest = _new_manifest(data, entry)
        if not manifest["eval"]:
            manifest["eval"] = _prepare_eval(data, entry)
            _save(entry, manifest)
        if manifest["n_train_tokens"] < train_tokens and not manifest["exhausted"]:
            _prepare_train(data, entry, manifest, train_tokens, workers)
        if manifest.get("density", {}).get("n_shards") != len(manifest["shards"]):
            manifest["density"] = _density(data, entry, manifest)
            _save(entry, manifest)
        return _check_entry(entry, data, verify_checksums=False)


def _checked_or_repaired(data: DataConfig, entry: Path) -> TokenStore:
    """The entry checked whole (sizes and checksums); a train shard (or the eval split) that is
    missing, truncated or altered is made again from its unit first (tokenizing is deterministic:
    the new file must have the manifest's sha256, or its source has changed and the error says so).
    A manifest of another corpus or version stays the error it is."""
    try:
        return _check_entry(entry, data, verify_checksums=True)
    except ConfigError as damage:
        try:
            manifest = read_manifest(entry, streamed=True)
        except ConfigError:  # its advice is to run `sweep prepare`, this very command
            raise ConfigError(f"prepared corpus {entry}: its {MANIFEST_FILE} is missing, not valid JSON or not a JSON "
                              "object, so its shards cannot be checked or made again: delete that folder and run this "
                              "command again") from None
        if (manifest.get("version") != PREPARED_VERSION or manifest.get("description") != describe_source(data)
                or not isinstance(manifest.get("shards"), list)
                or not all(isinstance(s, dict) and {"unit", "file", "n_tokens", "sha256"} <= s.keys()
                           for s in manifest["shards"])):
            raise
        remade = _remake_shards(data, entry, manifest)
        if not remade:
            raise damage
        log.warning("%s: made again from their units (damaged or missing): %s", entry.name, ", ".join(remade))
        return _check_entry(entry, data, verify_checksums=True)


def _remake_shards(data: DataConfig, entry: Path, manifest: dict[str, Any]) -> list[str]:
    """Tokenize again the unit of each shard (and the eval split) whose file is missing or differs
    from its manifest entry; returns their file names. ConfigError where one no longer comes out
    as recorded."""
    itemsize = token_dtype(int(manifest["vocab_size"])).itemsize
    skip0 = (manifest.get("eval") or {}).get("records_from_unit0", 0)
    remade = []
    def intact(path: Path, recorded: dict[str, Any]) -> bool:  # its recorded size and sha256
        return (path.is_file() and path.stat().st_size == int(recorded["n_tokens"]) * itemsize
                and sha256_file(path) == recorded["sha256"])

    for shard in manifest["shards"]:
        if intact(entry / shard["file"], shard):
            continue
        made = _tokenize_unit(data, str(entry), int(shard["unit"]), skip0 if int(shard["unit"]) == 0 else 0)
        tmp = entry / made.pop("tmp")
        if made["sha256"] != shard["sha256"]:
            tmp.unlink()
            raise unusable(entry, f"{shard['file']} is damaged, and its unit {shard['unit']} no longer tokenizes to "
                                  "the shard its manifest records (the dataset or tokenizer changed)", streamed=True)
        os.replace(tmp, entry / shard["file"])
        remade.append(shard["file"])
    held_out = manifest.get("eval") or {}
    if {"n_tokens", "sha256"} <= held_out.keys() and not intact(entry / EVAL_FILE, held_out):
        if _prepare_eval(data, entry)["sha256"] != held_out["sha256"]:  # written over the damaged one
            raise unusable(entry, f"{EVAL_FILE} is damaged, and the eval split no longer tokenizes to the one its "
                                  "manifest records (the dataset or tokenizer changed)", streamed=True)
        remade.append(EVAL_FILE)
    return remade


def _new_manifest(data: DataConfig, entry: Path) -> dict[str, Any]:
    V = vocab_size(data)
    tokenizer = _make_tokenizer(data, entry)
    manifest: dict[str, Any] = {
        "version": PREPARED_VERSION,
        "description": describe_source(data),
        "source": DataSource(data.source).value,
        "tokenizer": TokenizerKind(data.tokenizer).value,
        "add_bos": bool(getattr(tokenizer, "bos_id", None) is not None),
        "vocab_size": V,
        "eos_id": tokenizer.eos_id,
        "bos_id": tokenizer.bos_id,
        "dtype": token_dtype(V).name,
        "n_units": _unit_count(data),  # null: unbounded (synthetic)
        "eval": {},
        "shards": [],
        "n_train_tokens": 0,
        "n_train_documents": 0,
        "exhausted": False,
        "created": _now(),
    }
    if DataSource(data.source) is DataSource.synthetic:
        spec = synthetic_spec(data)
        manifest["true_entropy_nats"] = entropy_rate(spec)
    _save(entry, manifest)
    return manifest


def _make_tokenizer(data: DataConfig, entry: Path) -> Tokenizer:
    """The tokenizer, saved into the entry for the workers and the runs."""
    tokenizer = new_tokenizer(data)
    tokenizer.save(entry)
    return tokenizer


# Each worker process loads the entry's tokenizer once.
_entry_tokenizer = functools.lru_cache(maxsize=4)(load_tokenizer)


def _eos_id(data: DataConfig, entry: str) -> int:
    kind = TokenizerKind(data.tokenizer)
    if kind is TokenizerKind.none:
        return SyntheticIds(vocab_size(data)).eos_id
    return _entry_tokenizer(kind, entry, vocab_size(data), data.add_bos).eos_id


def _unit_count(data: DataConfig) -> int | None:
    if DataSource(data.source) is DataSource.synthetic:
        return None
    from sweep.data.hf_source import unit_count

    return unit_count(data)


def _prepare_eval(data: DataConfig, entry: Path) -> dict[str, Any]:
    """Write eval.bin: whole documents until data.eval_tokens tokens are held."""
    start = time.monotonic()
    dtype = token_dtype(vocab_size(data))
    tmp = entry / f"{EVAL_FILE}.tmp-{os.getpid()}"
    writer = SplitWriter(tmp, dtype, vocab_size(data), eos_id=_eos_id(data, str(entry)))
    if DataSource(data.source) is DataSource.synthetic:
        spec, V = synthetic_spec(data), vocab_size(data)
        first = 0
        while writer.n_tokens < data.eval_tokens:
            docs = documents(spec, V, V - 1, "eval", first, 256)
            for doc in docs:
                writer.write(doc)
                if writer.n_tokens >= data.eval_tokens:
                    break
            first += len(docs)
        records = None
    else:
        from sweep.data.hf_source import eval_documents

        tokenizer = _entry_tokenizer(TokenizerKind(data.tokenizer), str(entry), vocab_size(data), data.add_bos)
        records = 0
        for text in eval_documents(data):
            records += 1
            if text.strip():
                writer.write(tokenizer.encode_stream([text]))
            if writer.n_tokens >= data.eval_tokens:
                break
        if writer.n_tokens < data.eval_tokens:
            writer.close()
            tmp.unlink()
            split = data.eval_split or f"{data.split} (its first unit)"
            raise ConfigError(
                f"data.hf_path={data.hf_path!r} split {split} holds {writer.n_tokens} tokens, fewer "
                f"than data.eval_tokens={data.eval_tokens}: lower data.eval_tokens"
            )
    writer.close()
    os.rename(tmp, entry / EVAL_FILE)
    log.info("eval split: %d tokens in %d documents (%.1f s)", writer.n_tokens, writer.n_documents,
             time.monotonic() - start)
    return {"n_tokens": writer.n_tokens, "n_documents": writer.n_documents, "sha256": writer.sha256.hexdigest(),
            # data.eval_split null: unit 0's first records are eval, and its shard skips them
            "records_from_unit0": records if data.eval_split is None and records is not None else 0}


def _prepare_train(data: DataConfig, entry: Path, manifest: dict[str, Any], wanted: int,
                   workers: int) -> None:
    """Tokenize the next units, `workers` at a time, until the shards hold `wanted` tokens."""
    n_units = manifest["n_units"]
    next_unit = len(manifest["shards"])
    skip0 = manifest["eval"]["records_from_unit0"]
    started = time.monotonic()
    in_flight: list[tuple[int, concurrent.futures.Future]] = []
    pool = _pool(workers)
    with progress(wanted, f"prepare {_short_name(data)}", unit="train tokens",
                  start=min(manifest["n_train_tokens"], wanted)) as bar:
        try:
            while True:
                # Keep as many units in flight as the tokens still missing need (by the mean so far).
                shards = manifest["shards"]
                missing = wanted - manifest["n_train_tokens"] - sum(_mean_tokens(shards) for _ in in_flight)
                while (missing > 0 and len(in_flight) < workers
                       and (n_units is None or next_unit < n_units)):
                    skip = skip0 if next_unit == 0 else 0
                    in_flight.append((next_unit, pool.submit(_tokenize_unit, data, str(entry), next_unit, skip)))
                    next_unit += 1
                    missing -= _mean_tokens(shards)
                if not in_flight:
                    break
                unit, future = in_flight.pop(0)  # record in unit order
                shard = future.result()
                os.rename(entry / shard.pop("tmp"), entry / shard["file"])
                shards.append(shard)
                manifest["n_train_tokens"] += shard["n_tokens"]
                manifest["n_train_documents"] += shard["n_documents"]
                manifest["exhausted"] = n_units is not None and len(shards) >= n_units
                manifest["updated"] = _now()
                manifest["worker_tokens_per_second"] = _worker_rate(shards)
                _save(entry, manifest)
                elapsed = time.monotonic() - started
                units = f"{unit}/{n_units}" if n_units else f"{unit}"
                bar.update(done=min(manifest["n_train_tokens"], wanted), info=f"unit {units}")
                log.debug("unit %s: %s tokens in %.1f s; %s of %s train tokens prepared (%.0f s)", units,
                          f"{shard['n_tokens']:,}", shard["seconds"], f"{manifest['n_train_tokens']:,}",
                          f"{wanted:,}", elapsed)
        finally:
            for _, future in in_flight:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for stale in entry.glob("*.tmp-*"):
                stale.unlink()
    if manifest["exhausted"] and manifest["n_train_tokens"] < wanted:
        log.warning("the dataset ended after %s train tokens, fewer than the %s asked for: runs needing "
                    "more repeat data (data.max_epochs allows it)", f"{manifest['n_train_tokens']:,}", f"{wanted:,}")


def _short_name(data: DataConfig) -> str:
    """The corpus in a few words: its dataset's last path part, or 'synthetic'."""
    if DataSource(data.source) is DataSource.synthetic:
        return "synthetic"
    return str(data.hf_path).rstrip("/").rsplit("/", 1)[-1]


def _mean_tokens(shards: list[dict]) -> float:
    """Expected tokens of the next unit: the mean of those done (0 before any: start `workers`)."""
    return sum(s["n_tokens"] for s in shards) / len(shards) if shards else 0.0


def _worker_rate(shards: list[dict]) -> float:
    return round(sum(s["n_tokens"] for s in shards) / max(sum(s["seconds"] for s in shards), 1e-9), 1)


class _InlinePool:
    """workers=1: run units in this process (no start-up cost, plain tracebacks)."""

    def submit(self, fn, *args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as err:  # noqa: BLE001 (re-raised by result())
            future.set_exception(err)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


WORKERS_PER_CORE = 2  # --workers accepted per core this process may use: more only queue for the same cores


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a Slurm job's allocation, a taskset)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_workers(workers: int) -> None:
    """ConfigError unless `workers` is a whole number from 1 to WORKERS_PER_CORE per usable core: each
    worker is a process starting its own tokenizer, and 64 of them on 2 cores had not finished in 120 s
    (1 took 13 s)."""
    cores = usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= WORKERS_PER_CORE * cores:
        raise ConfigError(f"--workers {workers}: accepted is a whole number from 1 to {WORKERS_PER_CORE * cores} "
                          f"({WORKERS_PER_CORE} per core of the {cores} this machine lets it use: each worker is a "
                          "tokenizer process, and more only queue for the same cores)")


def _pool(workers: int):
    if workers == 1:
        return _InlinePool()
    # spawn: workers start clean (no forked tokenizer threads or torch state); one tokenizer thread
    # each, so that N workers use N cores (one worker lets `tokenizers` use every core itself)
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_one_thread)


def _one_thread() -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _tokenize_unit(data: DataConfig, entry: str, unit: int, skip: int) -> dict[str, Any]:
    """In a worker: write unit `unit`'s tokens to a temporary shard file; describe it."""
    start = time.monotonic()
    V = vocab_size(data)
    name = f"train-{unit:05d}.bin"
    tmp = f"{name}.tmp-{os.getpid()}"
    writer = SplitWriter(Path(entry) / tmp, token_dtype(V), V, eos_id=_eos_id(data, entry))
    for stream_T in _unit_streams(data, entry, unit, skip):
        writer.write(stream_T)
    writer.close()
    return {"unit": unit, "file": name, "tmp": tmp, "n_tokens": writer.n_tokens,
            "n_documents": writer.n_documents, "sha256": writer.sha256.hexdigest(),
            "seconds": round(time.monotonic() - start, 3)}


def _unit_streams(data: DataConfig, entry: str, unit: int, skip: int) -> Iterator[np.ndarray]:
    """Token arrays of one unit, in order (documents each ending with EOS)."""
    if DataSource(data.source) is DataSource.synthetic:
        spec, V = synthetic_spec(data), vocab_size(data)
        per_shard = data.synthetic.documents_per_shard
        for first in range(unit * per_shard, (unit + 1) * per_shard, 4096):
            n = min(4096, (unit + 1) * per_shard - first)
            yield document_tokens(spec, V, V - 1, "train", first, n)[0]
        return
    from sweep.data.hf_source import unit_documents

    tokenizer = _entry_tokenizer(TokenizerKind(data.tokenizer), entry, vocab_size(data), data.add_bos)
    pending: list[str] = []
    for text in unit_documents(data, unit, skip):
        if text.strip():
            pending.append(text)
        if len(pending) >= _ENCODE_BATCH_DOCS:
            yield tokenizer.encode_stream(pending)
            pending.clear()
    if pending:
        yield tokenizer.encode_stream(pending)


def _density(data: DataConfig, entry: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The data-density report of the first train documents (sweep/data/density.py)."""
    from sweep.data.density import density_report

    corpus = TokenStore(entry, manifest, int(manifest["vocab_size"]), int(manifest["eos_id"]))
    tokens = corpus.train_tokens()
    sample_T = tokens[: min(len(tokens), _DENSITY_MAX_TOKENS)]
    report = density_report(sample_T, corpus.eos_id, max_documents=data.density_documents)
    report["n_shards"] = len(manifest["shards"])
    return report


# ---------------------------------------------------------------------------------------------
# Small things


def _save(entry: Path, manifest: dict[str, Any]) -> None:
    write_manifest(entry, manifest)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def tokens_needed(tokens_read: int, seq_len: int, max_epochs: float | None) -> int:
    """Train tokens a run reading `tokens_read` tokens needs prepared (one window to spare)."""
    passes = max_epochs if max_epochs is not None else 1.0
    return int(math.ceil(tokens_read / passes)) + seq_len + 1
