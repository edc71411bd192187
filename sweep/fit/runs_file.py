"""A runs file a user gives (a published table, an export, `sweep status --csv`): read whatever
its format (FILE_SUFFIXES: .csv with commas or semicolons, .tsv, .json, .jsonl, .parquet), its
columns found under the names published tables give them (COLUMN_ALIASES), the third of N, T and C
computed from the other two (DERIVED), and a table in millions or billions refused (check_counts).
sweep/fit/table.py builds the runs table from what this gives (`from_file`, `from_frame`).

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.record import COMPLETE

LOSS_ALIASES = ("loss", "final_eval_loss")  # a file's loss column; rows of a sweep give final_eval_loss
# Other names a published table gives a column (Epoch AI's Chinchilla data: "Model Size", "Training
# Tokens", "Training FLOP"; Step Law's: "smooth loss", "data_recipe"; a table gathering several
# studies: "experiment", each a recipe fitted alone), read where the table lacks the column's own
# name. Names are compared with case and punctuation ignored ("Loss", "#params", "eval/loss" and
# "Training-Tokens" are loss, params, eval_loss and training_tokens), except the papers' one-letter
# names, compared exactly ("D" is tokens, "d" a width). A unit in a name ("Tokens (B)") is no match:
# its values are not tokens.
BUDGET_NAMES = ("budget", "compute_budget", "flops_budget", "flop_budget")  # an IsoFLOP table's: its runs' nominal C
COLUMN_ALIASES = {
    "n_params": ("N", "params", "parameters", "n_parameters", "num_params", "num_parameters", "model_size",
                 "model_params", "model_parameters", "non_embedding_params", "nonembedding_params", "parameter_count",
                 "param_count"),
    "tokens": ("D", "training_tokens", "train_tokens", "n_tokens", "num_tokens", "tokens_trained",
               "tokens_seen", "total_tokens", "data_size", "dataset_size"),
    "flops": ("C", "compute", "training_flop", "training_flops", "train_flops", "training_compute",
              *BUDGET_NAMES),
    "loss": ("L", "final_loss", "eval_loss", "val_loss", "validation_loss", "test_loss", "final_val_loss",
             "smooth_loss"),
    "recipe": ("data_recipe", "experiment"),
    "lr": ("learning_rate", "peak_lr", "learning_rate_peak", "peak_learning_rate", "max_lr"),
    "batch_size": ("bs", "batch", "train_batch_size", "global_batch_size", "global_bs"),
    "weight_decay": ("wd",),
    "loss_stderr": ("loss_se", "loss_sem", "eval_loss_stderr", "eval_loss_se", "val_loss_se"),  # the loss's standard error
    "epochs": ("epoch", "n_epochs", "num_epochs"),  # passes over the training data (repeated tokens: MAX_EPOCHS)
    "seed": ("random_seed", "run_seed", "replicate"),  # runs alike but for it are averaged (sweep/fit/points.py)
    "run": ("name", "run_name"),  # a W&B runs export's Name
    "status": ("state",),  # a W&B runs export's State: its "finished" runs are complete (W&B_FINISHED)
}
# A recipe read from these names labels separate studies, trained and evaluated on different data:
# each is fitted alone, and their losses are never compared (no crossover).
STUDY_COLUMNS = ("experiment",)
# Read also as the last part of a config's key path ("optim.lr", "optimizer.learning_rate",
# "train.batch_size", as a W&B runs export names a run's config), where no column has the name itself;
# never a logged metric's ("train/lr": the schedule's last learning rate, not the run's).
KEY_PATH_NAMES = ("lr", "batch_size", "weight_decay", "seed")
NUMERIC_COLUMNS = ("n_params", "tokens", "flops", "loss", "lr", "batch_size", "weight_decay")
THOUSANDS = r"\s*[-+]?\d{1,3}(,\d{3})+(\.\d*)?([eE][-+]?\d+)?\s*"  # "16,450,387,383.84"
WANDB_FINISHED = "finished"  # W&B's state of a run that ended without error; crashed, killed, ... are not
# A table with two of N, T and C gives the third by C = 6 N T, and N with tokens per parameter
# gives T (columns_read says so).
DERIVED = {"tokens": "flops / (6 n_params)", "n_params": "flops / (6 tokens)"}
RATIO_NAMES = ("tokens_per_param", "tokens_per_parameter")
UNIQUE_TOKENS_NAMES = ("unique_tokens", "n_unique_tokens")  # a data-constrained table's: epochs = tokens / it
MIN_COUNT = 1000  # fewer parameters or tokens than this in every run of a file: in millions or billions
RATIO_RANGE = (1e-2, 1e6)  # a file's median tokens per parameter outside it: N or T in millions or billions
# Tokens per parameter of real runs (Chinchilla 20, the most overtrained small models about 1e4), and
# the most parameters of any model: a file's tokens per parameter above RATIO_RANGE that read as FLOPs
# (T = C / (6 N)) fall in TYPICAL_RATIO, and read with N in millions or billions do not, are a compute
# column given as the tokens (check_counts says so).
TYPICAL_RATIO = (1.0, 1e4)
MAX_PARAMS = 1e13
# A file's flops over 6 N T, its median outside this: not the runs' training compute (a token budget, or
# FLOPs in other units). IsoFLOP tables give each run its budget's nominal C, within a few times 6 N T.
FLOPS_RATIO_RANGE = (0.1, 10.0)
FILE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")
NAMED_TWICE = "named_twice"  # a read frame's attrs: the names its header gives two columns
# A read frame's attrs: each row's name in messages, as the user finds it in the file: a .csv's or
# .tsv's (and a .jsonl's) "line 10" (its line, 1-based, the header, comment and blank lines counted,
# as an editor numbers them), a .json's or .parquet's "record 3" (1-based).
ROW_NAMES = "row_names"


def is_table_file(source: str | os.PathLike) -> bool:
    """Whether a source names a runs file (FILE_SUFFIXES), not a sweep folder or a W&B group."""
    return Path(str(source)).suffix.lower() in FILE_SUFFIXES and not str(source).startswith("wandb:")


def read_frame(path: str | os.PathLike) -> Any:
    """A runs file (FILE_SUFFIXES) as a pandas DataFrame, its columns as the file names them;
    ConfigError for another suffix, a missing file, or one that cannot be read as a table."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()  # X.CSV, as Excel on Windows writes it
    if suffix not in FILE_SUFFIXES:
        raise ConfigError(f"{path}: a runs file is {', '.join(FILE_SUFFIXES[:-1])} or {FILE_SUFFIXES[-1]}, "
                          f"not {path.suffix or 'no suffix'!r}")
    if not path.is_file():
        raise ConfigError(f"runs file {path} does not exist")
    try:
        if suffix == ".parquet":
            return _with_row_names(pd.read_parquet(path), None)
        if suffix in (".csv", ".tsv"):
            comments = _leading_comments(path)  # "# from the model card": was read as the header
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", skiprows=comments)
            (header,) = frame.columns if len(frame.columns) == 1 else (None,)
            other = next((sep for sep in (";", "\t", "|") if header is not None and sep in str(header)), None)
            if other is not None:
                frame = pd.read_csv(path, sep=other, skiprows=comments)  # a .csv written with ; (or tabs)
            frame = _decimal_commas(frame) if other == ";" else frame
            sep = other or ("\t" if suffix == ".tsv" else ",")
            frame.attrs[NAMED_TWICE] = _named_twice(path, sep, comments)
            return _with_row_names(frame, _data_lines(path, sep, comments))
        records = _json_records(path)
        lines = _jsonl_lines(path) if suffix == ".jsonl" else None
        if isinstance(records, list) and any(isinstance(v, dict) for r in records for v in r.values()):
            # W&B's API runs: {"config": {...}, "summary": {...}} as config.KEY
            return _with_row_names(pd.json_normalize(records), lines)
        return _with_row_names(pd.DataFrame(records), lines)
    except ConfigError:
        raise
    except UnicodeDecodeError as err:  # was: pandas' "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe8 ..."
        raise _not_utf8(path, err) from err
    except pd.errors.EmptyDataError as err:  # was: pandas' "EmptyDataError: No columns to parse from file"
        raise _no_table(path) from err
    except Exception as err:  # malformed file
        raise ConfigError(f"could not read {path}: {type(err).__name__}: {err}") from err


def _not_utf8(path: Path, err: UnicodeDecodeError) -> ConfigError:
    """The error for a runs file in another encoding than UTF-8 (Excel's Latin-1 / Windows-1252),
    naming the line of its first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as whole:
        err = whole  # its place in the whole file: pandas decodes it in chunks
    line = data[:err.start].count(b"\n") + 1
    return ConfigError(f"{path} is not UTF-8 text: line {line} holds the byte 0x{err.object[err.start]:02x} "
                       f"(another encoding, e.g. Latin-1 or Windows-1252); save it as UTF-8 (Excel: CSV UTF-8) "
                       f"and re-run; accepted: UTF-8 text (.csv, .tsv, .json, .jsonl) or .parquet")


def _no_table(path: Path) -> ConfigError:
    """The error for a .csv / .tsv runs file without a header line: empty, or only # comments."""
    lines = [line for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines() if line.strip()]
    what = "is empty" if not lines else "holds only # comment lines" if all(
        line.lstrip().startswith("#") for line in lines) else "holds no header line"
    return ConfigError(f"{path} {what}: a runs file holds a header line naming its columns (n_params, tokens, loss, "
                       f"...) and then one line per run")


def _json_records(path: Path) -> list[dict[str, Any]] | dict[str, list[Any]]:
    """The records of a .jsonl file (one object per line, blank lines skipped) or of a .json file
    holding a list of objects, or an object of columns: equally long lists, or objects keyed by row
    (what pandas' DataFrame.to_json writes)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ConfigError(f"{path}, line {number}: not valid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise ConfigError(f"{path}, line {number}: a runs .jsonl holds one object (a run) per line, "
                                  f"not a {type(record).__name__}")
            records.append(record)
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from err
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    columns = list(data.values()) if isinstance(data, dict) else []
    if columns and (all(isinstance(v, list) for v in columns) and len({len(v) for v in columns}) == 1
                    or all(isinstance(v, dict) for v in columns)):  # the second: pandas' DataFrame.to_json
        return data
    raise ConfigError(f"{path}: a runs .json holds a list of objects (one per run) or an object of columns, "
                      f"each a list (all as long) or an object keyed by row (pandas' to_json), "
                      f"not a {type(data).__name__} of that shape")


def named_columns(frame: Any, where: str, required: Sequence[str], given: Mapping[str, str] | None = None,
                  accepted: Sequence[str] = ()) -> tuple[Any, dict[str, str]]:
    """The frame with its columns under the runs table's names (`given` by the user first, then
    found by COLUMN_ALIASES, or computed: DERIVED) and {column: the frame's column, or how it was
    computed}; ConfigError naming a `required` column it neither has nor gives, and the columns it
    has. `given`: {name: the frame's column} (`--column NAME=COLUMN`), each name one of `accepted`."""
    has = ", ".join(map(str, frame.columns))
    frame, columns_given = _given_columns(frame, given or {}, where, accepted)
    columns_read = {**columns_given, **_aliased_columns(frame.columns, where)}
    own = {c: c for c in frame.columns if c in COLUMN_ALIASES or c == "loss"}  # read under its own name
    twice = [(name, column) for name, column in {**own, **columns_read}.items()
             if column in frame.attrs.get(NAMED_TWICE, ()) and name not in (given or {})]
    if twice:  # the first column of the name was read, with nothing said
        name, column = twice[0]
        raise ConfigError(f"{where}: its header names two columns {column!r}, read as {name}: rename one, or choose "
                          f"with --column {name}={column} (the first) or --column {name}={column}.1 (the second)")
    if ("recipe" in columns_read and "recipe" not in columns_given and len(frame) > 2
            and frame[columns_read["recipe"]].nunique() == len(frame)):
        del columns_read["recipe"]  # an alias labelling every run its own names runs: it groups none into a recipe
    frame = frame.rename(columns={alias: name for name, alias in columns_read.items()})
    if "status" in frame.columns:
        status = frame["status"].astype("string").str.strip().str.lower()
        if (status == WANDB_FINISHED).any():  # a W&B export: finished, crashed, killed, running, ...
            frame = frame.assign(status=status.replace({WANDB_FINISHED: COMPLETE}))
            read_as = f"W&B's {WANDB_FINISHED} read as {COMPLETE}"
            columns_read["status"] = f"{columns_read.get('status', 'status')} ({read_as})"
    frame = _without_thousands_separators(frame)
    frame, derived = _derived_columns(frame)
    missing = [c for c in required if c not in frame.columns]
    taken = [(name, column) for name, column in (given or {}).items() if column in missing]
    if taken:  # `--column loss=tokens`: was "lacks the column(s) tokens; it has ..., tokens, ..."
        name, column = taken[0]
        raise ConfigError(f"--column {name}={column}: {column!r} is read as {name}, so it cannot also be the "
                          f"{column} column, and {where} has no other; read another column as {name} (it has "
                          f"{has}), or name the file's {column} column too: --column {column}=COLUMN")
    panel = _wandb_panel_hint(frame.columns, where)
    if missing and panel is not None:
        raise ConfigError(panel)
    if missing:
        other_names = {c: (*LOSS_ALIASES[1:], *COLUMN_ALIASES[c]) if c == "loss" else COLUMN_ALIASES[c] for c in missing}
        also = "; ".join(f"{c} may be named {', '.join(names)}" for c, names in other_names.items())
        raise ConfigError(f"{where} lacks the column(s) {', '.join(missing)}; it has {has}; "
                          f"required: {', '.join(required)} ({also}; of n_params, tokens and flops "
                          f"any two give the third, by flops = 6 n_params tokens; or name the file's own: "
                          f"--column {missing[0]}=COLUMN){_unit_hint(frame.columns, missing)}")
    return frame, {**columns_read, **derived}


PANEL_SUFFIXES = ("__MIN", "__MAX")  # a W&B panel export's band around each run's curve
PANEL_EXAMPLES = 3  # columns a panel export's error names


def _wandb_panel_hint(columns: Sequence[Any], where: str) -> str | None:
    """The error for a W&B panel export ("Step", then per run "Group: RUN - metric" with its
    __MIN / __MAX: one column per run and a row per step), saying what to write instead; None for
    a table of another shape."""
    names = [str(c) for c in columns]
    curves = [c for c in names if " - " in c and not c.endswith(PANEL_SUFFIXES)]
    if len(curves) < 2 or not (any(c.endswith(PANEL_SUFFIXES) for c in names) or "Step" in names):
        return None
    shown = ", ".join(repr(c) for c in names[:PANEL_EXAMPLES])
    return (f"{where} looks like a W&B panel export: a column per run and metric ({len(curves)} such, e.g. "
            f"{curves[0]!r}) and a row per step, while a fit reads a row per run: write a table with one row per "
            f"run and its n_params, tokens and final loss (columns run, n_params, tokens, loss; sweep fit FILE reads "
            f"it); its {len(names)} columns begin {shown}")


def check_counts(n_params_R: np.ndarray, tokens_R: np.ndarray, source: str = "",
                 columns_read: Mapping[str, str] | None = None, names: Sequence[str] | None = None) -> None:
    """A ConfigError where any N or T (R runs of a file, `names` theirs) is under MIN_COUNT, or their
    median tokens per parameter is outside RATIO_RANGE (Chinchilla 20, the most overtrained small models
    about 1e4): a published table in millions or billions (one run of N = 60 among sizes up to 16000 is
    60M of a table in millions: the largest above MIN_COUNT hid it). A sweep's own runs count theirs: only
    files are checked. `columns_read`: where each was read (a DERIVED one is named with its flops column)."""
    of = f" of {source}" if source else ""
    read = dict(columns_read or {})
    for name, values_R, what in (("n_params", n_params_R, "parameter"), ("tokens", tokens_R, "token")):
        if values_R.min() >= MIN_COUNT:
            continue
        derived = (f" (computed as {DERIVED[name]}, the flops read from {read.get('flops', 'flops')!r}: FLOPs in "
                   "another unit, such as GFLOPs or PF-days, would give these)" if read.get(name) == DERIVED[name]
                   else "")
        smallest = int(np.argmin(values_R))
        run = f" (run {names[smallest]!r} has {name} = {values_R[smallest]:.4g})" if names is not None else ""
        column = "these look" if derived else f"{str(read.get(name, name)).split(' (')[0]!r} looks"
        raise ConfigError(f"{name}{of} spans {values_R.min():.3g} .. {values_R.max():.3g}{derived}: "
                          f"no language model has under {MIN_COUNT} {what}s{run}, so {column} like millions or "
                          f"billions; give plain counts in every row (N_opt, T_opt and tokens per parameter are read "
                          "in them)")
    # from here every N >= MIN_COUNT: N read as plain counts is plausible, and so is the FLOPs reading offered
    ratio = float(np.median(tokens_R / n_params_R))
    tokens_column = str(read.get("tokens", "tokens")).split(" (")[0]  # columns_read's 'COLUMN (--column)'
    as_flops = _flops_as_tokens(n_params_R, tokens_R) if read.get("tokens") not in DERIVED.values() else None
    if as_flops is not None and not _scaled_sizes_fit(n_params_R, ratio):
        raise ConfigError(_flops_as_tokens_text(ratio, as_flops, tokens_column, of))
    if not RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1]:
        flops = (f"; or, if {tokens_column!r} holds FLOPs (C = 6 N T, giving a median {as_flops:.3g} tokens per "
                 f"parameter), read it as flops: --column flops={tokens_column}" if as_flops is not None else "")
        raise ConfigError(f"the runs{of} train a median {ratio:.3g} tokens per parameter (outside "
                          f"{RATIO_RANGE[0]:g} .. {RATIO_RANGE[1]:g}): n_params or tokens look like millions or "
                          f"billions; give both as plain counts{flops}")


def _flops_as_tokens(n_params_R: np.ndarray, tokens_R: np.ndarray) -> float | None:
    """The median tokens per parameter the tokens give read as FLOPs (T = C / (6 N)), where their own
    median tokens per parameter is above RATIO_RANGE and that is within TYPICAL_RATIO; None otherwise."""
    if float(np.median(tokens_R / n_params_R)) <= RATIO_RANGE[1]:
        return None
    as_flops = float(np.median(tokens_R / (6.0 * n_params_R ** 2)))
    return as_flops if TYPICAL_RATIO[0] <= as_flops <= TYPICAL_RATIO[1] else None


def _scaled_sizes_fit(n_params_R: np.ndarray, ratio: float) -> bool:
    """Whether N read as millions or billions gives a median tokens per parameter (`ratio` as read)
    within TYPICAL_RATIO, and no model above MAX_PARAMS."""
    return any(TYPICAL_RATIO[0] <= ratio / unit <= TYPICAL_RATIO[1] and n_params_R.max() * unit <= MAX_PARAMS
               for unit in (1e6, 1e9))


def _flops_as_tokens_text(ratio: float, as_flops: float, column: str, of: str) -> str:
    """The error for a tokens column holding FLOPs (`_flops_as_tokens`)."""
    flops_names = ", ".join(("flops", *COLUMN_ALIASES["flops"][:6]))
    return (f"the tokens{of} (read from column {column!r}) are a median {ratio:.3g} per parameter, beyond any "
            f"training run; read as FLOPs (C = 6 N T) they give a median {as_flops:.3g} tokens per parameter: the "
            f"column looks like training compute, not tokens. Give the tokens each run trained on as the tokens "
            f"column, or read this column as flops (--column flops={column}, or name it {flops_names}): the "
            f"tokens are then computed as {DERIVED['tokens']}")


MAX_TOKEN_LOSS = 20.0  # no per-token loss is above this: ln of a 256k vocabulary is 12.5 nats, 18 bits
PERPLEXITY_NAME = re.compile(r"ppl|perplexity", re.IGNORECASE)


def check_loss_unit(loss_R: np.ndarray, column: str, source: str = "") -> None:
    """A ConfigError where a file's loss (R runs), read from `column`, is a perplexity: a column named so
    (and not its log), or any value above MAX_TOKEN_LOSS. The laws are of a per-token loss: fitted to
    its exponential, the exponents and N_opt come out wrong with nothing to say so (CS336's IsoFLOP
    table as perplexities: a = 0.43 for 0.51)."""
    of = f" of {source}" if source else ""
    column = column.split(" (")[0]  # columns_read's 'perplexity (--column)'
    give = "give the mean per-token loss, ln(perplexity), as the loss column (--column loss=COLUMN)"
    if PERPLEXITY_NAME.search(column) and "log" not in column.lower():
        raise ConfigError(f"the loss{of} is read from {column!r}, a perplexity: the laws fit a per-token loss; {give}")
    above = int((loss_R > MAX_TOKEN_LOSS).sum())
    if above:  # any: a perplexity of 7.9 .. 520 has its best runs below MAX_TOKEN_LOSS (it was fitted, silently)
        raise ConfigError(f"the loss{of} read from {column!r} spans {np.min(loss_R):.4g} .. {np.max(loss_R):.4g}, "
                          f"{'every value' if above == len(loss_R) else f'{above} of {len(loss_R)} values'} above "
                          f"any per-token loss ({MAX_TOKEN_LOSS:g}; ln of a 256k-token vocabulary is 12.5 nats, 18 "
                          f"bits): a perplexity, or a loss summed over a sequence? {give}")


def check_flops(n_params_R: np.ndarray, tokens_R: np.ndarray, flops_R: np.ndarray, column: str,
                source: str = "") -> None:
    """A ConfigError where a file's flops (R runs; NaN where a run has none), read from `column`,
    are a median outside FLOPS_RATIO_RANGE times 6 N T: not the training compute of these runs, but
    some other budget (tokens) or unit (PF-days), which would group an IsoFLOP fit wrongly."""
    given_R = np.isfinite(flops_R)
    if not given_R.any():
        return
    ratio = float(np.median(flops_R[given_R] / (6.0 * n_params_R[given_R] * tokens_R[given_R])))
    if not FLOPS_RATIO_RANGE[0] <= ratio <= FLOPS_RATIO_RANGE[1]:
        of = f" of {source}" if source else ""
        raise ConfigError(f"flops{of} (read from column {column!r}) are a median {ratio:.3g} times 6 N T "
                          f"(accepted: {FLOPS_RATIO_RANGE[0]:g} .. {FLOPS_RATIO_RANGE[1]:g}): not these runs' "
                          f"training compute in FLOPs; give FLOPs, name another column "
                          f"(--column flops=COLUMN), or leave the column out (C = 6 N T)")


def _given_columns(frame: Any, given: Mapping[str, str], where: str,
                   accepted: Sequence[str]) -> tuple[Any, dict[str, str]]:
    """The frame with each `given` column ({name: the frame's column}) under its name, a column of
    the frame already called by that name left out (the one given is read instead), and {name:
    "COLUMN (--column)"}; ConfigError for a name the runs table does not read, a column the frame
    lacks, or one column given for two names."""
    present = [str(c) for c in frame.columns]
    for name, column in given.items():
        if name not in accepted:
            raise ConfigError(f"--column {name}={column}: {name!r} is not a column the fits read; accepted: "
                              f"{', '.join(accepted)}")
        if column not in present:
            raise ConfigError(f"--column {name}={column}: {where} has no column {column!r}; it has "
                              f"{', '.join(present)}")
    twice = sorted({c for c in given.values() if list(given.values()).count(c) > 1})
    if twice:
        raise ConfigError(f"--column: the column {twice[0]!r} is given for "
                          f"{', '.join(n for n, c in given.items() if c == twice[0])}; a column is read as one name")
    replaced = [name for name, column in given.items()
                if name in present and name != column and name not in given.values()]
    frame = frame.drop(columns=replaced).rename(columns={column: name for name, column in given.items()})
    return frame, {name: f"{column} (--column)" for name, column in given.items() if name != column}


def _aliased_columns(columns: Iterable[Any], where: str) -> dict[str, str]:
    """{column: the frame's column read as it}, for each column the frame lacks under its own name
    but has under another spelling of it ("Loss", "N_Params"; the loss: final_eval_loss, as `sweep
    status --csv` writes it) or, failing that, under one of its COLUMN_ALIASES. ConfigError where two
    of the frame's columns are the same name but for case or punctuation, or are two different
    aliases of one column (`val_loss` and `test_loss`, `params` and `non_embedding_params`): which
    one is meant is the user's to say (`--column NAME=COLUMN`)."""
    present = [str(c) for c in columns]
    read = {}
    for name, aliases in COLUMN_ALIASES.items():
        if name in present:
            continue
        own = [name, *(LOSS_ALIASES[1:] if name == "loss" else ())]
        found_by_alias = [[c for c in present if _column_key(c) == _column_key(alias)] for alias in (*own, *aliases)]
        for found in found_by_alias:
            if len(found) > 1:
                raise ConfigError(f"{where}: the columns {', '.join(map(repr, found))} could each be {name}; "
                                  f"keep one, or say which: --column {name}=COLUMN")
        own_found = [f[0] for f in found_by_alias[:len(own)] if f]
        alias_found = [f[0] for f in found_by_alias[len(own):] if f]
        if own_found:
            read[name] = own_found[0]
        elif len(alias_found) > 1:
            raise ConfigError(f"{where}: the columns {', '.join(map(repr, alias_found))} could each be {name}; "
                              f"say which: --column {name}=COLUMN")
        elif alias_found:
            read[name] = alias_found[0]
        elif name in KEY_PATH_NAMES:  # a config's key path, as a W&B runs export names it: optim.lr, train.batch_size
            leaf = [c for c in present if "." in c and "/" not in c  # a logged metric (train/lr) is no setting
                    and _column_key(c.rsplit(".", 1)[-1]) in {_column_key(a) for a in (name, *aliases)}]
            if len(leaf) > 1:
                raise ConfigError(f"{where}: the columns {', '.join(map(repr, leaf))} could each be {name}; "
                                  f"say which: --column {name}=COLUMN")
            if leaf:
                read[name] = leaf[0]
    return read


def _unit_hint(columns: Iterable[Any], missing: Sequence[str]) -> str:
    """A sentence naming the frame's columns that would be a missing one but for a unit or a
    qualifier in their names ("Tokens (B)"), which are not read: their values may be scaled."""
    near = [(str(c), name) for name in missing for c in columns
            if _column_key(c) not in RATIO_NAMES and any(
                _column_key(c).startswith(_column_key(alias) + "_") for alias in (name, *COLUMN_ALIASES[name])
                if len(alias) > 1)]
    if not near:
        return ""
    shown = ", ".join(f"{c!r} as {name}" for c, name in near)
    scaled = ("read it with --column loss=COLUMN if it is a loss per token, in nats or bits, not a "
              "perplexity" if all(name == "loss" for _, name in near) else
              "its values may be in millions or billions; give plain counts under the column's own name")
    return f". Not read: {shown}, a unit or qualifier in the name ({scaled})"


def is_budget_column(column: str) -> bool:
    """Whether a column read as flops is an IsoFLOP table's budget (its runs' nominal C, not 6 N T each)."""
    return _column_key(column.split(" (")[0]) in BUDGET_NAMES


def _column_key(name: Any) -> str:
    """A column name compared with case and punctuation ignored ("#Params" -> "params",
    "eval/loss" -> "eval_loss"), a one-letter name as it is (D is tokens, d a width)."""
    text = str(name).strip()
    if len(text) == 1:
        return text
    return "_".join("".join(ch if ch.isalnum() else " " for ch in text.casefold()).split())


def _derived_columns(frame: Any) -> tuple[Any, dict[str, str]]:
    """The frame with tokens computed from n_params and tokens per parameter, or n_params or tokens
    from the other and flops (C = 6 N T), where it lacks one of them but has what gives it, and
    {column: how it was computed}."""
    derived = {}
    ratio = next((c for c in frame.columns if _column_key(c) in RATIO_NAMES), None)
    if "tokens" not in frame.columns and "n_params" in frame.columns and ratio is not None:
        frame = frame.assign(tokens=_numeric(frame["n_params"]) * _numeric(frame[ratio]))
        derived["tokens"] = f"n_params x {ratio}"
    for name, other in (("tokens", "n_params"), ("n_params", "tokens")):
        if name not in frame.columns and {other, "flops"} <= set(frame.columns):
            frame = frame.assign(**{name: _numeric(frame["flops"]) / (6.0 * _numeric(frame[other]))})
            derived[name] = DERIVED[name]
    unique = next((c for c in frame.columns if _column_key(c) in UNIQUE_TOKENS_NAMES), None)
    if "epochs" not in frame.columns and "tokens" in frame.columns and unique is not None:
        frame = frame.assign(epochs=_numeric(frame["tokens"]) / _numeric(frame[unique]))
        derived["epochs"] = f"tokens / {unique}"
    return frame, derived


def _leading_comments(path: Path) -> int:
    """How many lines come before the header: those that start with # (a note on where the table came
    from) and the blank lines among them; the header is the first line that is neither."""
    count = 0
    with path.open(encoding="utf-8-sig", errors="replace") as lines:
        for line in lines:
            if line.strip() and not line.lstrip().startswith("#"):
                break
            count += 1
    return count


def _with_row_names(frame: Any, lines: Sequence[int] | None) -> Any:
    """The frame with its rows' names (ROW_NAMES) in its attrs: "line N" for each row's line in the
    file (`lines`), where they are as many as its rows; else "record N", N its place (1-based)."""
    if lines is not None and len(lines) == len(frame):
        frame.attrs[ROW_NAMES] = [f"line {n}" for n in lines]
    else:
        frame.attrs[ROW_NAMES] = [f"record {n}" for n in range(1, len(frame) + 1)]
    return frame


def _data_lines(path: Path, sep: str, skip: int) -> list[int]:
    """The line (1-based, in the whole file) each data row of a csv file starts on, as pandas reads
    them: after `skip` comment (and blank) lines and the header, blank lines (pandas skips them) naming no row."""
    import csv

    starts = []
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as lines:
        for _ in range(skip):
            next(lines, None)
        reader = csv.reader(lines, delimiter=sep)
        before = 0  # lines read by the end of the previous record
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                starts.append(skip + before + 1)
            before = reader.line_num
    return starts[1:]  # the first is the header


def _jsonl_lines(path: Path) -> list[int]:
    """The line (1-based) of each record of a .jsonl file: its non-blank lines."""
    text = path.read_text(encoding="utf-8")
    return [number for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _named_twice(path: Path, sep: str, skip: int) -> list[str]:
    """The names a csv file's header gives two columns (pandas reads the second as NAME.1)."""
    import csv

    with path.open(encoding="utf-8-sig", errors="replace", newline="") as lines:
        for _ in range(skip):
            next(lines, None)
        header = next(csv.reader(lines, delimiter=sep), [])
    names = [h.strip() for h in header]
    return sorted({n for n in names if n and names.count(n) > 1})


DECIMAL_COMMA = r"\s*[-+]?\d+(,\d+)?([eE][-+]?\d+)?\s*"  # "2,566": a ;-separated file's decimal comma


def _decimal_commas(frame: Any) -> Any:
    """A ;-separated file's text columns whose every value is a number written with a decimal comma
    (as a spreadsheet in a European locale exports it: "2,566" is 2.566) read as numbers; the
    thousands-separator reading would make it 2566."""
    import pandas as pd

    fixed = {}
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]):
            continue
        given = frame[column].dropna().astype(str)
        if len(given) and given.str.fullmatch(DECIMAL_COMMA).all() and given.str.contains(",").any():
            fixed[column] = pd.to_numeric(frame[column].astype(str).str.replace(",", ".", regex=False),
                                          errors="coerce").where(frame[column].notna())
    return frame.assign(**fixed) if fixed else frame


def _without_thousands_separators(frame: Any) -> Any:
    """The frame with each number written with thousands separators ("16,450,387,383.84", as
    spreadsheets export them) in a numeric column (NUMERIC_COLUMNS) read as that number; any other
    text stays, for the runs table's check to name."""
    import pandas as pd

    fixed = {}
    for column in NUMERIC_COLUMNS:
        if column in frame.columns and not pd.api.types.is_numeric_dtype(frame[column]):
            text = frame[column].astype(str)
            grouped = text.str.fullmatch(THOUSANDS)
            if grouped.any():
                fixed[column] = pd.Series([float(t.replace(",", "")) if g else v
                                           for v, t, g in zip(frame[column], text, grouped)],
                                          index=frame.index, dtype=object)
    return frame.assign(**fixed) if fixed else frame


def _numeric(values: Any) -> Any:
    """A column as numbers (a value that is none: NaN, which `validate` names)."""
    import pandas as pd

    return pd.to_numeric(values, errors="coerce")
