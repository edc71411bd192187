"""Streamed corpora (data=hf / c4, data=synthetic), tokenized once by `sweep prepare` into shards.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sweep.config import DataConfig, DataSource, TokenizerKind
from sweep.data.cache import _dtype_for, _fsync_dir, _locked, _memmap, _sha256_file, _SplitWriter, _write_json
from sweep.data.shards import ShardedTokens
from sweep.data.synthetic import document_tokens, documents, entropy_rate
from sweep.data.tokenizer import (
    PRETRAINED_DIR,
    ByteTokenizer,
    PretrainedTokenizer,
    Tokenizer,
    vocab_size,
)
from sweep.errors import ConfigError

log = logging.getLogger("sweep.data")

PREPARED_VERSION = 1
MANIFEST_FILE, EVAL_FILE = "manifest.json", "eval.bin"
STREAMED = (DataSource.hf, DataSource.synthetic)
TOKENIZERS = {DataSource.hf: (TokenizerKind.pretrained, TokenizerKind.byte),
              DataSource.synthetic: (TokenizerKind.none,)}

_ENCODE_BATCH_DOCS = 512
_DENSITY_MAX_TOKENS = 64 << 20  # tokens of the first shards the density report may read


def is_streamed(data: DataConfig) -> bool:
    return DataSource(data.source) in STREAMED


def check_tokenizer(data: DataConfig) -> None:
    """The source/tokenizer pair must be one that can work (no data is read)."""
    source, kind = DataSource(data.source), TokenizerKind(data.tokenizer)
    if source in TOKENIZERS and kind not in TOKENIZERS[source]:
        raise ConfigError(f"data.tokenizer={kind.value} does not go with data.source={source.value}: "
                          f"accepted are {', '.join(k.value for k in TOKENIZERS[source])}")
    if source not in TOKENIZERS and kind is TokenizerKind.none:
        raise ConfigError("data.tokenizer=none only goes with data=synthetic (whose ids are its tokens)")
    if kind is TokenizerKind.pretrained and not data.tokenizer_name:
        raise ConfigError("data.tokenizer=pretrained needs data.tokenizer_name: a hub name "
                          "(google-t5/t5-base) or a local tokenizer folder")
    if source is DataSource.hf and not data.hf_path:
        raise ConfigError("data=hf needs data.hf_path: a dataset name on the hub or a local dataset folder")


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


@dataclass
class PreparedCorpus:
    """A checked entry. Token arrays are read-only memory maps."""

    path: Path
    manifest: dict
    vocab_size: int  # V
    eos_id: int

    @property
    def n_train_tokens(self) -> int:
        return int(self.manifest["n_train_tokens"])

    def train_tokens(self) -> ShardedTokens:
        """The train stream, all shards in unit order: length T_train."""
        dtype = self.manifest["dtype"]
        return ShardedTokens([_memmap(self.path / s["file"], dtype, s["n_tokens"])
                              for s in self.manifest["shards"]])

    def eval_tokens(self) -> np.ndarray:
        """The held-out stream, shape (T_eval,)."""
        return _memmap(self.path / EVAL_FILE, self.manifest["dtype"], self.manifest["eval"]["n_tokens"])

    def tokenizer(self) -> Tokenizer:
        return _entry_tokenizer(str(self.path), self.manifest["tokenizer"], self.vocab_size,
                                bool(self.manifest.get("add_bos")))


def open_prepared(data: DataConfig, seq_len: int) -> PreparedCorpus:
    """The prepared entry of `data`, its files checked against the manifest (sizes; the
    checksums are checked by `sweep prepare`). A missing entry is a ConfigError saying what to run."""
    entry = prepared_path(data)
    manifest_file = entry / MANIFEST_FILE
    if not manifest_file.exists():
        raise ConfigError(
            f"data={DataSource(data.source).value} is not prepared ({entry} does not exist): run "
            "`sweep prepare` with the sweep's overrides first (README: Preparing data)"
        )
    corpus = _check_entry(entry, data, verify_checksums=False)
    if corpus.n_train_tokens < seq_len + 1 or corpus.manifest["eval"]["n_tokens"] < seq_len + 1:
        raise ConfigError(
            f"prepared corpus {entry} holds {corpus.n_train_tokens} train and "
            f"{corpus.manifest['eval']['n_tokens']} eval tokens, fewer than one sequence of "
            f"model.seq_len + 1 = {seq_len + 1}: run `sweep prepare` with the sweep's overrides"
        )
    return corpus


def _check_entry(entry: Path, data: DataConfig, verify_checksums: bool) -> PreparedCorpus:
    try:
        manifest = json.loads((entry / MANIFEST_FILE).read_text())
        shards, evals = manifest["shards"], manifest["eval"]
        dtype = np.dtype(manifest["dtype"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise _unusable(entry, f"{MANIFEST_FILE} is unreadable or incomplete ({type(err).__name__}: {err})") from err
    if manifest.get("version") != PREPARED_VERSION:
        raise _unusable(entry, f"it has version {manifest.get('version')!r}, this code reads {PREPARED_VERSION}")
    if manifest.get("description") != describe_source(data):
        raise _unusable(entry, "its manifest describes another corpus than the config")
    try:
        files = [(s["file"], s["n_tokens"], s["sha256"]) for s in shards]
        if evals:
            files.append((EVAL_FILE, evals["n_tokens"], evals["sha256"]))
        vocab_size, eos_id = int(manifest["vocab_size"]), int(manifest["eos_id"])
    except (KeyError, TypeError, ValueError) as err:
        raise _unusable(entry, f"{MANIFEST_FILE} has an incomplete entry ({type(err).__name__}: {err})") from err
    for name, n_tokens, sha in files:
        path = entry / name
        size = path.stat().st_size if path.is_file() else None
        if size != n_tokens * dtype.itemsize:
            raise _unusable(entry, f"{name} holds {size if size is not None else 'no'} bytes where the "
                                   f"manifest's {n_tokens} {dtype.name} tokens need {n_tokens * dtype.itemsize}")
        if verify_checksums and _sha256_file(path) != sha:
            raise _unusable(entry, f"{name} does not match the sha256 in its manifest")
    return PreparedCorpus(entry, manifest, vocab_size, eos_id)


def _unusable(entry: Path, what: str) -> ConfigError:
    return ConfigError(f"prepared corpus {entry} is unusable: {what}; delete that folder and run "
                       "`sweep prepare` again")


# ---------------------------------------------------------------------------------------------
# Preparing


def prepare_streamed(data: DataConfig, train_tokens: int, workers: int = 1) -> PreparedCorpus:
    """Make the entry of `data` hold at least `train_tokens` train tokens (fewer only when the
    dataset ends first), plus its eval split; resume or extend an existing entry."""
    check_tokenizer(data)
    if data.eval_tokens < 1:
        raise ConfigError(f"data.eval_tokens={data.eval_tokens}: must be >= 1")
    if workers < 1:
        raise ConfigError(f"--workers={workers}: must be >= 1")
    entry = prepared_path(data)
    try:
        entry.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"data.cache_dir={data.cache_dir!r} cannot be created ({err})") from err
    with _locked(entry.parent / f".{entry.name}.lock", entry):
        for stale in entry.glob("*.tmp-*"):  # left by a killed prepare
            stale.unlink()
        if (entry / MANIFEST_FILE).exists():
            corpus = _check_entry(entry, data, verify_checksums=True)
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
        "dtype": np.dtype(_dtype_for(V)).name,
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
    kind = TokenizerKind(data.tokenizer)
    if kind is TokenizerKind.pretrained:
        tokenizer = PretrainedTokenizer.load(_local_or_name(data.tokenizer_name), data.add_bos, vocab_size(data))
        tokenizer.save(entry)
        return tokenizer
    if kind is TokenizerKind.byte:
        return ByteTokenizer()
    return _SyntheticIds(data)


class _SyntheticIds(Tokenizer):
    """The synthetic source's ids: EOS is the last id, no text."""

    kind = TokenizerKind.none

    def __init__(self, data: DataConfig):
        self.vocab_size = vocab_size(data)
        self.eos_id = self.vocab_size - 1

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        raise ConfigError("a data=synthetic corpus has no text to encode")

    def decode(self, ids) -> str:
        return " ".join(str(int(i)) for i in ids if i != self.eos_id)


@functools.lru_cache(maxsize=4)
def _entry_tokenizer(entry: str, kind: str, V: int, add_bos: bool) -> Tokenizer:
    """The tokenizer saved in an entry (each worker process loads it once)."""
    kind_ = TokenizerKind(kind)
    if kind_ is TokenizerKind.pretrained:
        return PretrainedTokenizer.load(Path(entry) / PRETRAINED_DIR, add_bos, V)
    if kind_ is TokenizerKind.byte:
        return ByteTokenizer()
    raise ConfigError("a data=synthetic corpus has no tokenizer: its ids are its tokens")


def _eos_id(data: DataConfig, entry: str) -> int:
    if DataSource(data.source) is DataSource.synthetic:
        return vocab_size(data) - 1
    return _entry_tokenizer(entry, TokenizerKind(data.tokenizer).value, vocab_size(data), data.add_bos).eos_id


def _unit_count(data: DataConfig) -> int | None:
    if DataSource(data.source) is DataSource.synthetic:
        return None
    from sweep.data.hf_source import unit_count

    return unit_count(data)


def _prepare_eval(data: DataConfig, entry: Path) -> dict[str, Any]:
    """Write eval.bin: whole documents until data.eval_tokens tokens are held."""
    start = time.monotonic()
    dtype = _dtype_for(vocab_size(data))
    tmp = entry / f"{EVAL_FILE}.tmp-{os.getpid()}"
    writer = _SplitWriter(tmp, dtype, vocab_size(data), eos_id=_eos_id(data, str(entry)))
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

        tokenizer = _entry_tokenizer(str(entry), TokenizerKind(data.tokenizer).value, vocab_size(data), data.add_bos)
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
            log.info("unit %d%s: %s tokens in %.1f s; %s of %s train tokens prepared (%.0f s)", unit,
                     f"/{n_units}" if n_units else "", f"{shard['n_tokens']:,}", shard["seconds"],
                     f"{manifest['n_train_tokens']:,}", f"{wanted:,}", elapsed)
    finally:
        for _, future in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        for stale in entry.glob("*.tmp-*"):
            stale.unlink()
    if manifest["exhausted"] and manifest["n_train_tokens"] < wanted:
        log.warning("the dataset ended after %s train tokens, fewer than the %s asked for: runs needing "
                    "more repeat data (data.max_epochs allows it)", f"{manifest['n_train_tokens']:,}", f"{wanted:,}")


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
    writer = _SplitWriter(Path(entry) / tmp, _dtype_for(V), V, eos_id=_eos_id(data, entry))
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

    tokenizer = _entry_tokenizer(entry, TokenizerKind(data.tokenizer).value, vocab_size(data), data.add_bos)
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

    corpus = PreparedCorpus(entry, manifest, int(manifest["vocab_size"]), int(manifest["eos_id"]))
    tokens = corpus.train_tokens()
    sample_T = tokens[: min(len(tokens), _DENSITY_MAX_TOKENS)]
    report = density_report(sample_T, corpus.eos_id, max_documents=data.density_documents)
    report["n_shards"] = len(manifest["shards"])
    return report


# ---------------------------------------------------------------------------------------------
# Small things


def synthetic_spec(data: DataConfig):
    """data.synthetic as the source's SyntheticSpec (its ranges checked)."""
    from sweep.data.synthetic import SyntheticSpec

    s = data.synthetic
    return SyntheticSpec(seed=s.seed, order=s.order, branching=s.branching, eos_prob=s.eos_prob, zipf=s.zipf,
                         repeat_fraction=s.repeat_fraction, unique_documents=s.unique_documents)


def _save(entry: Path, manifest: dict[str, Any]) -> None:
    tmp = entry / f"{MANIFEST_FILE}.tmp-{os.getpid()}"
    _write_json(tmp, manifest)
    os.rename(tmp, entry / MANIFEST_FILE)
    _fsync_dir(entry)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def tokens_needed(tokens_read: int, seq_len: int, max_epochs: float | None) -> int:
    """Train tokens a run reading `tokens_read` tokens needs prepared (one window to spare)."""
    passes = max_epochs if max_epochs is not None else 1.0
    return int(math.ceil(tokens_read / passes)) + seq_len + 1
