"""Documents of a `datasets` dataset (data=hf, data=c4), streamed, in units of one data file.

`data.hf_path` is a dataset name on the hub (`allenai/c4`; read through the local HF cache, or
the network where there is one) or a local dataset folder (a copy of C4 with
`en/c4-train.*.json.gz`, or any folder of .json(l)(.gz) / .parquet / .csv / .txt files that
`datasets.load_dataset` reads); `data.hf_name` its configuration (`en`). A local copy holding
only the data files (`en/...`, without the hub's README.md whose `configs:` block names `en`)
reads configuration `en` as the hub lays it out: the files under its folder `en/`, each split
by its file names (`c4-train.*`, `c4-validation.*`). Streaming never downloads a whole split:
C4's English train split is 1,024 files of about 356,000 documents.

A unit is one data file of the train split (`IterableDataset.shard`), so `sweep prepare` can
tokenize units in parallel processes and the prepared stream does not depend on how many
processes did it: unit u's documents are always the same documents, in the same order.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any, Iterator

from sweep.config import DataConfig
from sweep.errors import ConfigError


def open_split(data: DataConfig, split: str) -> Any:
    """The streamed split (a `datasets.IterableDataset`), with a clear error when it cannot be
    opened: an unknown name offline, a missing folder, a split or configuration it lacks."""
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    where = f"data.hf_path={data.hf_path!r}" + (f" data.hf_name={data.hf_name!r}" if data.hf_name else "")
    if not data.hf_path:
        raise ConfigError("data=hf needs data.hf_path: a dataset name on the hub or a local dataset folder")
    try:
        dataset = _load(data.hf_path, data.hf_name, split)
    except Exception as err:  # datasets raises many types: FileNotFoundError, ValueError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ConfigError(
            f"{where} split={split!r} cannot be opened ({type(err).__name__}: {first}); give a "
            "dataset available offline in the HF cache or a local dataset folder, and one of its "
            "splits (data.split, data.eval_split)"
        ) from err
    features = getattr(dataset, "features", None)
    if features is not None and data.text_field not in features:
        raise ConfigError(
            f"{where} has no field data.text_field={data.text_field!r}; its fields are {sorted(features)}"
        )
    return dataset


@functools.lru_cache(maxsize=4)
def _load(path: str, name: str | None, split: str) -> Any:
    """Opened once per process: resolving a dataset's files takes seconds, a unit's worker
    opens it for every unit."""
    import datasets

    if _is_config_folder(path, name):
        return datasets.load_dataset(path, data_dir=name, split=split, streaming=True)
    return datasets.load_dataset(path, name, split=split, streaming=True)


def _is_config_folder(path: str, name: str | None) -> bool:
    """Whether configuration `name` of the local folder `path` is read from its subfolder `name`:
    the folder has one, and no dataset card (README.md `configs:`) names `name`, as a copy of
    the hub's `en/c4-*.json.gz` files alone (was: "BuilderConfig 'en' not found")."""
    import datasets

    if not name or not Path(path, name).is_dir():
        return False
    return name not in datasets.get_dataset_config_names(path)


def unit_count(data: DataConfig) -> int:
    """Units (data files) of the train split."""
    return int(open_split(data, data.split).num_shards)


def unit_documents(data: DataConfig, unit: int, skip: int = 0) -> Iterator[str]:
    """The non-empty documents of train unit `unit`, in file order, after its first `skip`
    records (the held-out ones when data.eval_split is null)."""
    dataset = open_split(data, data.split)
    if not 0 <= unit < dataset.num_shards:
        raise ValueError(f"unit {unit} of a split with {dataset.num_shards} units")
    shard = dataset.shard(num_shards=dataset.num_shards, index=unit)
    yield from _texts(data, itertools.islice(iter(shard), skip, None))


def eval_documents(data: DataConfig) -> Iterator[str]:
    """The held-out documents in order: data.eval_split's, or unit 0's (data.eval_split null)."""
    if data.eval_split is None:
        dataset = open_split(data, data.split)
        yield from _texts(data, iter(dataset.shard(num_shards=dataset.num_shards, index=0)))
        return
    yield from _texts(data, iter(open_split(data, data.eval_split)))


def _texts(data: DataConfig, records: Iterator[dict]) -> Iterator[str]:
    for record in records:
        text = record.get(data.text_field)
        if text is None:
            if data.text_field not in record:
                raise ConfigError(
                    f"data.hf_path={data.hf_path!r}: a record has no field data.text_field="
                    f"{data.text_field!r} (its fields are {sorted(record)})"
                )
            yield ""  # kept, so that record counts stay positions
            continue
        if not isinstance(text, str):
            raise ConfigError(f"data.hf_path={data.hf_path!r}: field {data.text_field!r} holds a "
                              f"{type(text).__name__}, not text")
        yield text
