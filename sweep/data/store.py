"""The token store: a corpus's tokens, written once, memory-mapped by every run of a sweep.

Both kinds of corpora keep their tokens this way: a local corpus is tokenized into one entry by
the first run that needs it (sweep/data/local.py), a streamed corpus into shards by
`sweep prepare` (sweep/data/streamed.py). An entry is a folder in `data.cache_dir` holding

    *.bin          token streams: each document's ids then EOS, documents in order (uint16 when
                   V <= 65536, else uint32, `token_dtype`)
    manifest.json  counts, dtype, the sha256 of each .bin, what the tokens were made from
    tokenizer.json / tokenizer/   the tokenizer they were made with (bpe / pretrained)

This module is the part the two share: `SplitWriter` (the one writer of a .bin), `TokenStore`
(the one reader), `write_manifest` / `read_manifest` / `check_token_files` (the one manifest
check, `unusable` its one error), `entry_lock` (one builder per entry at a time) and
`sha256_file`. The manifests' own fields (one train.bin, or a list of shards) are written by
local.py and streamed.py; `TokenStore` reads both.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from sweep.config import TokenizerKind
from sweep.data.shards import ShardedTokens
from sweep.data.tokenizer import Tokenizer, load_tokenizer
from sweep.errors import ConfigError
from sweep.storage import atomic_write, write_failed

log = logging.getLogger("sweep.data")

TRAIN_FILE, EVAL_FILE, MANIFEST_FILE = "train.bin", "eval.bin", "manifest.json"


def token_dtype(V: int) -> np.dtype:
    """The narrowest unsigned type holding every id of a vocabulary of V entries."""
    return np.dtype(np.uint16) if V <= 1 << 16 else np.dtype(np.uint32)


@dataclass
class TokenStore:
    """A checked entry. Token arrays are read-only memory maps.

    Its manifest lists the train tokens as one `train.bin` (`n_train_tokens`, a local corpus)
    or as shards in order (`shards`: file and n_tokens of each, a streamed corpus); the eval
    tokens are `eval.bin` (`n_eval_tokens`, or `eval.n_tokens`)."""

    path: Path
    manifest: dict
    vocab_size: int  # V
    eos_id: int

    @property
    def n_train_tokens(self) -> int:
        return int(self.manifest["n_train_tokens"])

    def train_tokens(self) -> np.ndarray | ShardedTokens:
        """The train stream, length T_train (a streamed corpus's shards read as one)."""
        dtype = self.manifest["dtype"]
        if "shards" not in self.manifest:
            return memmap_tokens(self.path / TRAIN_FILE, dtype, self.manifest["n_train_tokens"])
        return ShardedTokens([memmap_tokens(self.path / s["file"], dtype, s["n_tokens"])
                              for s in self.manifest["shards"]])

    def eval_tokens(self) -> np.ndarray:
        """The held-out stream, shape (T_eval,)."""
        return memmap_tokens(self.path / EVAL_FILE, self.manifest["dtype"], eval_token_count(self.manifest))

    def tokenizer(self) -> Tokenizer:
        """The tokenizer these tokens were made with."""
        return load_tokenizer(TokenizerKind(self.manifest["tokenizer"]), self.path, self.vocab_size,
                              add_bos=bool(self.manifest.get("add_bos")))


def eval_token_count(manifest: dict) -> int:
    """Tokens of eval.bin, in either manifest layout."""
    return int(manifest["eval"]["n_tokens"] if "eval" in manifest else manifest["n_eval_tokens"])


def memmap_tokens(path: Path, dtype: str | np.dtype, n_tokens: int) -> np.ndarray:
    """`path` as a read-only array of `n_tokens` ids, shape (n_tokens,)."""
    if n_tokens == 0:  # np.memmap refuses empty files
        empty = np.empty(0, dtype=dtype)
        empty.flags.writeable = False
        return empty
    return np.memmap(path, dtype=dtype, mode="r", shape=(n_tokens,))


class SplitWriter:
    """Appends token arrays to one .bin file, hashing and counting tokens, documents (EOS ids,
    when `eos_id` is given) and distinct ids as it goes."""

    def __init__(self, path: Path, dtype: np.dtype, V: int, eos_id: int | None = None):
        self.path = path
        with self._failing_as_storage_error():
            self._file = open(path, "wb")
        self._dtype = dtype
        self.sha256 = hashlib.sha256()
        self.n_tokens = 0
        self.n_documents = 0
        self._eos_id = eos_id
        self._used_V = np.zeros(V, dtype=bool)

    def write(self, stream_T: np.ndarray) -> None:
        if not len(stream_T):
            return
        stream_T = np.asarray(stream_T)
        raw = stream_T.astype(self._dtype, copy=False).tobytes()
        with self._failing_as_storage_error():
            self._file.write(raw)
        self.sha256.update(raw)
        self.n_tokens += len(stream_T)
        if self._eos_id is not None:
            self.n_documents += int((stream_T == self._eos_id).sum())
        self._used_V[stream_T] = True

    def distinct_ids(self) -> int:
        return int(self._used_V.sum())

    def close(self) -> None:
        with self._failing_as_storage_error():
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    @contextlib.contextmanager
    def _failing_as_storage_error(self) -> Iterator[None]:
        """A full disk (or any failed write) is one StorageError naming the file and the free space; the
        half-written split is rebuilt by the next run or `sweep prepare` (its manifest is written last)."""
        try:
            yield
        except OSError as err:
            raise write_failed(self.path, err) from None


# ---------------------------------------------------------------------------------------------
# The manifest and its check


def write_manifest(folder: Path, manifest: dict) -> None:
    """Replace `folder`'s manifest.json at once (a reader sees the old one or the new one)."""
    atomic_write(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")


def unusable(entry: Path, what: str, *, streamed: bool) -> ConfigError:
    """The error for a damaged entry: what is wrong, and how to get a good one (a local corpus's
    entry is rebuilt by the next run, a streamed one by `sweep prepare`). Never rebuilt over."""
    if streamed:
        return ConfigError(f"prepared corpus {entry} is unusable: {what}; run `sweep prepare` with the sweep's "
                           "overrides again (it makes a damaged or missing train shard again from its source); "
                           "where that cannot, delete that folder and run it again")
    return ConfigError(f"token cache entry {entry} is unusable: {what}; delete that folder to "
                       "have it rebuilt")


def read_manifest(entry: Path, *, streamed: bool) -> dict:
    """The manifest of `entry` as a dict; `unusable` when it is missing or not a JSON object."""
    try:
        manifest = json.loads((entry / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as err:
        raise unusable(entry, f"{MANIFEST_FILE} is missing or not valid JSON ({err})", streamed=streamed) from err
    if not isinstance(manifest, dict):
        raise unusable(entry, f"{MANIFEST_FILE} is not a JSON object", streamed=streamed)
    return manifest


def token_files(manifest: dict) -> list[tuple[str, int, str | None]]:
    """(file, tokens, sha256) of every .bin the manifest lists, train first."""
    if "shards" in manifest:
        files = [(s["file"], s["n_tokens"], s["sha256"]) for s in manifest["shards"]]
        if manifest["eval"]:
            files.append((EVAL_FILE, manifest["eval"]["n_tokens"], manifest["eval"]["sha256"]))
        return files
    sha = manifest["sha256"]
    return [(TRAIN_FILE, manifest["n_train_tokens"], sha.get(TRAIN_FILE)),
            (EVAL_FILE, manifest["n_eval_tokens"], sha.get(EVAL_FILE))]


def check_token_files(entry: Path, manifest: dict, *, checksum_max_bytes: float | None,
                      streamed: bool) -> None:
    """Every .bin of the manifest holds its tokens: its size always, its sha256 when it has at
    most `checksum_max_bytes` bytes (None: never; hashing a multi-GB file costs seconds)."""
    try:
        files = token_files(manifest)
        dtype = np.dtype(manifest["dtype"])
        for name, n_tokens, _ in files:  # a count that is not a whole number was int()'s traceback below
            if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 0:
                raise ValueError(f"{name}: n_tokens = {n_tokens!r} is not a count of tokens")
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise unusable(entry, f"{MANIFEST_FILE} has an incomplete entry ({type(err).__name__}: {err})",
                       streamed=streamed) from err
    for name, n_tokens, sha in files:
        path = entry / name
        expected = int(n_tokens) * dtype.itemsize
        size = path.stat().st_size if path.is_file() else None
        if size is None:
            raise unusable(entry, f"{name}, which its manifest lists, is missing", streamed=streamed)
        if size != expected:
            raise unusable(entry, f"{name} holds {size} bytes where the manifest's {n_tokens} {dtype.name} "
                                  f"tokens need {expected}", streamed=streamed)
        if checksum_max_bytes is not None and size <= checksum_max_bytes and sha256_file(path) != sha:
            raise unusable(entry, f"{name} does not match the sha256 in its manifest", streamed=streamed)


# ---------------------------------------------------------------------------------------------
# Files


@contextlib.contextmanager
def entry_lock(entry: Path) -> Iterator[None]:
    """Hold the exclusive flock of `entry` (the file `.{name}.lock` beside it, created if needed).
    A build that fails (a corpus too small for the run, an interrupt) removes the file while still
    holding its lock, so no lock file of an entry that was never made stays behind; a process that
    was waiting for it then holds a file no longer at that path, and locks the new one instead
    (`_lock_file_at`): two processes never hold two different lock files of one entry."""
    path = entry.parent / f".{entry.name}.lock"
    with _lock_file_at(path, entry):
        try:
            yield
        except BaseException:
            path.unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def _lock_file_at(path: Path, entry: Path) -> Iterator[None]:
    """The exclusive flock of the file at `path`, taken again until the file locked is still the
    one at `path` (a holder may have removed it meanwhile)."""
    waiting = False
    while True:
        f = open(path, "a")
        try:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waiting:
                    log.info("waiting for another process to finish preparing %s", entry)
                waiting = True
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            if _same_file(f.fileno(), path):
                break
        except BaseException:
            f.close()
            raise
        f.close()  # a removed file: its lock goes with it
    try:
        yield
    finally:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        f.close()


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is the file now at `path`."""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
