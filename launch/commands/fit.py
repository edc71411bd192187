"""`sweep fit`: one scaling law fitted to a sweep folder, a W&B group or a runs file, printed as YAML or
JSON with its warnings; and the runs table every fitting subcommand reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from rich.table import Table

from launch.commands.printing import cell, console, num
from launch.commands.status import runs_table
from launch.commands.wandb_target import report_target
from sweep.errors import ConfigError
from sweep.fit.hyperparams import upper_bound_text
from sweep.fit.points import MisfitTest, loss_rises_text
from sweep.fit.table import copied_losses_text, flops_spread_text, repeated_data_text
from sweep.results import flatten


def table_source(source: str | None, runs_file: Path | None) -> tuple[str | None, Path | None]:
    """(source, runs_file) with a runs file (.csv, .tsv, .json, .jsonl, .parquet) given as the source taken
    as --runs-table."""
    from sweep.fit.runs_file import is_table_file

    if (source is None) == (runs_file is None):
        raise ConfigError("give a sweep folder or W&B group, or a runs file (.csv, .tsv, .json, .jsonl, .parquet; "
                          "or --runs-table FILE): one of them")
    return (None, Path(source)) if source is not None and is_table_file(source) else (source, runs_file)


def given_columns(items: Sequence[str] | None) -> dict[str, str]:
    """`--column NAME=COLUMN ...` as {NAME: COLUMN}; ConfigError for an item without "=" or a NAME
    given twice (runs_file.py checks NAME and COLUMN against the file)."""
    out: dict[str, str] = {}
    for item in items or ():
        name, eq, column = item.partition("=")
        name = name.strip()
        if not eq or not name or not column:
            raise ConfigError(f"--column {item!r}: accepted is NAME=COLUMN, a runs file's COLUMN read as the fits' "
                              "NAME (e.g. --column loss=c4_val_loss --column n_params=nonembedding_params)")
        if name in out:
            raise ConfigError(f"--column {name}: given twice ({out[name]!r} and {column!r}); one column per name")
        out[name] = column
    return out


def load_table(source: str | None, runs_file: Path | None, upload: bool = False,
               columns: dict[str, str] | None = None):
    """The runs table of a sweep folder / W&B group (with its rows) or of a runs file (`columns`:
    {name: the file's column}, `--column`)."""
    from sweep.fit.table import from_file, from_rows, given_for_sweep

    source, runs_file = table_source(source, runs_file)
    if runs_file is not None:
        if upload:
            raise ConfigError("--upload logs to the sweep's W&B group: give the sweep folder or wandb: group, "
                              "not --runs-table")
        return from_file(runs_file, columns), None
    if columns:
        raise ConfigError(given_for_sweep(columns, str(source)))
    rows = runs_table(source)
    return from_rows(rows, source=source), rows


def has_curves(source: str) -> bool:
    """Whether a source has loss curves (Approach 1): a sweep folder, or a W&B group."""
    return source.startswith("wandb:") or Path(source).is_dir()


def fit(source: str | None, runs_file: Path | None, law: str, as_json: bool, bootstrap: int, seed: int,
        compute: float | None, cutoff: float | None, by: str | None, upload: bool, recipe: str | None = None,
        fix: Sequence[str] | None = None,
        min_tokens_per_param: float | None = None, bootstrap_method: str | None = None,
        columns: Sequence[str] | None = None) -> int:
    import yaml

    from sweep.fit.laws import ALL_RECIPES, fit_law
    from sweep.fit.curve_reader import read_curves

    table, rows = load_table(source, runs_file, upload, given_columns(columns))
    if upload and recipe == ALL_RECIPES:
        raise ConfigError(f"--upload logs one fit with its runs' predictions: give --recipe NAME, not "
                          f"--recipe {ALL_RECIPES}")
    curves = read_curves(source) if law == "envelope" and source and has_curves(source) else None
    result = fit_law(law, table, curves=curves, bootstrap=bootstrap, seed=seed, compute=compute, cutoff=cutoff, by=by,
                     recipe=recipe, fix=fix,
                     min_tokens_per_param=min_tokens_per_param, bootstrap_method=bootstrap_method)
    readable = no_width_as_n_a(result)  # what the YAML shows; the JSON keeps the numbers
    if as_json:
        print(json.dumps(result, indent=2))
    elif "recipes" in result and isinstance(result["recipes"], dict):  # --recipe all
        head = {k: v for k, v in readable.items() if k not in ("recipes", "skipped")}
        console.print(yaml.safe_dump(head, sort_keys=False), highlight=False)
        console.print(recipes_side_by_side(readable["recipes"]))
        for name, why in result["skipped"].items():
            console.print(f"recipe {name!r} skipped: {why}", highlight=False)
    elif law == "compare":
        console.print(yaml.safe_dump({k: v for k, v in readable.items() if k != "per_run"}, sort_keys=False),
                      highlight=False)
        console.print(held_out_table(result))
    else:
        console.print(yaml.safe_dump(readable, sort_keys=False), highlight=False)
    for line in fit_warnings(result):  # after the YAML; with --json on stderr, so stdout stays JSON
        print(line, file=sys.stderr if as_json else sys.stdout)
    if upload:
        from sweep.tracking import upload_report

        where = upload_report(table_rows(table, result), {}, fits={law: result}, kind=f"fit-{law}",
                              **report_target(source, rows))
        print(f"runs table with the {law} fit logged to W&B: {where}", file=sys.stderr if as_json else sys.stdout)
    return 0


def no_width_as_n_a(result: Any) -> Any:
    """The fit's dict with the intervals of each bootstrap that has no width (an IsoFLOP bootstrap's
    `no_width` says why: sweep/fit/isoflop.py) read "n/a", as the report reads them, not [x, x];
    at any depth (the fits of --recipe all). The dict given is not changed."""
    if isinstance(result, list):
        return [no_width_as_n_a(v) for v in result]
    if not isinstance(result, dict):
        return result
    out = {k: no_width_as_n_a(v) for k, v in result.items()}
    if out.get("no_width") and isinstance(out.get("intervals"), dict):
        out["intervals"] = {k: "n/a" for k in out["intervals"]}
    return out


def fit_warnings(result: dict[str, Any], prefix: str = "") -> list[str]:
    """Plain lines for a fit's identifiability flags (`warning: E: ...`; a fit inside compare /
    crossover prefixed by its name, one of --recipe all by its recipe), a scatter about the law
    beyond what the seeds move (the misfit test, sweep/fit/points.py) and, where the runs carry
    it, the true entropy beside E."""
    repeated = result.get("repeated_data")
    lines = [f"warning: {prefix}repeated data: {repeated_data_text(repeated)}"] if repeated else []
    if result.get("copied_losses"):
        lines.append(f"warning: {prefix}copied losses: {copied_losses_text(result['copied_losses'])}")
    if result.get("flops_spread"):
        lines.append(f"warning: {prefix}flops: {flops_spread_text(result['flops_spread'])}")
    if result.get("untuned_points"):
        lines.append(f"warning: {prefix}untuned points: {upper_bound_text(result['untuned_points'])}")
    if result.get("loss_rises"):
        lines.append(f"warning: {prefix}loss rising with tokens: {loss_rises_text(result['loss_rises'])}")
    lines += [f"warning: {prefix}{flag['parameter']}: {flag['problem']} (remedy: {flag['remedy']})"
              for flag in result.get("identifiability") or []]
    test = MisfitTest(**result["misfit_test"]) if result.get("misfit_test") else None
    if test is not None and test.beyond_seeds:
        lines.append(f"warning: {prefix}misfit: {test.warning()}: the law's form, or noise the seeds do not vary")
    for name, fit_dict in (result.get("fits") or {}).items():
        lines += fit_warnings(fit_dict, f"{prefix}{name}: ")
    recipes = result.get("recipes")
    for name, recipe_result in (recipes.items() if isinstance(recipes, dict) else ()):
        lines += fit_warnings(recipe_result, f"{prefix}recipe {name}: ")
    if result.get("true_entropy_nats") is not None and result.get("E") is not None:
        inside = result.get("E_interval_contains_truth")
        where = ("" if inside is None else "; inside E's interval" if inside else "; OUTSIDE E's interval")
        lines.append(f"{prefix}true entropy of the synthetic corpus: {result['true_entropy_nats']:.4g} nats/token "
                     f"beside fitted E = {result['E']:.4g}{where}")
    return lines


def recipes_side_by_side(results: dict[str, dict[str, Any]]) -> Table:
    """--recipe all: one column per recipe, one row per number or word of the fits (nested fields
    dotted; lists, the per-recipe fits of compare and the run counts by status left to --json)."""
    skip = ("law", "source", "recipe", "fits.", "per_run", "excluded", "start.", "budgets", "groups")
    flat = {name: {k: v for k, v in flatten(result).items() if not k.startswith(skip)
                   and (v is None or isinstance(v, (int, float, str, bool)))} for name, result in results.items()}
    keys = list(dict.fromkeys(k for fields in flat.values() for k in fields))
    table = Table(title="each recipe fitted alone (--json: every field)")
    table.add_column("", overflow="fold")
    for name in results:  # folded, not cut: two recipes alike but for their ends (llama3_..._raw_loss, ..._exp_loss)
        table.add_column(name, justify="right", overflow="fold")
    for key in keys:
        table.add_row(key, *(cell(flat[name].get(key)) for name in results))
    return table


def held_out_table(result: dict[str, Any]) -> Table:
    """--law compare: each held-out run with every law's prediction and relative error."""
    laws = list(result["held_out_errors"])
    table = Table(title=f"held-out runs ({result['by']} >= {result['cutoff']:.4g}); rel error = pred / loss - 1")
    for column in ("run", "N", "tokens", "C (FLOPs)", "loss"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for law in laws:
        table.add_column(f"pred {law}", justify="right")
        table.add_column("rel error", justify="right")
    for run in result["per_run"]:
        if run["held_out"]:
            table.add_row(run["name"], *(num(run[k], ".4g") for k in ("n_params", "tokens", "flops", "loss")),
                          *(cell for law in laws for cell in (num(run[f"pred_{law}"], ".4g"),
                                                              num(run[f"rel_error_{law}"], "+.2%"))))
    return table


def table_rows(table, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The fitted runs, with the law's prediction of each (chinchilla, subscaling)."""
    rows = [{"run": name, "n_params": float(n), "tokens": float(t), "flops": float(c), "loss": float(loss)}
            for name, n, t, c, loss in zip(table.names, table.n_params_R, table.tokens_R, table.flops_R,
                                           table.loss_R)]
    if result.get("form") in ("chinchilla", "subscaling"):
        from sweep.fit.parametric import ChinchillaLaw, SubScalingLaw

        names = ("E", "A", "B", "alpha", "beta") + (("k_D", "k_N") if result["form"] == "subscaling" else ())
        law = (SubScalingLaw if result["form"] == "subscaling" else ChinchillaLaw)(**{k: result[k] for k in names})
        for row in rows:
            row[f"pred_{result['form']}"] = float(law.predict(row["n_params"], row["tokens"]))
    return rows

