"""sweep/fit/findings/cells.py: the best run of each (group, N, tokens) cell with its standard
error, and the cells grouped by tokens per parameter."""

from __future__ import annotations

import math

import pytest

from sweep.fit.findings.cells import best_cells, by_tokens_per_param, fallback_note, plus_minus
from sweep.fit.noise import FALLBACK_RELATIVE_STDERR
from sweep.fit.table import from_rows


def row(name, recipe, n, tokens, loss, stderr=None, d=None):
    return {"status": "complete", "run": name, "recipe": recipe, "n_params": n, "tokens": tokens, "loss": loss,
            "loss_stderr": stderr, "d": d}


def test_each_group_s_cell_stands_by_its_lowest_loss_with_that_run_s_stderr():
    table = from_rows([row("a-hi", "a", 1e6, 2e7, 3.2, 0.01, 64), row("a-lo", "a", 1e6, 2e7, 3.0, 0.02, 64),
                       row("b", "b", 1.05e6, 2.05e7, 3.1, None, 64), row("c", "c", 1e6, 2e7, 2.0, 0.01)])
    cells = best_cells(table, [r if r != "c" else None for r in table.recipe])  # c's runs are left out
    assert [(c.group, c.run) for c in cells] == [("a", "a-lo"), ("b", "b")]
    a, b = cells
    assert (a.loss, a.stderr, a.fallback, a.width) == (3.0, 0.02, False, 64)
    assert (a.n_params, a.tokens) == (b.n_params, b.tokens)  # within the budget tolerance: one cell
    assert b.fallback and b.stderr == pytest.approx(FALLBACK_RELATIVE_STDERR * 3.1)


def test_a_cell_s_seeds_stand_as_one_run_at_their_mean_with_their_spread_in_its_stderr():
    seeds = [dict(row(f"a-s{s}", "a", 1e6, 2e7, loss, 0.001, 64), seed=s) for s, loss in enumerate((3.0, 3.1, 3.2))]
    (cell,) = best_cells(from_rows(seeds + [row("b", "b", 1e6, 2e7, 2.0)]), ["a", "a", "a", None])
    assert (cell.run, cell.loss, cell.fallback) == ("a-s0 +2 seeds", pytest.approx(3.1), False)
    assert cell.stderr == pytest.approx(math.hypot(0.1 / math.sqrt(3), 0.001))


def test_a_table_without_stderr_or_width_columns_gets_the_fallback_and_nan():
    (cell,) = best_cells(from_rows([row("a", None, 1e6, 2e7, 3.0)]), [""])
    assert cell.fallback and math.isnan(cell.width) and cell.to_dict()["width"] is None
    assert best_cells(from_rows([row("a", None, 1e6, 2e7, 3.0)]), [None]) == []


def test_ratios_rounded_up_to_whole_steps_are_one_group_named_by_the_least():
    table = from_rows([row(f"r{i}", None, n, n * ratio, 3.0)
                       for i, (n, ratio) in enumerate([(1e6, 20.0), (2e6, 20.8), (4e6, 20.3), (1e6, 50.0)])])
    groups = by_tokens_per_param(best_cells(table, [""] * len(table)))
    assert list(groups) == [20, 50] and [len(g) for g in groups.values()] == [3, 1]


def test_plus_minus_marks_the_fallback_and_the_note_counts_it():
    assert plus_minus(3.2141, 0.0061) == "3.214 ± 0.0061"
    assert plus_minus(3.2141, 0.0061, True).endswith("*")
    cells = best_cells(from_rows([row("a", None, 1e6, 2e7, 3.0), row("b", None, 2e6, 4e7, 2.9, 0.01)]), ["", ""])
    assert "1 of 2 losses" in fallback_note(cells) and fallback_note(cells[1:]) == ""
