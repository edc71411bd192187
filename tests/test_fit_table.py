"""sweep/fit/table.py: the runs table the fits read, from rows, files and sweep folders."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from sweep.errors import ConfigError
from sweep.fit.table import (copied_losses_text, flops_spread_text, from_file, from_frame, from_rows, load_runs_table,
                             repeated_data_text, validate)
from sweep.rundir import RunDir


def row(name, status="complete", n=1e6, tokens=2e7, loss=3.0, **extra):
    return {"run": name, "status": status, "n_params": n, "tokens": tokens, "final_eval_loss": loss,
            "d": 64, "l": 2, "batch_size": 16, "lr": 1e-3, "weight_decay": 0.1, "seed": 0, **extra}


def test_rows_keep_complete_runs_and_count_the_others():
    rows = [row("a", flops=1.5e14), row("b", n=2e6, lr=3e-3), row("c", status="diverged", loss=None),
            row("d", status="diverged"), row("e", status="failed", loss=None), row("f", status="started")]
    table = from_rows(rows, source="sweep")
    assert table.names == ("a", "b")
    assert table.excluded == {"diverged": 2, "failed": 1, "started": 1}
    np.testing.assert_array_equal(table.loss_R, [3.0, 3.0])
    np.testing.assert_array_equal(table.lr_R, [1e-3, 3e-3])
    assert table.flops_R[0] == 1.5e14  # given
    assert table.flops_R[1] == 6 * 2e6 * 2e7  # absent: 6 N T
    assert table.recipe is None
    assert table.select(table.lr_R > 2e-3).names == ("b",)


def test_a_ladder_trunk_is_no_point_of_a_fit_and_is_counted_as_left_out():
    rows = [row("trunk", role="trunk"), row("b5", role="branch"), row("b10", role="branch", tokens=4e7), row("plain")]
    table = from_rows(rows)
    assert table.names == ("b5", "b10", "plain") and table.excluded == {"trunk": 1}
    framed = from_frame(pd.DataFrame(rows))
    assert framed.names == ("b5", "b10", "plain") and framed.excluded == {"trunk": 1}


def test_runs_below_a_tokens_per_param_ratio_are_left_out_and_counted():
    rows = [row("a", tokens=5e5), row("b", tokens=1e6, lr=3e-3), row("c", tokens=2e7), row("d", status="failed")]
    table = from_rows(rows, source="sweep")  # 0.5, 1 and 20 tokens per parameter
    assert table.with_min_tokens_per_param(None) is table
    kept = table.with_min_tokens_per_param(1)
    assert kept.names == ("b", "c") and kept.lr_R.tolist() == [3e-3, 1e-3]
    assert kept.excluded == {"failed": 1, "tokens_per_param < 1": 1}
    assert table.with_min_tokens_per_param(0.5).excluded == {"failed": 1}  # nothing below: nothing counted
    assert table.with_min_tokens_per_param(2.5).excluded["tokens_per_param < 2.5"] == 2
    for bad in (0, -2, float("nan"), float("inf"), True, "3"):
        with pytest.raises(ConfigError, match="--min-tokens-per-param .*: accepted is a finite number > 0"):
            table.with_min_tokens_per_param(bad)


def test_a_dataframe_reads_like_a_file_and_names_its_missing_column():
    frame = pd.DataFrame({"run": ["a", "b"], "n_params": [1e6, 2e6], "tokens": [2e7, 4e7],
                          "final_eval_loss": [3.2, 3.0], "status": ["complete", "failed"]})
    table = from_frame(frame, "a notebook's runs")
    assert table.names == ("a",) and table.excluded == {"failed": 1} and table.loss_R.tolist() == [3.2]
    with pytest.raises(ConfigError, match=r"a notebook's runs lacks the column\(s\) tokens"):
        from_frame(frame.drop(columns="tokens"), "a notebook's runs")


def test_only_recipe_is_the_table_of_one_recipe_or_a_clear_error_naming_them():
    frame = pd.DataFrame({"n_params": [1e6, 2e6, 1e6], "tokens": [2e7, 4e7, 2e7], "loss": [3.2, 3.0, 2.9],
                          "data_recipe": ["en", "en", "code"]})
    table = from_frame(frame, "mix.csv")
    assert table.only_recipe("code", "a fit").loss_R.tolist() == [2.9]
    with pytest.raises(ConfigError, match=r"2 recipes \(column 'data_recipe': code, en\): a fit one recipe's runs; "
                                          r"give --recipe NAME"):
        table.only_recipe(None, "a fit")
    with pytest.raises(ConfigError, match=r"--recipe 'fr': the runs' recipes are 'code', 'en'"):
        table.only_recipe("fr", "a fit")
    one = from_frame(frame.drop(columns="data_recipe"))
    assert one.only_recipe(None, "a fit") is one
    with pytest.raises(ConfigError, match=r"--recipe 'en': the runs' recipes are none \(no recipe column\)"):
        one.only_recipe("en", "a fit")


@pytest.mark.parametrize("column,value,shown", [("loss", float("nan"), "loss = nan"),
                                                ("n_params", -5.0, "n_params = -5.0"),
                                                ("tokens", 0.0, "tokens = 0.0")])
def test_bad_values_name_the_run_and_value(tmp_path, column, value, shown):
    frame = pd.DataFrame({"n_params": [1e6, 2e6], "tokens": [2e7, 4e7], "loss": [3.0, 2.9]})
    frame.loc[1, column] = value
    frame.to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(ConfigError, match=f"run 'line 3'.*{shown}"):  # the file's line: the header is line 1
        from_file(tmp_path / "runs.csv")


def test_an_exact_duplicate_row_of_a_file_is_dropped_with_one_warning_naming_its_line(tmp_path, caplog):
    """A row pasted twice was a second run: n_runs 8 of 7 points, the bootstrap drawing that point twice
    as often. Rows that differ in any column (a seed) stay."""
    path = tmp_path / "runs.csv"
    path.write_text("n_params,tokens,loss,seed\n"
                    "1000000,20000000,3.2,0\n"
                    "2000000,40000000,3.0,0\n"
                    "2000000,40000000,3.0,0\n"  # line 4: line 3 again
                    "2000000,40000000,3.0,1\n"  # another seed: a run of its own
                    "4000000,80000000,2.9,0\n"
                    "\n"
                    "1000000,20000000,3.2,0\n")  # line 8: line 2 again
    with caplog.at_level("WARNING", logger="sweep.fit"):
        table = from_file(path)
    assert table.names == ("line 2", "line 3", "line 5", "line 6")
    assert table.excluded == {"exact duplicate": 2}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{path}: 2 row(s) repeat an earlier row in every column, dropped" in warning
    assert warning.endswith("line 4 (as line 3), line 8 (as line 2)")
    caplog.clear()
    with caplog.at_level("WARNING", logger="sweep.fit"):
        assert len(from_frame(pd.read_csv(path).drop_duplicates())) == 4
    assert not caplog.records


def test_a_complete_run_without_a_loss_or_with_text_is_an_error():
    with pytest.raises(ConfigError, match="run 'b'.*loss = nan"):
        from_rows([row("a"), row("b", loss=None)])
    with pytest.raises(ConfigError, match="run 'a': tokens = 'lots' is not a number"):
        from_rows([row("a", tokens="lots")])


def test_too_few_runs_says_how_many_and_how_many_needed():
    table = from_rows([row("a"), row("b"), row("c", status="failed")])
    with pytest.raises(ConfigError, match=r"Approach 2 needs at least 6 complete runs; .* has 2 \(1 failed left out\)"):
        validate(table, 6, "Approach 2")
    with pytest.raises(ConfigError, match="at least 1 complete run;"):
        from_rows([row("c", status="failed")])


def write_run(root, name, status, n_params, records, loss=None):
    """A run folder as RunDir writes it, without training: config.yaml, metrics.jsonl, result.json."""
    run = RunDir(root / name)
    run.path.mkdir(parents=True)
    run.config_file.write_text(yaml.safe_dump({"model": {"d": 64, "l": 2}, "train": {"batch_size": 16},
                                               "optim": {"lr": 1e-3, "weight_decay": 0.1}, "seed": 0}))
    for record in records:
        run.append_metrics(record)
    run.write_result({"status": status, "run": name, "n_params": n_params, "tokens": records[-1]["tokens"],
                      "flops": 6.0 * n_params * records[-1]["tokens"], "final_eval_loss": loss})


def test_a_sweep_folder_loads_through_the_runs_table(tmp_path):
    records = [{"step": 1, "tokens": 1000, "train_loss": 4.0}]
    write_run(tmp_path, "a", "complete", 100, records, loss=3.5)
    write_run(tmp_path, "b", "diverged", 200, records)
    table = load_runs_table(tmp_path)
    assert table.names == ("a",) and table.excluded == {"diverged": 1}
    assert table.loss_R[0] == 3.5 and table.flops_R[0] == 6.0 * 100 * 1000
    assert json.dumps(table.summary())


def test_a_status_csv_loads_with_final_eval_loss(tmp_path):
    """The CSV `sweep status --csv` writes: final_eval_loss, status, and empty cells for
    unfinished runs."""
    path = tmp_path / "runs.csv"
    path.write_text("final_eval_loss,flops,lr,n_params,run,status,tokens\n"
                    "3.1,1.2e15,0.001,1000000,a,complete,200000000\n"
                    ",,0.002,,b,pending,\n")
    table = from_file(path)
    assert table.names == ("a",) and table.excluded == {"pending": 1}
    assert (table.loss_R[0], table.flops_R[0], table.lr_R[0]) == (3.1, 1.2e15, 1e-3)


def test_a_synthetic_corpus_true_entropy_column_is_read_kept_and_must_agree(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("n_params,tokens,loss,true_entropy_nats\n1e6,2e7,3.1,1.7\n2e6,4e7,2.9,1.7\n")
    table = from_file(path)
    assert table.true_entropy() == 1.7 and table.select(np.array([False, True])).true_entropy_nats_R.tolist() == [1.7]
    rows = [{"status": "complete", "n_params": 1e6, "tokens": 2e7, "final_eval_loss": 3.0, "true_entropy_nats": v}
            for v in (1.7, None)]
    with pytest.raises(ConfigError, match=r"different true_entropy_nats \(1.7; 1 runs none\)"):
        from_rows(rows).true_entropy()
    assert from_rows(rows[1:]).true_entropy() is None and from_rows(rows[1:]).true_entropy_nats_R is None


def test_a_status_column_is_read_whatever_its_case():
    frame = pd.DataFrame({"n_params": [1e6, 2e6, 4e6], "tokens": [2e7, 4e7, 8e7], "loss": [3.2, 3.0, 2.9],
                          "status": ["COMPLETE", " Complete", "FAILED"]})
    table = from_frame(frame, "runs.csv")  # was: every run left out, as not "complete"
    assert len(table) == 2 and table.excluded == {"failed": 1}


def test_runs_whose_status_counts_none_as_complete_name_the_statuses_that_count():
    """Was: `needs at least 1 complete run; ... has 0 (3 weird left out)`, without what counts."""
    frame = pd.DataFrame({"n_params": [1e6, 2e6, 4e6], "tokens": [2e7, 4e7, 8e7], "loss": [3.2, 3.0, 2.9],
                          "status": ["weird"] * 3})
    with pytest.raises(ConfigError, match=r"has 0 \(3 weird left out; a run is fitted when its status is 'complete', "
                                          r"or W&B's 'finished'\)"):
        validate(from_frame(frame, "runs.csv"), 1, "a runs table")
    short = from_frame(frame.drop(columns="status"), "runs.csv").with_min_tokens_per_param(100)
    with pytest.raises(ConfigError, match=r"has 0 \(3 tokens_per_param < 100 left out\)$"):  # no status: not said
        validate(short, 1, "a runs table")


def test_runs_of_two_corpora_or_vocabularies_are_one_error_unless_recipes_keep_them_apart(tmp_path):
    """Was: `data=glob([embedded,synthetic])` in one folder, fitted as one law (bytes and synthetic ids)."""
    byte, ids = dict(data="embedded", tokenizer="byte", vocab_size=257), dict(data="synthetic", tokenizer="none",
                                                                             vocab_size=8192)
    rows = [row("a", **byte), row("b", n=2e6, **byte), row("c", **ids), row("d", status="failed", **ids)]
    with pytest.raises(ConfigError, match=r"the runs of sweep were trained on 2 corpora or vocabularies "
                                          r"\(data/tokenizer/vocab_size: embedded/byte/257: 2 runs; synthetic/none/8192: "
                                          r"1 runs\).*sweep status SOURCE --csv runs.csv"):
        from_rows(rows, source="sweep")
    assert from_rows(rows[:2] + rows[3:]).names == ("a", "b")  # a failed run's corpus is not fitted
    assert from_rows([row("a", **byte), row("b")]).names == ("a", "b")  # a row that does not say: not counted
    labelled = [row("a", recipe="bytes", **byte), row("c", recipe="ids", **ids)]
    assert from_rows(labelled).only_recipe("ids", "a fit takes").names == ("c",)
    with pytest.raises(ConfigError, match="2 corpora"):
        from_rows(labelled + [row("e", recipe="ids", **byte)])
    path = tmp_path / "runs.csv"  # as `sweep status --csv` writes them
    pd.DataFrame(rows[:3]).to_csv(path, index=False)
    with pytest.raises(ConfigError, match="2 corpora"):
        from_file(path)
    pd.DataFrame(rows[:3]).drop(columns=["tokenizer"]).to_csv(path, index=False)  # a table of another kind
    assert len(from_file(path)) == 3


def write_grid_run(root, name, status, n_params, lr, loss, d=64, batch_size=16, predicted=None, interval=None,
                   level=None):
    """A run folder of an lr grid as a run leaves it, without training: config.yaml (its settings)
    and result.json; a stopped_early run's result.json also carries its prediction (the final
    eval loss of its last record, `loss`, is not it) and, with `level`, its interval's level."""
    run = RunDir(root / name)
    run.path.mkdir(parents=True)
    settings = {"model": {"d": d, "l": 2}, "train": {"batch_size": batch_size},
                "optim": {"lr": lr, "weight_decay": 0.1}, "seed": 0, "budget": {"tokens_per_param": 20}}
    run.config_file.write_text(yaml.safe_dump(settings))
    tokens = 20 * n_params
    result = {"status": status, "run": name, "d": d, "l": 2, "batch_size": batch_size, "lr": lr, "weight_decay": 0.1,
              "seed": 0, "n_params": n_params, "tokens": tokens, "flops": 6.0 * n_params * tokens,
              "final_eval_loss": loss}
    if status == "stopped_early":
        result.update(predicted_final_eval_loss=predicted, predicted_interval=interval,
                      early_stop={"run": name, "action": "stop", "predicted": predicted, "interval": interval})
        if level is not None:
            result["predicted_interval_level"] = level
    run.write_result(result)


def test_runs_stopped_early_are_out_of_the_fits_table_and_set_aside_with_their_prediction(tmp_path):
    write_grid_run(tmp_path, "a", "complete", 1e6, 1e-3, 3.0)
    write_grid_run(tmp_path, "b", "complete", 1e6, 2e-3, 2.9, batch_size=32)
    write_grid_run(tmp_path, "s", "stopped_early", 1e6, 8e-3, 3.6, predicted=3.2, interval=[3.15, 3.25])
    write_grid_run(tmp_path, "u", "stopped_early", 1e6, 1.6e-2, 3.9)  # stopped, but no prediction recorded
    write_grid_run(tmp_path, "f", "failed", 1e6, 3e-2, None)
    table = load_runs_table(tmp_path)
    assert table.names == ("a", "b") and table.loss_R.tolist() == [3.0, 2.9]  # what every parametric fit reads
    assert table.excluded == {"stopped_early": 2, "failed": 1} and table.predicted_R is None
    assert table.stopped.names == ("s",) and table.stopped.loss_R.tolist() == [3.2]  # the prediction, not 3.6
    every = table.with_stopped()
    assert every.names == ("a", "b", "s") and every.loss_R.tolist() == [3.0, 2.9, 3.2]
    assert every.is_predicted().tolist() == [False, False, True] and every.lr_R.tolist() == [1e-3, 2e-3, 8e-3]
    np.testing.assert_array_equal(every.interval_Rx2[2], [3.15, 3.25])
    assert np.isnan(every.interval_Rx2[:2]).all()
    assert every.excluded == {"failed": 1, "stopped_early without a predicted loss": 1}
    assert every.with_stopped() is every and table.select(table.lr_R > 1.5e-3).stopped is table.stopped
    assert every.select(every.lr_R > 1.5e-3).is_predicted().tolist() == [False, True]
    assert table.with_min_tokens_per_param(30).stopped.names == ()  # 20 tokens per parameter: filtered alike
    assert table.with_min_tokens_per_param(30).with_stopped().excluded["tokens_per_param < 30"] == 3


def test_a_stopped_run_never_stands_below_the_completed_run_it_was_judged_worse_than():
    stopped = {"status": "stopped_early", "n_params": 1e6, "tokens": 2e7, "final_eval_loss": 3.9}
    rows = [{"status": "complete", "run": "best", "n_params": 1e6, "tokens": 2e7, "final_eval_loss": 3.466},
            {**stopped, "run": "low", "predicted_final_eval_loss": 3.375, "early_stop": {"best_run": "best"}},
            {**stopped, "run": "high", "predicted_final_eval_loss": 3.7, "early_stop": {"best_run": "best"}},
            {**stopped, "run": "alone", "predicted_final_eval_loss": 3.2, "early_stop": {"best_run": "gone"}}]
    # 'low' was predicted below where its best ended (both predicted low): it stands at 3.466
    assert from_rows(rows).stopped.loss_R.tolist() == [3.466, 3.7, 3.2]


def test_stopped_runs_of_a_recipe_go_with_it():
    rows = [row("a", recipe="x"), row("b", recipe="y"),
            row("s", status="stopped_early", recipe="x", predicted_final_eval_loss=3.4),
            row("t", status="stopped_early", recipe="y", predicted_final_eval_loss=3.5)]
    table = from_rows(rows)
    x = table.of_recipe("x")
    assert x.names == ("a",) and x.stopped.names == ("s",) and x.with_stopped().recipe == ("x", "x")
    assert table.of_recipe("z").with_stopped().names == ()


def test_a_status_csv_sets_stopped_runs_aside_with_their_predicted_loss_and_interval(tmp_path):
    """`sweep status --csv` writes a list as its text: "[lo, hi]"."""
    path = tmp_path / "runs.csv"
    path.write_text("final_eval_loss,lr,n_params,predicted_final_eval_loss,predicted_interval,run,status,tokens\n"
                    "3.1,0.001,1000000,,,a,complete,20000000\n"
                    "3.6,0.008,1000000,3.3,\"[3.2, 3.4]\",s,stopped_early,20000000\n"
                    "3.7,0.016,1000000,3.5,,t,stopped_early,20000000\n"
                    "3.9,0.032,1000000,,,u,stopped_early,20000000\n")
    table = from_file(path)
    assert table.names == ("a",) and table.excluded == {"stopped_early": 3}
    every = table.with_stopped()
    assert every.names == ("a", "s", "t") and every.loss_R.tolist() == [3.1, 3.3, 3.5]
    np.testing.assert_array_equal(every.interval_Rx2[1], [3.2, 3.4])
    assert np.isnan(every.interval_Rx2[2]).all()  # no interval: drawn without a bar
    assert every.excluded == {"stopped_early without a predicted loss": 1}


def test_eval_stderr_and_duplicate_rate_are_read_from_rows_and_from_a_status_csv(tmp_path):
    rows = [{"status": "complete", "n_params": 1e6 * (i + 1), "tokens": 2e7, "final_eval_loss": 3.0 - 0.1 * i,
             "final_eval_loss_stderr": 0.01 * (i + 1), "data_density": {"near_or_exact_duplicate_rate": 0.5}}
            for i in range(3)]
    table = from_rows(rows)
    assert table.loss_stderr_R.tolist() == pytest.approx([0.01, 0.02, 0.03])
    assert table.duplicate_rate_R.tolist() == [0.5, 0.5, 0.5]
    assert table.select(np.array([False, True, True])).loss_stderr_R.tolist() == pytest.approx([0.02, 0.03])
    frame = pd.DataFrame({"n_params": [1e6, 2e6], "tokens": [2e7, 4e7], "final_eval_loss": [3.0, 2.9],
                          "final_eval_loss_stderr": [0.01, float("nan")],
                          "data_density.near_or_exact_duplicate_rate": [0.0, 0.3]})
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    table = from_file(path)
    assert table.loss_stderr_R[0] == pytest.approx(0.01) and np.isnan(table.loss_stderr_R[1])
    assert table.duplicate_rate_R.tolist() == [0.0, 0.3]
    assert from_rows([{k: v for k, v in rows[0].items() if k != "final_eval_loss_stderr"}]).loss_stderr_R is None


def test_losses_repeated_to_their_last_digit_in_other_runs_are_named_as_copies(tmp_path):
    """(Mis)Fitting Scaling Laws' table: one run's loss at two learning rates, 13 times over."""
    path = tmp_path / "runs.csv"
    path.write_text("run,n_params,tokens,lr,loss\na,1e8,2e9,0.002,3.836628066841513\nb,1e8,2e9,0.004,3.836628066841513\n"
                    "c,1e8,2e9,0.008,3.9\nd,2e8,4e9,0.004,3.9\n")
    copied = from_file(path).copied_losses()
    assert copied == {"runs": 2, "values": 1, "example": {"runs": ["a", "b"], "loss": 3.836628066841513}}
    assert "2 runs share 1 loss value(s) to the last of their digits (e.g. 'a' and 'b'" in copied_losses_text(copied)
    assert from_file(path).select(np.array([True, False, True, True])).copied_losses() is None  # 3.9 twice: rounded


def test_flops_counted_with_another_n_than_n_params_are_warned_about_but_not_an_isoflop_budget(tmp_path):
    """(Mis)Fitting's C = 6 N_total D beside --column n_params=N_no_emb: 1.18 .. 4.75 times 6 N T."""
    path = tmp_path / "runs.csv"
    path.write_text("N_total,N_no_emb,D,C,loss\n6e7,1.2e7,1e9,3.6e17,3.9\n1.2e9,1e9,2e10,1.44e20,2.9\n")
    assert from_file(path, {"n_params": "N_total", "tokens": "D"}).flops_spread() is None  # C = 6 N T, as counted
    spread = from_file(path, {"n_params": "N_no_emb", "tokens": "D"}).flops_spread()
    assert spread == {"low": pytest.approx(1.2), "high": pytest.approx(5.0), "limit": 2.0}
    assert flops_spread_text(spread).startswith("the flops column is 1.2 .. 5 times 6 N T over the runs")
    path.write_text(path.read_text().replace("C,", "budget,"))  # an IsoFLOP table's nominal budgets: by design
    assert from_file(path, {"n_params": "N_no_emb", "tokens": "D"}).flops_spread() is None


def test_runs_that_repeat_their_data_beyond_a_few_epochs_are_counted_for_the_warning(tmp_path):
    """Datablations' table gives unique tokens (epochs = tokens / unique); a sweep's rows their `epochs`."""
    path = tmp_path / "runs.csv"
    path.write_text("n_params,tokens,unique_tokens,loss\n1e8,2e9,2e9,3.0\n1e8,2e10,2e9,2.9\n1e8,2e11,1e8,3.1\n")
    table = from_file(path)
    assert table.columns_read["epochs"] == "tokens / unique_tokens" and table.epochs_R.tolist() == [1, 10, 2000]
    assert table.repeated_data() == {"runs": 2, "max_epochs": 2000.0, "limit": 4.0}
    assert "2 run(s) read their training data more than 4 times over" in repeated_data_text(table.repeated_data())
    assert table.select(np.array([True, False, False])).repeated_data() is None
    rows = [{"status": "complete", "n_params": 1e6, "tokens": 2e7, "final_eval_loss": 3.0, "epochs": e}
            for e in (0.02, 0.5)]
    assert from_rows(rows).repeated_data() is None


def test_a_size_beyond_any_float_names_the_value_written_and_numpy_says_nothing(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("name,n_params,tokens,loss\nbig,1e308,1.5e7,8.15\nsmall,3e6,3e7,7.6\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was: "record.py:33: RuntimeWarning: overflow encountered in multiply"
        with pytest.raises(ConfigError, match=r"run 'big' of .*huge.csv: flops = inf, computed as 6 n_params tokens "
                                              r"from n_params = 1e\+308 and tokens = 1.5e\+07: beyond any float"):
            load_runs_table(path)
