"""Local corpora (data=embedded / files): tokenized once, by the first run, into one token store
entry (sweep/data/store.py), shared by every run of a sweep.

One entry per (corpus, tokenizer, V, held-out size, cache version), a folder in `data.cache_dir`
named `{source}-{tokenizer}-v{V}-{key[:12]}` holding:

    train.bin      train stream: each document's ids then EOS, documents in corpus order
    eval.bin       held-out stream, same layout (uint16 when V <= 65536, else uint32)
    manifest.json  counts, dtype, sha256 of each .bin, fingerprint of the corpus
    tokenizer.json the trained BPE (bpe only)

The held-out split is fixed: documents ordered by the sha1 of their text go to eval until it
holds at least `data.eval_tokens` tokens (exact duplicates of an eval document go with it);
every other document is train. A BPE is trained on train documents only.

An entry is built in a temporary folder next to its final place and renamed into it, under the
entry's lock (store.entry_lock): concurrent runs build it once, and nobody reads a half-written
entry. An existing entry is checked when opened; a bad one is reported, never rebuilt over.

Letters: M documents of the corpus (README "The science: Letters").
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from sweep.config import DataConfig, DataSource, TokenizerKind
from sweep.data.corpus import iter_documents, source_fingerprint
from sweep.data.checks import check_entry_inputs
from sweep.data.density import density_report
from sweep.data.store import (
    EVAL_FILE,
    MANIFEST_FILE,
    TRAIN_FILE,
    SplitWriter,
    TokenStore,
    check_token_files,
    entry_lock,
    memmap_tokens,
    read_manifest,
    token_dtype,
    unusable,
    write_manifest,
)
from sweep.data.tokenizer import BpeTokenizer, Tokenizer, new_tokenizer, vocab_size
from sweep.errors import ConfigError
from sweep.progress import progress
from sweep.storage import fsync_dir, nearest_existing, remove_empty_folders

log = logging.getLogger("sweep.data")

# Bump when the layout or the split changes: old entries then get other keys (other folders).
CACHE_VERSION = 1

_CHECKSUM_MAX_BYTES = 1 << 30  # above 1 GB, opening would hash for seconds per run: sizes only
_ENCODE_BATCH_DOCS = 1024
_PROGRESS_DELAY_S = 1.0  # a corpus tokenized sooner shows no progress
_BPE_HOLDOUT_BYTES_PER_TOKEN = 4  # first guess at a BPE's bytes per token (doubled if short)
_MANIFEST_KEYS = ("version", "source", "tokenizer", "vocab_size", "eos_id", "dtype",
                  "n_train_tokens", "n_eval_tokens", "sha256")


def cache_key(data: DataConfig) -> str:
    """sha256 (hex) of everything that decides an entry's content."""
    parts = [CACHE_VERSION, DataSource(data.source).value, TokenizerKind(data.tokenizer).value,
             vocab_size(data), data.text_field, data.eval_tokens, source_fingerprint(data)]
    if TokenizerKind(data.tokenizer) is TokenizerKind.pretrained:
        parts += [str(data.tokenizer_name), bool(data.add_bos)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def cache_entry_path(data: DataConfig) -> Path:
    """The folder of the entry `data` needs (which may not exist yet)."""
    name = (f"{DataSource(data.source).value}-{TokenizerKind(data.tokenizer).value}"
            f"-v{vocab_size(data)}-{cache_key(data)[:12]}")
    return Path(data.cache_dir) / name


def prepare_token_cache(data: DataConfig, seq_len: int) -> TokenStore:
    """The checked token cache entry for `data`, built first if it does not exist yet.

    `seq_len` only checks that the train split holds at least one sequence.
    """
    check_entry_inputs(data)
    if seq_len < 1:
        raise ConfigError(f"model.seq_len={seq_len}: must be >= 1")
    entry = cache_entry_path(data)
    if not entry.exists():  # entries appear complete (by rename) or not at all
        existing = nearest_existing(entry.parent)
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"data.cache_dir={data.cache_dir!r} cannot be created ({err})"
            ) from err
        try:
            with entry_lock(entry):
                if not entry.exists():  # another process may have built it while we waited
                    _build_entry(data, entry)
        except BaseException:  # a corpus too small, an interrupt: no empty data.cache_dir stays behind
            remove_empty_folders(entry.parent, existing)
            raise
    return _open_entry(entry, data, seq_len)


# ---------------------------------------------------------------------------------------------
# Building


def _build_entry(data: DataConfig, entry: Path) -> None:
    """Tokenize the corpus into a temporary folder, check it, rename it to `entry`."""
    for stale in entry.parent.glob(f".{entry.name}.tmp-*"):  # left by a killed builder
        shutil.rmtree(stale, ignore_errors=True)
    tmp = entry.parent / f".{entry.name}.tmp-{os.getpid()}"
    tmp.mkdir()
    source, kind = DataSource(data.source).value, TokenizerKind(data.tokenizer).value
    log.info("tokenizing %s corpus with %s tokenizer -> %s", source, kind, entry)
    start = time.monotonic()
    try:
        manifest = _tokenize_corpus(data, tmp)
        if manifest["n_train_tokens"] == 0:
            raise ConfigError(
                f"the held-out split took every document of the corpus ({manifest['n_eval_documents']} "
                f"documents, {manifest['n_eval_tokens']} tokens for data.eval_tokens={data.eval_tokens}), "
                "leaving none to train on: lower data.eval_tokens or add documents")
        manifest["build_seconds"] = round(time.monotonic() - start, 3)
        manifest["density"] = density_report(
            memmap_tokens(tmp / TRAIN_FILE, manifest["dtype"], manifest["n_train_tokens"]),
            manifest["eos_id"], max_documents=data.density_documents)
        write_manifest(tmp, manifest)
        os.rename(tmp, entry)
        fsync_dir(entry.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info(
        "token cache ready in %.1f s: %d documents (%d train, %d eval), %d train tokens, "
        "%d eval tokens -> %s", manifest["build_seconds"],
        manifest["n_train_documents"] + manifest["n_eval_documents"],
        manifest["n_train_documents"], manifest["n_eval_documents"],
        manifest["n_train_tokens"], manifest["n_eval_tokens"], entry,
    )


def _tokenize_corpus(data: DataConfig, folder: Path) -> dict:
    """Write train.bin, eval.bin (and tokenizer.json) into `folder`; return the manifest."""
    V = vocab_size(data)
    dtype = token_dtype(V)

    # Pass 1: a hash and a length per document, to choose the held-out split.
    hashes, n_bytes = [], []
    for doc in iter_documents(data):
        raw = doc.encode("utf-8")
        hashes.append(int.from_bytes(hashlib.sha1(raw).digest()[:8], "big"))
        n_bytes.append(len(raw))
    n_docs = len(hashes)
    if n_docs == 0:
        raise ConfigError(f"the {DataSource(data.source).value} corpus has no non-empty document")
    hash_M = np.array(hashes, dtype=np.uint64)
    bytes_M = np.array(n_bytes, dtype=np.int64)
    order_M = np.argsort(hash_M, kind="stable")  # documents by hash, ties in corpus order

    # The eval documents (in hash order), with their token streams when already known.
    eval_ids: dict[int, np.ndarray] = {}
    if TokenizerKind(data.tokenizer) is TokenizerKind.byte:  # its token counts are the bytes + EOS
        tokenizer = new_tokenizer(data)
        k = _prefix_len(hash_M[order_M], bytes_M[order_M] + 1, data.eval_tokens)
        eval_docs = order_M[:k]
        n_eval_tokens = int((bytes_M[eval_docs] + 1).sum())
        _check_eval_reached(data, n_eval_tokens, int((bytes_M + 1).sum()))
    else:
        tokenizer, eval_docs, eval_ids = _hold_out(data, hash_M, bytes_M, order_M)
    tokenizer.save(folder)
    if isinstance(tokenizer, BpeTokenizer) and tokenizer.trained_size < V:
        log.warning("the BPE learned %d of the %d entries of data.vocab_size: the corpus has too few distinct "
                    "merges, and the model's embedding and head keep rows for all %d ids, counted in N and in its "
                    "token budget though never seen; data.vocab_size=%d fits this corpus", tokenizer.trained_size, V,
                    V, tokenizer.trained_size)

    # Last pass: tokenize and write. Train documents stream to disk in corpus order.
    is_eval_M = np.zeros(n_docs, dtype=bool)
    is_eval_M[eval_docs] = True
    train = SplitWriter(folder / TRAIN_FILE, dtype, V)
    pending: list[str] = []
    n_seen = 0
    with progress(n_docs, f"tokenize {DataSource(data.source).value} corpus", unit="documents",
                  delay_s=_PROGRESS_DELAY_S) as bar:
        for i, doc in enumerate(iter_documents(data)):
            n_seen = i + 1
            if n_seen > n_docs:
                break
            if is_eval_M[i]:
                if i not in eval_ids:
                    eval_ids[i] = tokenizer.encode_stream([doc])
                continue
            pending.append(doc)
            if len(pending) >= _ENCODE_BATCH_DOCS:
                train.write(tokenizer.encode_stream(pending))
                pending.clear()
                bar.update(done=n_seen, info=f"{train.n_tokens:,} train tokens")
        train.write(tokenizer.encode_stream(pending))
        bar.update(done=min(n_seen, n_docs), info=f"{train.n_tokens:,} train tokens")
    train.close()
    if n_seen != n_docs:
        raise ConfigError(
            f"the corpus changed while it was being tokenized ({n_docs} documents, then "
            f"{n_seen}{'+' if n_seen > n_docs else ''}): run again once data.paths is stable"
        )
    evals = SplitWriter(folder / EVAL_FILE, dtype, V)
    for i in eval_docs:
        evals.write(eval_ids[int(i)])
    evals.close()
    _check_eval_reached(data, evals.n_tokens, train.n_tokens + evals.n_tokens)

    manifest = {
        "version": CACHE_VERSION,
        "source": DataSource(data.source).value,
        "tokenizer": TokenizerKind(data.tokenizer).value,
        "vocab_size": V,
        "eos_id": tokenizer.eos_id,
        "bos_id": tokenizer.bos_id,
        "add_bos": tokenizer.bos_id is not None,
        "dtype": np.dtype(dtype).name,
        "n_train_tokens": train.n_tokens,
        "n_eval_tokens": evals.n_tokens,
        "n_train_documents": int(n_docs - is_eval_M.sum()),
        "n_eval_documents": int(is_eval_M.sum()),
        "eval_tokens_requested": data.eval_tokens,
        "distinct_train_token_ids": train.distinct_ids(),
        "distinct_eval_token_ids": evals.distinct_ids(),
        "sha256": {TRAIN_FILE: train.sha256.hexdigest(), EVAL_FILE: evals.sha256.hexdigest()},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": source_fingerprint(data),
        "key": cache_key(data),
    }
    if isinstance(tokenizer, BpeTokenizer):
        manifest["bpe_trained_size"] = tokenizer.trained_size
    return manifest


def _hold_out(
    data: DataConfig, hash_M: np.ndarray, bytes_M: np.ndarray, order_M: np.ndarray,
) -> tuple[Tokenizer, np.ndarray, dict[int, np.ndarray]]:
    """Choose the eval documents when only the tokenizer can count their tokens, and make that
    tokenizer (a BPE: trained without the eval documents) from the train documents.

    Hold out the first documents in hash order worth `factor` bytes per wanted eval token,
    make the tokenizer from the rest, and keep as eval the shortest prefix of the held-out
    documents that reaches data.eval_tokens tokens (the remainder becomes train data, unseen by
    a BPE). When even the held-out documents fall short, double `factor` and try again.
    """
    n_docs = len(hash_M)
    hash_sorted, bytes_sorted = hash_M[order_M], bytes_M[order_M]
    factor = _BPE_HOLDOUT_BYTES_PER_TOKEN
    while True:
        k_held = _prefix_len(hash_sorted, bytes_sorted + 1, factor * data.eval_tokens)
        if k_held >= n_docs:
            raise ConfigError(
                f"the {DataSource(data.source).value} corpus ({n_docs} documents, "
                f"{int(bytes_M.sum())} bytes) is too small for data.tokenizer={data.tokenizer.value}: setting aside "
                f"{factor * data.eval_tokens} bytes ({factor} per token of data.eval_tokens="
                f"{data.eval_tokens}) for the held-out split leaves no document to train it on, "
                "so add documents or lower data.eval_tokens"
            )
        held_M = np.zeros(n_docs, dtype=bool)
        held_M[order_M[:k_held]] = True
        held_text: dict[int, str] = {}

        def train_documents() -> Iterator[str]:
            for i, doc in enumerate(iter_documents(data)):
                if held_M[i]:
                    held_text[i] = doc
                else:
                    yield doc

        documents = train_documents()
        tokenizer = new_tokenizer(data, documents)
        for _ in documents:  # what the tokenizer did not read (all of it, for a pretrained one)
            pass
        held_docs = order_M[:k_held]
        missing = [int(i) for i in held_docs if int(i) not in held_text]
        if missing:
            raise ConfigError(
                "the corpus changed while it was being tokenized (a document disappeared): "
                "run again once data.paths is stable"
            )
        streams = [tokenizer.encode_stream([held_text[int(i)]]) for i in held_docs]
        counts = np.array([len(s) for s in streams], dtype=np.int64)
        k = _prefix_len(hash_sorted[:k_held], counts, data.eval_tokens)
        if counts[:k].sum() >= data.eval_tokens:
            eval_docs = held_docs[:k]
            return tokenizer, eval_docs, {int(i): s for i, s in zip(eval_docs, streams)}
        log.info("held-out documents hold %d tokens, fewer than data.eval_tokens=%d: "
                 "holding out more and trying again", counts.sum(), data.eval_tokens)
        factor *= 2


def _prefix_len(hash_sorted: np.ndarray, count_sorted: np.ndarray, target: int) -> int:
    """How many documents (in hash order) it takes to hold `target` tokens.

    Exact duplicates of the last one taken are taken too, so that no copy of an eval document
    lands in train. All documents when they hold fewer than `target`.
    """
    cum = np.cumsum(count_sorted)
    k = int(np.searchsorted(cum, target, side="left")) + 1
    if k >= len(cum):
        return len(cum)
    while k < len(hash_sorted) and hash_sorted[k] == hash_sorted[k - 1]:
        k += 1
    return k


def _check_eval_reached(data: DataConfig, n_eval: int, n_total: int) -> None:
    if n_eval < data.eval_tokens:
        raise ConfigError(
            f"the {DataSource(data.source).value} corpus holds only {n_total} tokens with the "
            f"{TokenizerKind(data.tokenizer).value} tokenizer, fewer than the "
            f"data.eval_tokens={data.eval_tokens} to hold out plus a training set: add "
            "documents or lower data.eval_tokens"
        )


# ---------------------------------------------------------------------------------------------
# Opening and checking


def check_cache_entry(data: DataConfig) -> None:
    """The entry of `data`, where one exists, is whole: its manifest fits the config and its
    files have the sizes it lists (no checksum: a stat per file, cheap enough for every grid
    before its first job, as a prepared corpus's shards are checked). None yet: the first run
    builds it."""
    entry = cache_entry_path(data)
    if entry.exists():
        manifest = _checked_manifest(entry, data)
        check_token_files(entry, manifest, checksum_max_bytes=None, streamed=False)


def _open_entry(entry: Path, data: DataConfig, seq_len: int) -> TokenStore:
    """Check an existing entry against its manifest and the config; wrap it."""
    manifest = _checked_manifest(entry, data)
    # Hashing a multi-GB file would cost every run seconds: above 1 GB sizes alone are
    # checked, the checksum stays in the manifest for `sha256sum` by hand.
    check_token_files(entry, manifest, checksum_max_bytes=_CHECKSUM_MAX_BYTES, streamed=False)
    cache = TokenStore(path=entry, manifest=manifest, vocab_size=vocab_size(data), eos_id=int(manifest["eos_id"]))
    if manifest["tokenizer"] in (TokenizerKind.bpe.value, TokenizerKind.pretrained.value):
        try:
            cache.tokenizer()
        except Exception as err:  # tokenizers raises plain Exceptions for a bad file
            raise _unusable(entry, f"its tokenizer cannot be loaded ({err})") from err
    if manifest["n_train_tokens"] < seq_len + 1:
        raise ConfigError(
            f"the {manifest['source']} corpus leaves {manifest['n_train_tokens']} train tokens "
            f"after holding out {manifest['n_eval_tokens']} eval tokens, fewer than one "
            f"sequence of model.seq_len + 1 = {seq_len + 1} tokens: add documents, or lower "
            "data.eval_tokens or model.seq_len"
        )
    return cache


def _checked_manifest(entry: Path, data: DataConfig) -> dict:
    """An existing entry's manifest, with every field the config decides as the config needs it."""
    V = vocab_size(data)
    manifest = read_manifest(entry, streamed=False)
    if any(k not in manifest for k in _MANIFEST_KEYS):
        raise _unusable(entry, f"{MANIFEST_FILE} lacks one of {', '.join(_MANIFEST_KEYS)}")
    if not (isinstance(manifest["sha256"], dict) and isinstance(manifest["eos_id"], int)
            and all(isinstance(manifest[k], int) and manifest[k] >= 0
                    for k in ("n_train_tokens", "n_eval_tokens"))):
        raise _unusable(entry, f"{MANIFEST_FILE} has a field of the wrong type")
    if manifest["version"] != CACHE_VERSION:
        raise _unusable(entry, f"it has cache version {manifest['version']!r}, this code "
                               f"reads version {CACHE_VERSION}")
    wanted = {"source": DataSource(data.source).value,
              "tokenizer": TokenizerKind(data.tokenizer).value, "vocab_size": V,
              "dtype": token_dtype(V).name}
    for name, value in wanted.items():
        if manifest[name] != value:
            raise _unusable(entry, f"its manifest says {name}={manifest[name]!r} where the "
                                   f"config needs {value!r}")
    return manifest


def _unusable(entry: Path, what: str) -> ConfigError:
    return unusable(entry, what, streamed=False)
