"""The runs table the fits read: one row per complete run with its size N (n_params), tokens T,
compute C (flops) and final loss, from a sweep folder, a W&B group, or a user's runs file (CSV, TSV,
JSON, JSON lines or parquet; its format and column names: sweep/fit/runs_file.py).

Only complete runs are kept; diverged, failed, unfinished and early-stopped runs are left out and
counted by status (`RunsTable.excluded`), so a fit can say what it did not see. A run stopped early
(status stopped_early, sweep/early_stop.py) is no point of a parametric fit: it never reached its
budget. It is set aside (`RunsTable.stopped`) with its predicted final loss as its loss and the
prediction's interval (result.json's predicted_final_eval_loss, predicted_interval and its level
predicted_interval_level; a stopped run without a numeric prediction is counted there instead) for
the learning-rate and batch-size laws, which take it in with `with_stopped` and mark it `predicted`. A cooldown-branch ladder's
trunk (role "trunk", sweep/ladder.py) is no point of a fit: it is left out, counted as "trunk". `validate` is the one check
every fit runs first: finite, positive N, T, C and loss, and enough runs.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.curves import excluded_text
from sweep.fit.runs_file import (COLUMN_ALIASES, ROW_NAMES, check_counts, check_flops, check_loss_unit,
                                 WANDB_FINISHED, is_budget_column, is_table_file, named_columns, read_frame)
from sweep.record import COMPLETE, DAMAGED, STOPPED_EARLY, TRUNK, is_fit_point, training_flops

log = logging.getLogger("sweep.fit")

REQUIRED = ("n_params", "tokens", "loss")
MEASURES = ("true_entropy_nats", "loss_stderr", "duplicate_rate", "epochs")  # per-run numbers, no grid coordinate
MEASURE_ALIASES = {"loss_stderr": "final_eval_loss_stderr",  # as `sweep status --csv` names them
                   "duplicate_rate": "data_density.near_or_exact_duplicate_rate"}
OPTIONAL = ("flops", "recipe", "lr", "batch_size", "weight_decay", "d", "l", "seed", "setting", *MEASURES)
LABELS = ("recipe", "seed", "setting")  # columns read as text labels, not numbers
HYPERPARAMETERS = ("lr", "batch_size", "weight_decay", "d", "l")
CORPUS_KEYS = ("data", "tokenizer", "vocab_size")  # what a run's loss per token is measured on (check_one_corpus)
RATE_DIGITS = 2  # corpora are told apart by their duplicate rate rounded to this many decimals (`densities`)
NAME_COLUMNS = ("run", "name")
COLUMN_NAMES = (*REQUIRED, *OPTIONAL, "run", "status")  # what `--column NAME=COLUMN` may name
PREDICTED_LOSS, PREDICTED_INTERVAL = "predicted_final_eval_loss", "predicted_interval"  # a stopped run's (result.json)
PREDICTED_INTERVAL_LEVEL = "predicted_interval_level"  # ... and its interval's level (early_stop.level)
UNRECORDED_LEVEL = 0.95  # an interval's level where a result.json written before it was recorded lacks it
UNPREDICTED = f"{STOPPED_EARLY} without a predicted loss"  # what `excluded` counts them as once stopped runs are in
EXACT_DUPLICATE = "exact duplicate"  # what `excluded` counts a runs file's rows repeating an earlier row as
MAX_SHOWN = 10  # rows named in a warning, the rest counted
_EMPTY = object()  # an empty cell, as `_cell_key` compares it


# Passes over the training data beyond which repeated tokens are worth markedly less than new ones
# (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models": up to about 4 nearly as much);
# the laws here count every token as new, so a fit of such runs is warned about (`repeated_data`).
MAX_EPOCHS = 4.0
FLOPS_SPREAD = 2.0  # a file's C / (6 N T) varying more than this factor over its runs is warned about (flops_spread)
COPY_DECIMALS = 6  # a loss given to more decimals than this, repeated to the last digit, is a copy (copied_losses)
LOSS_UNIT = "nats/token"  # the loss a run folder records (final_eval_loss, as `sweep status --csv` writes it)
FILE_LOSS_UNIT = "the runs file's unit"  # any other loss column: nats, bits or per byte, as its table has it


@dataclass(frozen=True)
class RunsTable:
    """R complete runs. Every `*_R` array has shape (R,); an optional hyperparameter column is
    None when the source has no such column, NaN for a run that lacks the value. `flops_R` is the
    source's where given, else 6 N T. `batch_size_R` is in the source's unit (a sweep folder:
    sequences per step). `excluded` counts the rows left out, by status.

    `stopped`: the runs stopped early, set aside (None: the source has none); their table's loss is
    the predicted final loss, its `excluded` counts the stopped runs without one. `with_stopped`
    gives every run, complete and stopped, with `predicted_R` (True: the loss is a prediction) and
    `interval_Rx2` (the prediction's [lo, hi], NaN where none) at `interval_level_R` (NaN where not
    recorded: `interval_levels`); a table without stopped runs in it has predicted_R None."""

    names: tuple[str, ...]
    n_params_R: np.ndarray
    tokens_R: np.ndarray
    loss_R: np.ndarray
    flops_R: np.ndarray
    recipe: tuple[str | None, ...] | None = None
    seed: tuple[str | None, ...] | None = None  # a run's seed as a label: runs alike but for it are replicates
    setting: tuple[str | None, ...] | None = None  # its config but the seed, hashed (sweep/results.py
    # seedless_setting: a sweep folder's or W&B group's runs): replicates share it
    lr_R: np.ndarray | None = None
    batch_size_R: np.ndarray | None = None
    weight_decay_R: np.ndarray | None = None
    d_R: np.ndarray | None = None
    l_R: np.ndarray | None = None
    true_entropy_nats_R: np.ndarray | None = None  # a synthetic corpus's entropy rate (nats/token), NaN where absent
    loss_stderr_R: np.ndarray | None = None  # the final eval loss's standard error over eval batches, NaN where absent
    duplicate_rate_R: np.ndarray | None = None  # the corpus's near-or-exact duplicate document rate (data density)
    epochs_R: np.ndarray | None = None  # passes over the run's training data (a run folder's `epochs`), NaN where absent
    excluded: dict[str, int] = field(default_factory=dict)
    source: str = ""
    columns_read: dict[str, str] = field(default_factory=dict)  # a column read under another name (COLUMN_ALIASES)
    predicted_R: np.ndarray | None = None
    interval_Rx2: np.ndarray | None = None
    interval_level_R: np.ndarray | None = None
    stopped: "RunsTable | None" = None
    loss_unit: str = LOSS_UNIT  # a runs file's own loss column: FILE_LOSS_UNIT (its unit is the file's)

    def __len__(self) -> int:
        return len(self.names)

    def column(self, name: str) -> np.ndarray:
        """A hyperparameter column (lr, batch_size, weight_decay, d, l) as a float array (R,)."""
        if name not in HYPERPARAMETERS:
            raise ConfigError(f"{name!r} is not a hyperparameter column; accepted: {', '.join(HYPERPARAMETERS)}")
        values_R = getattr(self, f"{name}_R")
        if values_R is None or not np.isfinite(values_R).any():
            names = ", ".join((name, *COLUMN_ALIASES.get(name, ())))
            raise ConfigError(f"the runs table{of_source(self.source)} has no {name!r} values (a runs file's column "
                              f"{names}; under another name: --column {name}=COLUMN)")
        return values_R

    def select(self, keep_R: np.ndarray) -> "RunsTable":
        """The runs where the boolean mask `keep_R` is true (`excluded` and the stopped runs set
        aside unchanged: `of_recipe` and `with_min_tokens_per_param` filter those too)."""
        keep_R = np.asarray(keep_R, dtype=bool)
        arrays = {f: getattr(self, f)[keep_R] for f in ("n_params_R", "tokens_R", "loss_R", "flops_R")}
        for name in ("predicted_R", "interval_Rx2", "interval_level_R"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)[keep_R]
        arrays.update({f"{h}_R": getattr(self, f"{h}_R")[keep_R] for h in HYPERPARAMETERS
                       if getattr(self, f"{h}_R") is not None})
        arrays.update({f"{m}_R": getattr(self, f"{m}_R")[keep_R] for m in MEASURES
                       if getattr(self, f"{m}_R") is not None})
        labels = {c: _pick(getattr(self, c), keep_R) for c in LABELS if getattr(self, c) is not None}
        return replace(self, names=_pick(self.names, keep_R), **labels, **arrays)

    def of_recipe(self, recipe: str) -> "RunsTable":
        """The runs labelled `recipe` ("": the unlabelled ones), the stopped runs set aside too."""
        stopped = self.stopped.of_recipe(recipe) if self.stopped is not None else None
        labels = self.recipe or (None,) * len(self)
        return replace(self.select(np.array([(r or "") == recipe for r in labels], dtype=bool)), stopped=stopped)

    def densities(self) -> dict[float, int]:
        """The runs per corpus density, each rate rounded to RATE_DIGITS (runs without one not
        counted): two rates are two corpora (a synthetic corpus's `repeat_fraction`, two files
        corpora), whose losses one law does not describe together."""
        if self.duplicate_rate_R is None:
            return {}
        rates = [round(float(r), RATE_DIGITS) for r in self.duplicate_rate_R if math.isfinite(r)]
        return {rate: rates.count(rate) for rate in sorted(set(rates))}

    def of_density(self, rate: float) -> "RunsTable":
        """The runs whose duplicate rate rounds to `rate` (`densities`), the stopped runs set aside too."""
        stopped = self.stopped.of_density(rate) if self.stopped is not None else None
        rate_R = np.full(len(self), np.nan) if self.duplicate_rate_R is None else self.duplicate_rate_R
        return replace(self.select(np.round(rate_R, RATE_DIGITS) == rate), stopped=stopped)

    def check_one_density(self, what: str) -> None:
        """ConfigError where the runs come from corpora of different densities (`densities`), naming
        them and how to fit one (`what`: the fit that takes one corpus)."""
        rates = self.densities()
        if len(rates) > 1:
            shown = "; ".join(f"{rate:.{RATE_DIGITS}f}: {n} runs" for rate, n in rates.items())
            raise ConfigError(f"the runs{of_source(self.source)} come from {len(rates)} corpora of different density "
                              f"(duplicate rate {shown}): {what} fits one corpus, a law over two describes neither; "
                              "label each corpus's runs recipe=NAME (the density_subscaling preset does) and give "
                              "--recipe NAME, or compare them in `sweep report` (its density_subscaling finding)")

    def only_recipe(self, recipe: str | None, purpose: str) -> "RunsTable":
        """The runs of `recipe` (`of_recipe`); with None the table itself when its runs have at most one
        recipe. ConfigError for a recipe the table lacks, or for None when it has several (`purpose`:
        what takes one recipe's runs), naming the column the recipes were read from."""
        labels = sorted({r or "" for r in self.recipe}) if self.recipe is not None else []
        column = self.columns_read.get("recipe", "recipe")
        if recipe is None:
            if len(labels) > 1:
                raise ConfigError(f"the runs belong to {len(labels)} recipes (column {column!r}: {', '.join(labels)}): "
                                  f"{purpose} one recipe's runs; give --recipe NAME")
            return self
        if recipe not in labels:
            raise ConfigError(f"--recipe {recipe!r}: the runs' recipes are "
                              f"{', '.join(map(repr, labels)) if labels else 'none (no recipe column)'}")
        return self.of_recipe(recipe)

    def with_stopped(self) -> "RunsTable":
        """Every run: the complete ones, then the stopped ones set aside, each standing with its
        predicted final loss (`predicted_R` True, `interval_Rx2` its interval at `interval_level_R`);
        `excluded` then counts the stopped runs without a prediction (UNPREDICTED) instead of every
        stopped run. The table itself when no run was stopped."""
        if self.stopped is None:
            return self
        stopped, n = self.stopped, len(self)
        arrays = {f: np.concatenate([getattr(self, f), getattr(stopped, f)])
                  for f in ("n_params_R", "tokens_R", "loss_R", "flops_R")}
        for name in (f"{h}_R" for h in (*HYPERPARAMETERS, *MEASURES)):
            mine, theirs = getattr(self, name), getattr(stopped, name)
            arrays[name] = None if mine is None and theirs is None else np.concatenate(
                [np.full(n, np.nan) if mine is None else mine,
                 np.full(len(stopped), np.nan) if theirs is None else theirs])
        labels = {c: None if getattr(self, c) is None and getattr(stopped, c) is None else
                  (getattr(self, c) or (None,) * n) + (getattr(stopped, c) or (None,) * len(stopped)) for c in LABELS}
        excluded = {k: v for k, v in self.excluded.items() if k != STOPPED_EARLY}
        for k, v in stopped.excluded.items():
            excluded[k] = excluded.get(k, 0) + v
        predicted_R = np.concatenate([np.zeros(n, dtype=bool), np.ones(len(stopped), dtype=bool)])
        interval_Rx2 = np.concatenate([np.full((n, 2), np.nan), stopped.interval_Rx2])
        interval_level_R = np.concatenate([np.full(n, np.nan), stopped.interval_levels()])
        return replace(self, names=self.names + stopped.names, **labels, excluded=excluded, predicted_R=predicted_R,
                       interval_Rx2=interval_Rx2, interval_level_R=interval_level_R, stopped=None, **arrays)

    def is_predicted(self) -> np.ndarray:
        """(R,) True where a run's loss is its predicted final loss (a run stopped early)."""
        return self.predicted_R if self.predicted_R is not None else np.zeros(len(self), dtype=bool)

    def interval_levels(self) -> np.ndarray:
        """(R,) the level of each run's predicted interval: its recorded one, else UNRECORDED_LEVEL."""
        level_R = np.full(len(self), np.nan) if self.interval_level_R is None else self.interval_level_R
        return np.where(np.isfinite(level_R), level_R, UNRECORDED_LEVEL)

    def true_entropy(self) -> float | None:
        """The runs' `true_entropy_nats` (the entropy rate of a data=synthetic corpus: the loss no
        model can go below), None when no run has one; ConfigError when the runs disagree or only
        some carry it (they were trained on different corpora)."""
        if self.true_entropy_nats_R is None or not np.isfinite(self.true_entropy_nats_R).any():
            return None
        values = np.unique(self.true_entropy_nats_R[np.isfinite(self.true_entropy_nats_R)])
        missing = int((~np.isfinite(self.true_entropy_nats_R)).sum())
        if values.size > 1 or missing:
            shown = ", ".join(f"{v:.6g}" for v in values[:5])
            raise ConfigError(f"the runs{of_source(self.source)} carry different true_entropy_nats ({shown}"
                              f"{f'; {missing} runs none' if missing else ''}): a single true entropy needs "
                              f"every run trained on one synthetic corpus")
        return float(values[0])

    def with_min_tokens_per_param(self, ratio: float | None) -> "RunsTable":
        """The runs with tokens / N >= ratio; those left out are counted in `excluded` under
        "tokens_per_param < RATIO". None: the table unchanged. ConfigError unless ratio is a
        finite number > 0."""
        if ratio is None:
            return self
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.number)) or \
                not (math.isfinite(ratio) and ratio > 0):
            raise ConfigError(f"--min-tokens-per-param {ratio!r}: accepted is a finite number > 0 "
                              f"(runs with fewer tokens per parameter are left out of the fits)")
        keep_R = self.tokens_R >= ratio * self.n_params_R
        stopped = self.stopped.with_min_tokens_per_param(ratio) if self.stopped is not None else None
        if keep_R.all():
            return self if stopped is self.stopped else replace(self, stopped=stopped)
        excluded = {**self.excluded, f"tokens_per_param < {ratio:g}": int((~keep_R).sum())}
        return replace(self.select(keep_R), excluded=excluded, stopped=stopped)

    def repeated_data(self) -> dict[str, Any] | None:
        """{"runs", "max_epochs", "limit"}: the runs that read their training data more than
        MAX_EPOCHS times over (`epochs`, a runs file's `unique_tokens`); None where none does or the
        source does not say."""
        if self.epochs_R is None or not np.isfinite(self.epochs_R).any():
            return None
        over_R = np.nan_to_num(self.epochs_R, nan=0.0) > MAX_EPOCHS
        if not over_R.any():
            return None
        return {"runs": int(over_R.sum()), "max_epochs": float(np.nanmax(self.epochs_R)), "limit": MAX_EPOCHS}

    def copied_losses(self) -> dict[str, Any] | None:
        """{"runs", "values", "example"}: runs whose loss, given to more than COPY_DECIMALS decimals,
        is another run's to the last digit (a row's loss copied into another: "(Mis)Fitting Scaling
        Laws"' table holds 13 such pairs, each at two learning rates, which made an lr U-curve flat);
        None where no loss repeats so, or the runs are a sweep's or a W&B group's own (two of its runs
        that train alike, a warmup capped alike, end alike)."""
        if not is_table_file(self.source):
            return None
        copied_V = copied_values(self.loss_R)
        if not len(copied_V):
            return None
        runs = [self.names[i] for i in np.flatnonzero(self.loss_R == copied_V[0])[:2]]
        return {"runs": int(np.isin(self.loss_R, copied_V).sum()), "values": len(copied_V),
                "example": {"runs": runs, "loss": float(copied_V[0])}}

    def flops_spread(self) -> dict[str, Any] | None:
        """{"low", "high", "limit"}: the least and greatest C / (6 N T) over the runs where they are more
        than FLOPS_SPREAD apart (a file's flops counted with another N than its n_params: `--column
        n_params=N_no_emb` beside C = 6 N_total D, as "(Mis)Fitting Scaling Laws"' table has it, gave
        1.18 .. 4.75); None otherwise (a sweep's C is 6 N T; an IsoFLOP table's budget column is its
        runs' nominal C, several times 6 N T apart by design)."""
        if is_budget_column(self.columns_read.get("flops", "")):
            return None
        ratio_R = self.flops_R / training_flops(self.n_params_R, self.tokens_R)
        low, high = float(ratio_R.min()), float(ratio_R.max())
        return {"low": low, "high": high, "limit": FLOPS_SPREAD} if high > FLOPS_SPREAD * low else None

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "runs": len(self), "excluded": dict(self.excluded)}


def from_rows(rows: Iterable[dict[str, Any]], source: str = "") -> RunsTable:
    """The runs table of the dicts sweep/results.py (or sweep/wandb_runs.py) gives: loss is
    final_eval_loss; only status == "complete" is kept, every other status is counted (a damaged
    run is also named, in one line), and so is a ladder's trunk; the stopped_early rows are also
    set aside (`stopped`)."""
    kept, names, excluded, stopped = [], [], {}, []
    for i, row in enumerate(rows):
        status = (row.get("status") or "unknown") if is_fit_point(row) else TRUNK
        if status == DAMAGED:
            log.warning("left out: %s", row.get("error"))
        if status == STOPPED_EARLY:
            stopped.append((_name(row, i), row))
        if status != COMPLETE:
            excluded[status] = excluded.get(status, 0) + 1
            continue
        kept.append({**row, "loss": row.get("loss", row.get("final_eval_loss")), **_measures(row)})
        names.append(_name(row, i))
    check_one_corpus(kept, source)
    columns = {c: [r.get(c) for r in kept] for c in REQUIRED + OPTIONAL}
    actual = {name: row["loss"] for name, row in zip(names, kept) if _finite(row["loss"])}
    table = replace(_build(names, columns, excluded, source), stopped=_set_aside(stopped, source, actual))
    return validate(table, 1, "a runs table")


def from_file(path: str | os.PathLike, columns: dict[str, str] | None = None) -> RunsTable:
    """The runs table of a .csv, .tsv, .json (a list of records, or {column: [values]}), .jsonl (a
    record per line) or .parquet file with columns n_params, tokens and loss (or final_eval_loss);
    optional flops, recipe, lr, batch_size, weight_decay, d, l, seed, true_entropy_nats, loss_stderr (the
    final eval loss's standard error), duplicate_rate (the corpus's near-or-exact duplicate
    document rate), and a run name (run or name). A `status` column, where present, keeps only the
    complete rows (the stopped_early ones are set aside with their predicted_final_eval_loss and
    predicted_interval columns, as `sweep status --csv` writes them); a `role` column leaves out the
    rows of ladder trunks. `columns`: {name: the file's column} (`--column NAME=COLUMN`), read
    before any alias."""
    return from_frame(read_frame(path), str(path), columns)


def from_frame(frame: Any, source: str = "", columns: dict[str, str] | None = None) -> RunsTable:
    """The runs table of a pandas DataFrame with the columns `from_file` reads (a runs file, or
    the table of a sweep a user filtered in a notebook), found under the names `columns` gives
    ({name: the frame's column}) or a published table's (sweep/fit/runs_file.py); ConfigError naming
    a missing column."""
    row_names = list(frame.attrs.get(ROW_NAMES) or [f"row {i}" for i in frame.index])  # a file's: "line 10"
    frame = frame.reset_index(drop=True)  # a row's place: its name in row_names
    frame, excluded = _without_duplicates(frame, row_names, source or "the runs table")
    frame, columns_read = named_columns(frame, source or "the runs table", REQUIRED, columns, COLUMN_NAMES)
    frame = frame.rename(columns={alias: name for name, alias in MEASURE_ALIASES.items()
                                  if name not in frame.columns and alias in frame.columns})
    if "role" in frame.columns:
        trunk_R = (frame["role"] == TRUNK).to_numpy()
        if trunk_R.any():
            excluded[TRUNK] = int(trunk_R.sum())
        frame = frame[~trunk_R]
    name_column = next((c for c in NAME_COLUMNS if c in frame.columns), None)
    stopped = None
    if "status" in frame.columns:
        # any case: "COMPLETE" left every run out
        status_R = frame["status"].fillna("unknown").astype(str).str.strip().str.lower()
        for status, count in status_R[status_R != COMPLETE].value_counts().items():
            excluded[status] = int(count)
        stopped_rows = frame[(status_R == STOPPED_EARLY).to_numpy()]
        if len(stopped_rows):
            stopped = [(str(r[name_column]) if name_column else row_names[i], r)
                       for i, r in zip(stopped_rows.index, stopped_rows.to_dict("records"))]
        frame = frame[(status_R == COMPLETE).to_numpy()]
    if all(k in frame.columns for k in CORPUS_KEYS):  # as `sweep status --csv` writes them
        check_one_corpus(frame[[*CORPUS_KEYS, *(["recipe"] if "recipe" in frame.columns else [])]].to_dict("records"),
                         source)
    names = [str(v) for v in frame[name_column]] if name_column else [row_names[i] for i in frame.index]
    columns = {c: frame[c].tolist() if c in frame.columns else [None] * len(frame) for c in REQUIRED + OPTIONAL}
    table = replace(_build(names, columns, excluded, source), stopped=_set_aside(stopped or [], source),
                    columns_read={name: alias for name, alias in columns_read.items()
                                  if alias not in ("final_eval_loss", *NAME_COLUMNS)},  # our own names: nothing to say
                    loss_unit=LOSS_UNIT if columns_read.get("loss") == "final_eval_loss" else FILE_LOSS_UNIT)
    table = validate(table, 1, "a runs table")
    check_counts(table.n_params_R, table.tokens_R, source, columns_read, table.names)
    check_loss_unit(table.loss_R, columns_read.get("loss", "loss"), source)
    if "flops" in frame.columns:
        check_flops(table.n_params_R, table.tokens_R, table.flops_R, columns_read.get("flops", "flops"), source)
    return table


def _without_duplicates(frame: Any, row_names: Sequence[str], where: str) -> tuple[Any, dict[str, int]]:
    """The frame without the rows that repeat an earlier row in every column (a row pasted twice: it
    would count as two runs, and the bootstrap draw it twice as often), the first kept, and {EXACT_DUPLICATE:
    how many were dropped} ({} where none); one warning naming each dropped row and the row it repeats
    (`row_names`, by place)."""
    first_of: dict[tuple, int] = {}
    repeats = {}  # a dropped row's place: the place of the row it repeats
    for i, row in enumerate(frame.itertuples(index=False, name=None)):
        first = first_of.setdefault(tuple(_cell_key(v) for v in row), i)
        if first != i:
            repeats[i] = first
    if not repeats:
        return frame, {}
    shown = ", ".join(f"{row_names[i]} (as {row_names[first]})" for i, first in list(repeats.items())[:MAX_SHOWN])
    more = f" and {len(repeats) - MAX_SHOWN} more" if len(repeats) > MAX_SHOWN else ""
    log.warning("warning: %s: %d row(s) repeat an earlier row in every column, dropped (each run is counted once; a copy "
                "would weigh twice in the fits and their bootstrap): %s%s", where, len(repeats), shown, more)
    keep_R = np.ones(len(frame), dtype=bool)
    keep_R[list(repeats)] = False
    return frame[keep_R], {EXACT_DUPLICATE: len(repeats)}


def _cell_key(value: Any) -> Any:
    """A cell as compared between rows: an empty one (NaN, None) equal to another empty one, an
    unhashable one (a list in a JSON record) by its text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _EMPTY
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def load_runs_table(source: str | os.PathLike, columns: dict[str, str] | None = None) -> RunsTable:
    """A runs file (.csv, .tsv, .json, .jsonl, .parquet), a sweep folder, or a W&B group
    (`wandb:[ENTITY/]PROJECT/GROUP`). `columns`: a runs file's {name: its column}; ConfigError
    with any other source (a sweep's own columns are named already)."""
    text = str(source)
    if is_table_file(text):
        return from_file(text, columns)
    if columns:
        raise ConfigError(given_for_sweep(columns, text))
    from sweep.results import load_source

    return from_rows(load_source(text), source=text)


def given_for_sweep(columns: dict[str, str], source: str) -> str:
    """The message for `--column` given with a sweep folder or W&B group."""
    name, column = next(iter(columns.items()))
    return (f"--column {name}={column}: {source} is a sweep folder or W&B group, whose columns are its own; "
            "--column names a runs file's (.csv, .tsv, .json, .jsonl, .parquet)")


def _overflow(table: RunsTable, i: int, name: str) -> str:
    """Where run i's flops are infinite as 6 n_params tokens of two finite values: those values, as
    the user wrote them (n_params = 1e308 read as "flops = inf" alone)."""
    n_params, tokens = float(table.n_params_R[i]), float(table.tokens_R[i])
    if name != "flops" or not (np.isinf(table.flops_R[i]) and np.isfinite(n_params) and np.isfinite(tokens)):
        return ""
    return (f", computed as 6 n_params tokens from n_params = {n_params:.4g} and tokens = {tokens:.4g}: beyond any "
            "float, so one of them is not a count of parameters or tokens")


def validate(table: RunsTable, min_runs: int, purpose: str) -> RunsTable:
    """The table unchanged, or a ConfigError naming the first run whose N, T, C or loss is not a
    finite positive number, or saying how many runs `purpose` needs."""
    for column in ("n_params_R", "tokens_R", "loss_R", "flops_R"):
        values_R = getattr(table, column)
        if values_R.shape != (len(table),):
            raise ConfigError(f"column {column[:-2]} has shape {values_R.shape}, expected ({len(table)},)")
        bad_R = ~(np.isfinite(values_R) & (values_R > 0))
        if bad_R.any():
            i, name = int(np.argmax(bad_R)), column[:-2]
            read = table.columns_read.get(name)  # where the file's own column or a computation gave it
            raise ConfigError(f"run {table.names[i]!r}{of_source(table.source)}: {name} = {float(values_R[i])!r}"
                              + (f" (read as {read})" if read else "") + _overflow(table, i, name)
                              + "; n_params, tokens, flops and loss must "
                              f"be finite and positive ({int(bad_R.sum())} such row(s))")
    if len(table) < min_runs:
        fitted = (f"; a run is fitted when its status is {COMPLETE!r}, or W&B's {WANDB_FINISHED!r}"
                  if len(table) == 0 and _statuses(table.excluded) else "")  # was: "(25 weird left out)" alone
        left_out = f" ({excluded_text(table.excluded)} left out{fitted})" if table.excluded else ""
        raise ConfigError(f"{purpose} needs at least {min_runs} complete run{'s' * (min_runs != 1)}; the runs table"
                          f"{of_source(table.source)} has {len(table)}{left_out}")
    return table


def _statuses(excluded: dict[str, int]) -> list[str]:
    """The runs' statuses among a table's left-out counts (a word each: failed, crashed, a file's own);
    not its other reasons (trunk, exact duplicate, tokens_per_param < X, no loss records)."""
    return [k for k in excluded if k != TRUNK and k.replace("_", "").isalpha()]


def _build(names: list[str], columns: dict[str, list[Any]], excluded: dict[str, int], source: str) -> RunsTable:
    n_params_R, tokens_R, loss_R = (_floats(columns[c], c, names, source) for c in REQUIRED)
    flops_R = _floats(columns["flops"], "flops", names, source)
    with np.errstate(over="ignore", invalid="ignore"):  # n_params = 1e308: validate names it, not numpy
        flops_R = np.where(np.isnan(flops_R), training_flops(n_params_R, tokens_R), flops_R)
    optional = {f"{h}_R": _floats(columns[h], h, names, source) if any(_given(v) for v in columns[h]) else None
                for h in HYPERPARAMETERS}
    optional.update({f"{m}_R": _floats(columns[m], m, names, source) if any(_given(v) for v in columns[m]) else None
                     for m in MEASURES})
    labels = {c: tuple(_label(v) if _given(v) else None for v in columns[c])
              if any(_given(v) for v in columns[c]) else None for c in LABELS}
    return RunsTable(tuple(names), n_params_R, tokens_R, loss_R, flops_R, **labels, excluded=excluded,
                     source=source, **optional)


def check_one_corpus(rows: Sequence[dict[str, Any]], source: str = "") -> None:
    """ConfigError where the runs were trained on different corpora or vocabularies (CORPUS_KEYS:
    a run folder's `data`, `tokenizer`, `vocab_size`): a loss in nats per token of one is not that
    of another (another entropy, another token), so no law fits them together. Runs whose recipes
    each hold one corpus pass: `--recipe` (or the crossover) takes them one recipe at a time.
    Unknown values (a row without them) are not counted as a corpus."""
    corpus_of = [tuple(_label(v) if _given(v) else None for v in (row.get(k) for k in CORPUS_KEYS)) for row in rows]
    corpora: dict[tuple, int] = {}
    recipes: dict[str, set[tuple]] = {}
    for row, corpus in zip(rows, corpus_of):
        if all(v is None for v in corpus):
            continue
        corpora[corpus] = corpora.get(corpus, 0) + 1
        recipes.setdefault(str(row.get("recipe") or ""), set()).add(corpus)
    if len(corpora) <= 1 or (len(recipes) > 1 and all(len(c) == 1 for c in recipes.values())):
        return
    shown = "; ".join(f"{'/'.join(str(v) for v in corpus)}: {n} runs" for corpus, n in corpora.items())
    raise ConfigError(f"the runs{of_source(source)} were trained on {len(corpora)} corpora or vocabularies "
                      f"({'/'.join(CORPUS_KEYS)}: {shown}): a loss per token of one is not a loss of another, so "
                      "one law cannot fit them; fit each alone: `sweep status SOURCE --csv runs.csv`, keep one's "
                      "rows (its columns data, tokenizer, vocab_size) and fit that file (a sweep per corpus in its "
                      "own out_dir, or labelled recipe=NAME to be fitted with --recipe NAME, keeps them apart)")


def _label(value: Any) -> str:
    """A label as text; a whole number written as a float (a seed 1.0 from a CSV column with gaps) as "1"."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _measures(row: dict[str, Any]) -> dict[str, Any]:
    """A sweep row's measured columns under the runs table's names (MEASURE_ALIASES: its final
    eval loss's standard error, its corpus density report's duplicate rate, nested or flattened)."""
    density = row.get("data_density")
    nested = {"duplicate_rate": density.get("near_or_exact_duplicate_rate")} if isinstance(density, dict) else {}
    return {name: row.get(name, row.get(alias, nested.get(name))) for name, alias in MEASURE_ALIASES.items()}


def _set_aside(stopped: Sequence[tuple[str, dict[str, Any]]], source: str,
               actual: dict[str, float] | None = None) -> RunsTable | None:
    """The table of the runs stopped early, (name, row) each: loss = the row's
    predicted_final_eval_loss, interval_Rx2 its predicted_interval ([lo, hi], NaN where absent),
    interval_level_R its predicted_interval_level (NaN where absent or not a probability);
    the rows without a finite numeric prediction are counted in its `excluded` (UNPREDICTED).
    None when there is no stopped run.

    A run was stopped because it was judged to end worse than another member of its group
    (`early_stop.best_run` of its result.json: of the early_stop.beaten_by members it was judged
    worse than, the one with the highest high end; sweep/early_stop.py decide). Where
    that run completed (`actual`: complete runs' final losses by name)
    and ended above the stopped run's prediction, the prediction contradicts the decision it was
    stopped by (both were predicted low): the stopped run stands at the best run's actual final loss
    instead, the least loss the decision allows it, so it never becomes its U-curve's best."""
    if not stopped:
        return None
    actual = actual or {}

    def standing(row: dict[str, Any]) -> float:
        best = (row.get("early_stop") or {}).get("best_run") if isinstance(row.get("early_stop"), dict) else None
        return max(row[PREDICTED_LOSS], actual.get(best, -math.inf))

    kept = [(name, {**row, "loss": standing(row)}) for name, row in stopped if _finite(row.get(PREDICTED_LOSS))]
    unpredicted = len(stopped) - len(kept)
    columns = {c: [row.get(c) for _, row in kept] for c in REQUIRED + OPTIONAL}
    table = _build([name for name, _ in kept], columns, {UNPREDICTED: unpredicted} if unpredicted else {}, source)
    interval_Rx2 = np.array([_interval(row.get(PREDICTED_INTERVAL)) for _, row in kept], dtype=float).reshape(-1, 2)
    interval_level_R = np.array([_level(row.get(PREDICTED_INTERVAL_LEVEL)) for _, row in kept], dtype=float)
    return replace(table, predicted_R=np.ones(len(kept), dtype=bool), interval_Rx2=interval_Rx2,
                   interval_level_R=interval_level_R)


def _level(value: Any) -> float:
    """A predicted_interval_level: a probability in (0, 1), else NaN (read as UNRECORDED_LEVEL)."""
    return float(value) if _finite(value) and 0 < float(value) < 1 else math.nan


def _interval(value: Any) -> tuple[float, float]:
    """A predicted_interval as (lo, hi): a pair of numbers, or its text in a CSV cell ("[2.9, 3.1]");
    (NaN, NaN) for anything else (a missing interval only loses its error bar)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return (math.nan, math.nan)
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2 and all(_finite(v) for v in value):
        return (float(value[0]), float(value[1]))
    return (math.nan, math.nan)


def _finite(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float, np.number))
            and math.isfinite(float(value)))


def _name(row: dict[str, Any], i: int) -> str:
    return str(row.get("run") or row.get("path") or f"row {i}")


def _pick(values: Sequence[Any], keep_R: np.ndarray) -> tuple[Any, ...]:
    return tuple(v for v, k in zip(values, keep_R) if k)


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _floats(values: Sequence[Any], column: str, names: Sequence[str], source: str = "") -> np.ndarray:
    """None -> NaN; a value that is not a number -> ConfigError naming it, its column, run and source."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"run {names[i]!r}{of_source(source)}: {column} = {v!r} is not a number") from None
    return out


def repeated_data_text(repeated: dict[str, Any]) -> str:
    """The warning for a table's `repeated_data`: what it means for the fits, and the remedy."""
    return (f"{repeated['runs']} run(s) read their training data more than {repeated['limit']:g} times over (up to "
            f"{repeated['max_epochs']:.3g} epochs): the laws count every token as new, but repeated tokens are worth "
            "less (Muennighoff et al. 2023), so the data term and T_opt read them as more data than they are "
            "(remedy: fit the runs of at most a few epochs, a runs file filtered on its epochs or unique tokens)")


def copied_values(loss_R: np.ndarray) -> np.ndarray:
    """The losses given to more than COPY_DECIMALS decimals that occur more than once in `loss_R`."""
    precise_R = np.isfinite(loss_R) & (np.round(loss_R, COPY_DECIMALS) != loss_R)
    value_V, count_V = np.unique(loss_R[precise_R], return_counts=True)
    return value_V[count_V > 1]


def copied_losses_text(copied: dict[str, Any]) -> str:
    """The warning for a table's `copied_losses`: what it means for the fits, and what to do."""
    a, b = copied["example"]["runs"]
    return (f"{copied['runs']} runs share {copied['values']} loss value(s) to the last of their digits (e.g. {a!r} and "
            f"{b!r}: {copied['example']['loss']!r}): runs that differ do not end at the same loss to 1e-6, so these "
            "are copies of one row in another, or values read off a plot (a digitized table), less precise than their "
            "digits; every fit and U-curve reads each as a measurement (check the table at its source)")


def flops_spread_text(spread: dict[str, Any]) -> str:
    """The warning for a table's `flops_spread`: what it means for the fits, and the remedy."""
    return (f"the flops column is {spread['low']:.3g} .. {spread['high']:.3g} times 6 N T over the runs (more than "
            f"{spread['limit']:g}x apart): it counts another N than n_params (total against non-embedding "
            "parameters?); the IsoFLOP budgets and the lr / batch laws in C read it as each run's compute (remedy: "
            "an n_params column counted as the flops were, or leave the flops out: C = 6 N T)")


def of_source(source: str) -> str:
    """' of SOURCE' for a message naming where the runs came from; '' for an unnamed table."""
    return f" of {source}" if source else ""

