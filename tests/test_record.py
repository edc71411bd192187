"""sweep/record.py: the run record, defined once (coordinates, name prefix, tags, status, FLOPs)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from sweep.budget import compute_budget, model_shape
from sweep.record import (COORDINATES, FINISHED, GRID_AXES, SETTINGS, STATUSES, Coordinates, legacy_run_name_prefix,
                          run_name_prefix, run_status, run_tags, setting_value, training_flops)
from sweep.rundir import RunDir


def coordinates_of(cfg) -> Coordinates:
    return Coordinates.of(cfg, compute_budget(cfg), run=RunDir.for_config(cfg).path.name,
                          vocab_size=model_shape(cfg).vocab_size)


def test_coordinates_head_result_json_in_one_order_each_from_the_setting_or_budget_it_names(tiny_config):
    cfg = tiny_config("model.d=64", "recipe=muon")
    budget = compute_budget(cfg)
    coordinates = coordinates_of(cfg).as_dict()
    assert tuple(coordinates) == COORDINATES == (
        "run", "d", "l", "batch_size", "lr", "weight_decay", "weight_decay_mode", "seed", "recipe", "seq_len", "data",
        "tokenizer", "vocab_size", "tokens_per_param", "n_params", "n_params_nonembedding", "n_params_embedding",
        "n_params_total", "tokens", "flops", "steps")
    assert coordinates["run"] == RunDir.for_config(cfg).path.name
    assert (coordinates["d"], coordinates["recipe"], coordinates["data"]) == (64, "muon", cfg.data.source.value)
    assert all(coordinates[name] == setting_value(cfg, path) for name, path in SETTINGS.items())
    assert {name: coordinates[name] for name in ("n_params", "tokens", "flops", "steps")} == {
        "n_params": budget.n_params, "tokens": budget.tokens, "flops": budget.flops, "steps": budget.steps}
    assert coordinates["flops"] == training_flops(budget.n_params, budget.tokens)


def test_grid_axes_are_the_numeric_coordinates_a_run_folder_row_reads_from_config_yaml():
    assert GRID_AXES == ("d", "l", "batch_size", "lr", "weight_decay", "seed")
    assert {name: SETTINGS[name] for name in GRID_AXES} == {
        "d": "model.d", "l": "model.l", "batch_size": "train.batch_size", "lr": "optim.lr",
        "weight_decay": "optim.weight_decay", "seed": "seed"}
    assert all(f.metadata.get("setting") or f.metadata.get("budget") or f.name in ("run", "vocab_size")
               for f in fields(Coordinates))


def test_the_name_prefix_and_the_tags_share_the_grid_labels(tiny_config):
    cfg = tiny_config("model.d=64", "model.l=2", "optim.lr=3e-3", "optim.weight_decay=0.1", "recipe=" + "r" * 80,
                      "budget.tokens_per_param=10")
    assert run_name_prefix(cfg) == "d64-l2-b4-lr3.0e-03-wd0.1-tpp10"
    assert legacy_run_name_prefix(cfg) == "d64-l2-b4-lr3.0e-03-wd0.1"  # before tokens per parameter joined it
    tags = run_tags(coordinates_of(cfg), ["width"])
    assert tags[:6] == ["d64", "l2", "b4", "lr3.0e-03", "wd0.1", "tpp10"] and "-".join(tags[:6]) == run_name_prefix(cfg)
    assert tags[6:] == [f"data:{cfg.data.source.value}", f"tokenizer:{cfg.data.tokenizer.value}", "width",
                        ("recipe:" + "r" * 80)[:64]]
    assert "recipe:" not in " ".join(run_tags(coordinates_of(tiny_config()), []))


@pytest.mark.parametrize("recorded, held, started, status", [
    ("complete", True, True, "complete"),  # a finished result stands, whoever holds the folder
    ("diverged", False, True, "diverged"),
    ("failed", True, True, "running"),  # a failed run being retried
    ("failed", False, True, "failed"),
    (None, True, False, "running"),
    (None, False, True, "started"),
    (None, False, False, "pending"),
])
def test_a_status_follows_from_the_result_the_holder_and_what_the_run_left(recorded, held, started, status):
    assert run_status(recorded, held, started) == status


def test_result_json_records_complete_diverged_failed_or_stopped_early_and_the_first_two_are_never_run_again():
    assert STATUSES == ("complete", "diverged", "failed", "stopped_early") and FINISHED == ("complete", "diverged")
