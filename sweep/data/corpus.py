"""The documents of a corpus, as an iterator of `str` in a fixed order.

Two sources (`data.source`):

- `embedded`: English prose that ships with Python itself, built at run time without any
  download: every pydoc help topic (`pydoc_data.topics`), then the docstrings of the standard
  library's `.py` files (module, class, function), walked in sorted order. Same Python, same
  documents, same order.
- `files`: the user's `.txt` (one document per file), `.jsonl` / `.jsonl.gz` (one per line,
  field `data.text_field`) and `.parquet` (one per row of column `data.text_field`) files, named in
  `data.paths` as files, folders (recursive) or glob patterns, each expanded in sorted order.

`source_fingerprint` is a cheap string that changes when the corpus changes; the token cache
puts it in its key so that a changed corpus gets a new cache entry.
"""

from __future__ import annotations

import ast
import functools
import glob
import gzip
import inspect
import json
import os
import sys
import sysconfig
import warnings
from pathlib import Path
from typing import Iterator

from sweep.config import DataConfig, DataSource
from sweep.errors import ConfigError

# Bump when the embedded corpus is built differently (new filters, new sources): old token
# caches then stop matching instead of silently standing for a different corpus.
CORPUS_VERSION = 1

EXTENSIONS = (".txt", ".jsonl", ".jsonl.gz", ".parquet")

_MIN_DOCSTRING_CHARS = 40  # shorter docstrings are mostly "Return self." fragments
_SKIPPED_STDLIB_DIRS = {"site-packages", "dist-packages", "test", "tests", "idlelib",
                        "lib2to3", "__pycache__"}
_PARQUET_BATCH_ROWS = 1024
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def iter_documents(data: DataConfig) -> Iterator[str]:
    """Every non-empty document of the corpus `data` describes, in a deterministic order."""
    source = DataSource(data.source)
    if source is DataSource.embedded:
        yield from _embedded_corpus()
        return
    for path in resolve_files(data.paths):
        yield from _file_documents(path, data.text_field)


def source_fingerprint(data: DataConfig) -> str:
    """A cheap string that changes when the corpus changes (no document is read)."""
    if DataSource(data.source) is DataSource.embedded:
        return f"embedded corpus v{CORPUS_VERSION}, Python {sys.version}"
    listing = []
    for path in resolve_files(data.paths):
        st = path.stat()
        listing.append([str(path), st.st_size, st.st_mtime_ns])
    return json.dumps(listing)


def resolve_files(paths: list[str]) -> list[Path]:
    """The corpus files named by `paths` (files, folders, globs), resolved, in order, unique.

    A folder contributes every file with a known extension below it (sorted); a file named
    directly or matched by a glob must have a known extension.
    """
    if not paths:
        raise ConfigError("data.paths is empty: data=files needs a list of files, folders or globs")
    files: list[Path] = []
    for pattern in paths:
        pattern = os.path.expanduser(str(pattern))
        if any(ch in pattern for ch in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(pattern, recursive=True))]
        else:
            matches = [Path(pattern)] if Path(pattern).exists() else []
        if not matches:
            raise ConfigError(
                f"data.paths: {pattern!r} matches no file or folder; give existing files, "
                "folders or glob patterns"
            )
        for match in matches:
            if match.is_dir():
                found = sorted(
                    p for p in match.rglob("*")
                    if p.is_file() and p.name.endswith(EXTENSIONS) and not p.name.startswith(".")
                )
                if not found:
                    raise ConfigError(
                        f"data.paths: folder {str(match)!r} holds no {'/'.join(EXTENSIONS)} file"
                    )
                files.extend(found)
            elif match.name.endswith(EXTENSIONS):
                files.append(match)
            else:
                raise ConfigError(
                    f"data.paths: {str(match)!r} has extension {match.suffix or '(none)'!r}; "
                    f"accepted extensions are {', '.join(EXTENSIONS)}"
                )
    unique: dict[Path, None] = {}
    for f in files:
        unique.setdefault(f.resolve(), None)
    return list(unique)


def check_documents(data: DataConfig) -> None:
    """Every file of a `files` corpus exists, is readable and holds a non-empty document in
    the accepted format. Cheap: reads each file up to its first document, tokenizes nothing."""
    if DataSource(data.source) is not DataSource.files:
        return
    for path in resolve_files(data.paths):
        try:
            first = next(_file_documents(path, data.text_field), None)
        except OSError as err:
            raise ConfigError(f"data.paths: {path} cannot be read ({err.strerror or err})") from err
        if first is None:
            raise ConfigError(f"data.paths: {path} holds no non-empty document; accepted: {_FORMATS}")


_FORMATS = (".txt files of UTF-8 text (one document per file), .jsonl(.gz) / .parquet files with a "
            "string field data.text_field (one document per record)")


def _file_documents(path: Path, text_field: str) -> Iterator[str]:
    """The documents of one corpus file, by its extension."""
    if path.suffix == ".txt":
        return _txt_documents(path)
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return _jsonl_documents(path, text_field)
    return _parquet_documents(path, text_field)


@functools.lru_cache(maxsize=1)
def _embedded_corpus() -> tuple[str, ...]:
    """Built once per process (seconds, about 2 MB): preparing a cache reads it several times."""
    return tuple(_embedded_documents())


def _embedded_documents() -> Iterator[str]:
    from pydoc_data.topics import topics

    for name in sorted(topics):
        text = topics[name].strip()
        if text:
            yield text
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_STDLIB_DIRS)
        for name in sorted(names):
            if name.endswith(".py"):
                yield from _docstrings(Path(root) / name)


def _docstrings(path: Path) -> Iterator[str]:
    """Module, class and function docstrings of one source file, in source order."""
    try:
        with warnings.catch_warnings():  # invalid escape sequences in old modules
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError, OSError):
        return
    stack: list[ast.AST] = [tree]  # depth first, in source order; statements only
    while stack:
        node = stack.pop()
        if isinstance(node, _DOCUMENTED):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                doc = inspect.cleandoc(doc)
                if len(doc) >= _MIN_DOCSTRING_CHARS:
                    yield doc
        stack.extend(reversed([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)]))


def _txt_documents(path: Path) -> Iterator[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); "
                          f"accepted: {_FORMATS}") from err
    if "\x00" in text:
        raise ConfigError(f"{path}: a binary file (it holds NUL bytes); accepted: {_FORMATS}")
    if text.strip():
        yield text


def _jsonl_documents(path: Path, field: str) -> Iterator[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:  # decoded line by line, so that an error names its line
        lines = enumerate(f, start=1)
        while True:
            try:
                lineno, raw = next(lines)
            except StopIteration:
                return
            except (OSError, EOFError) as err:  # gzip: a bad or truncated file
                raise ConfigError(f"{path}: not a readable gzip file ({err})") from err
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ConfigError(f"{path}, line {lineno}: not UTF-8 text ({err.reason})") from err
            text = _jsonl_text(path, lineno, line, field)
            if text is not None:
                yield text


def _jsonl_text(path: Path, lineno: int, line: str, field: str) -> str | None:
    """The document of one .jsonl line; None for a blank line or a null or empty text."""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}, line {lineno}: not valid JSON ({err.msg})") from err
    if not isinstance(record, dict):
        raise ConfigError(
            f"{path}, line {lineno}: a JSON {type(record).__name__}, where an object "
            f"with field data.text_field={field!r} is needed"
        )
    if field not in record:
        raise ConfigError(
            f"{path}, line {lineno}: no field data.text_field={field!r} "
            f"(its fields are {sorted(record)})"
        )
    text = record[field]
    if text is None:
        return None
    if not isinstance(text, str):
        raise ConfigError(
            f"{path}, line {lineno}: field {field!r} holds a {type(text).__name__}, "
            "not a string"
        )
    return text if text.strip() else None


def _parquet_documents(path: Path, column: str) -> Iterator[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise ConfigError(f"{path}: not a readable parquet file ({err})") from err
    schema = pf.schema_arrow
    if column not in schema.names:
        raise ConfigError(
            f"{path}: no column data.text_field={column!r}; its columns are {schema.names}"
        )
    kind = schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or getattr(pa.types, "is_string_view", lambda _: False)(kind)):
        raise ConfigError(f"{path}: column {column!r} holds {kind}, not strings")
    for batch in pf.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=[column]):
        for text in batch.column(0).to_pylist():
            if text and text.strip():
                yield text
