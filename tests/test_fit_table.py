"""sweep/fit/table.py: the runs table the fits read, from rows, files and sweep folders, and the
per-run loss curves of a sweep folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from sweep.errors import ConfigError
from sweep.fit.table import from_file, from_frame, from_rows, load_runs_table, read_curves, validate
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


def test_file_loaders_read_csv_tsv_json_jsonl_and_parquet(tmp_path):
    frame = pd.DataFrame({"run": ["a", "b", "c", "d"], "n_params": [1e6, 2e6, 4e6, 8e6],
                          "tokens": [2e7, 4e7, 8e7, 1.6e8], "loss": [3.2, 3.0, 2.9, float("nan")],
                          "recipe": ["base", "base", "new", "new"], "status": ["complete"] * 3 + ["diverged"]})
    writers = {"runs.csv": lambda p: frame.to_csv(p, index=False),
               "runs.tsv": lambda p: frame.to_csv(p, sep="\t", index=False),
               "records.json": lambda p: frame.to_json(p, orient="records"),
               "columns.json": lambda p: p.write_text(json.dumps(frame.to_dict("list"))),
               "pandas.json": lambda p: frame.to_json(p),  # DataFrame.to_json's own layout: {column: {row: value}}
               "runs.jsonl": lambda p: frame.to_json(p, orient="records", lines=True),
               "runs.parquet": lambda p: frame.to_parquet(p)}
    for name, write in writers.items():
        path = tmp_path / name
        write(path)
        table = load_runs_table(path)
        assert table.names == ("a", "b", "c") and table.excluded == {"diverged": 1}
        np.testing.assert_allclose(table.flops_R, 6 * table.n_params_R * table.tokens_R)
        assert table.recipe == ("base", "base", "new")
        assert table.lr_R is None
        with pytest.raises(ConfigError, match="no 'lr' values"):
            table.column("lr")


def test_missing_column_names_what_the_file_has_and_needs(tmp_path):
    path = tmp_path / "runs.csv"
    pd.DataFrame({"n_params": [1e6], "loss": [3.0], "lr": [1e-3]}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"lacks the column\(s\) tokens; it has n_params, loss, lr; required"):
        from_file(path)


def test_a_dataframe_reads_like_a_file_and_names_its_missing_column():
    frame = pd.DataFrame({"run": ["a", "b"], "n_params": [1e6, 2e6], "tokens": [2e7, 4e7],
                          "final_eval_loss": [3.2, 3.0], "status": ["complete", "failed"]})
    table = from_frame(frame, "a notebook's runs")
    assert table.names == ("a",) and table.excluded == {"failed": 1} and table.loss_R.tolist() == [3.2]
    with pytest.raises(ConfigError, match=r"a notebook's runs lacks the column\(s\) tokens"):
        from_frame(frame.drop(columns="tokens"), "a notebook's runs")


def test_a_published_tables_column_names_are_read_and_said():
    # Epoch AI's Chinchilla replication data names its columns so; a paper's N, D, L too
    epoch = pd.DataFrame({"Model Size": [1e6, 2e6], "Training Tokens": [2e7, 4e7], "Training FLOP": [1.3e14, 5e14],
                          "loss": [3.2, 3.0]})
    table = from_frame(epoch, "epoch.csv")
    assert table.n_params_R.tolist() == [1e6, 2e6] and table.tokens_R.tolist() == [2e7, 4e7]
    assert table.flops_R.tolist() == [1.3e14, 5e14]
    assert table.columns_read == {"n_params": "Model Size", "tokens": "Training Tokens", "flops": "Training FLOP"}
    paper = from_frame(pd.DataFrame({"N": [1e6, 2e6], "D": [2e7, 4e7], "L": [3.2, 3.0], "d": [64, 96],
                                     "learning_rate": [1e-3, 2e-3]}))
    assert paper.loss_R.tolist() == [3.2, 3.0] and paper.d_R.tolist() == [64, 96] and paper.lr_R.tolist() == [1e-3, 2e-3]
    assert paper.columns_read == {"n_params": "N", "tokens": "D", "loss": "L", "lr": "learning_rate"}


def test_a_columns_own_name_wins_over_its_aliases_and_one_letter_names_keep_their_case():
    frame = pd.DataFrame({"n_params": [1e6, 2e6], "params": [9.0, 9.0], "tokens": [2e7, 4e7],
                          "final_eval_loss": [3.2, 3.0], "eval_loss": [9.0, 9.0]})
    table = from_frame(frame)
    assert table.n_params_R.tolist() == [1e6, 2e6] and table.loss_R.tolist() == [3.2, 3.0]
    assert table.columns_read == {}
    with pytest.raises(ConfigError, match=r"lacks the column\(s\) tokens; .*tokens may be named D, training_tokens"):
        from_frame(pd.DataFrame({"n_params": [1e6, 2e6], "d": [2e7, 4e7], "loss": [3.2, 3.0]}))


@pytest.mark.parametrize("columns", [("Parameters", "Tokens", "Loss"), ("N_Params", "#tokens", "eval/loss"),
                                     ("non_embedding_params", "Tokens-Seen", "Test Loss")])
def test_a_columns_own_name_and_its_aliases_are_read_whatever_their_case_and_punctuation(columns):
    frame = pd.DataFrame(dict(zip(columns, ([1e6, 2e6], [2e7, 4e7], [3.2, 3.0]))))
    table = from_frame(frame, "published.csv")
    assert table.n_params_R.tolist() == [1e6, 2e6] and table.tokens_R.tolist() == [2e7, 4e7]
    assert table.loss_R.tolist() == [3.2, 3.0]
    assert table.columns_read == dict(zip(("n_params", "tokens", "loss"), columns))


def test_step_laws_column_names_are_read_its_data_recipes_as_recipes():
    # Step Law's released runs name the loss "smooth loss" and the data mixture "data_recipe"
    frame = pd.DataFrame({"N": [1e6, 2e6], "D": [2e7, 4e7], "lr": [1e-3, 2e-3], "bs": [64, 128],
                          "smooth loss": [3.2, 3.0], "data_recipe": ["en", "code"]})
    table = from_frame(frame, "steplaw.csv")
    assert table.loss_R.tolist() == [3.2, 3.0] and table.recipe == ("en", "code")
    assert table.batch_size_R.tolist() == [64, 128]
    assert table.columns_read == {"n_params": "N", "tokens": "D", "loss": "smooth loss", "recipe": "data_recipe",
                                  "batch_size": "bs"}


def test_a_table_of_several_experiments_reads_each_as_a_recipe_unless_every_run_has_its_own():
    # a table gathering published studies labels each "experiment": one law over two studies describes neither
    frame = pd.DataFrame({"params": [1e6, 2e6, 1e6, 2e6], "tokens": [2e7, 4e7, 2e7, 4e7], "loss": [3.2, 3.0, 2.9, 2.7],
                          "experiment": ["chinchilla", "chinchilla", "llama_3", "llama_3"]})
    table = from_frame(frame, "isoflops.csv")
    assert table.recipe == ("chinchilla", "chinchilla", "llama_3", "llama_3")
    assert table.columns_read == {"n_params": "params", "recipe": "experiment"}
    runs = from_frame(frame.assign(experiment=["a", "b", "c", "d"]), "runs.csv")  # a run id, not a recipe
    assert runs.recipe is None and runs.columns_read == {"n_params": "params"}


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


def test_the_third_of_n_tokens_and_flops_comes_from_the_other_two_and_is_said():
    n_params, tokens = np.array([1e6, 2e6]), np.array([2e7, 4e7])
    from_n = from_frame(pd.DataFrame({"N": n_params, "C": 6 * n_params * tokens, "loss": [3.2, 3.0]}))
    np.testing.assert_allclose(from_n.tokens_R, tokens)
    assert from_n.columns_read == {"n_params": "N", "flops": "C", "tokens": "flops / (6 n_params)"}
    from_tokens = from_frame(pd.DataFrame({"tokens": tokens, "flops": 6 * n_params * tokens, "loss": [3.2, 3.0]}))
    np.testing.assert_allclose(from_tokens.n_params_R, n_params)
    assert from_tokens.columns_read == {"n_params": "flops / (6 tokens)"}
    from_ratio = from_frame(pd.DataFrame({"n_params": n_params, "Tokens per param": [20, 20], "loss": [3.2, 3.0]}))
    np.testing.assert_allclose(from_ratio.tokens_R, tokens)
    assert from_ratio.columns_read == {"tokens": "n_params x Tokens per param"}
    with pytest.raises(ConfigError, match=r"run 'row 1': flops = '\?' is not a number"):
        from_frame(pd.DataFrame({"N": n_params, "C": [1.2e14, "?"], "loss": [3.2, 3.0]}))


def test_a_column_with_a_unit_in_its_name_is_not_read_and_the_error_says_why():
    frame = pd.DataFrame({"Params (M)": [1.0, 2.0], "Tokens (B)": [0.02, 0.04], "loss": [3.2, 3.0]})
    with pytest.raises(ConfigError) as err:
        from_frame(frame, "paper.csv")
    message = str(err.value)
    assert "paper.csv lacks the column(s) n_params, tokens; it has Params (M), Tokens (B), loss" in message
    assert "Not read: 'Params (M)' as n_params, 'Tokens (B)' as tokens, a unit or qualifier in the name" in message


@pytest.mark.parametrize("scale, column", [((1e-9, 1.0), "n_params"), ((1.0, 1e-9), "tokens")])
def test_a_table_in_millions_or_billions_is_refused_naming_the_column(scale, column):
    # Chinchilla's sizes in billions fit to the same E and exponents, but N_opt and the tokens per
    # parameter then come out in the table's units: 0.02 tokens per parameter, silently
    frame = pd.DataFrame({"N": np.array([7e7, 4e8, 1.6e9]) * scale[0], "D": np.array([1.4e9, 8e9, 3.2e10]) * scale[1],
                          "loss": [3.2, 2.8, 2.5]})
    with pytest.raises(ConfigError, match=rf"{column} of chin.csv spans .*: no language model has under 1000 .*"
                                          r"look like millions or billions; give plain counts"):
        from_frame(frame, "chin.csv")


def test_a_table_with_n_in_millions_and_tokens_as_counts_is_refused_by_its_tokens_per_parameter():
    frame = pd.DataFrame({"params": [70.0, 400.0, 1600.0], "tokens": [1.4e9, 8e9, 3.2e10], "loss": [3.2, 2.8, 2.5]})
    with pytest.raises(ConfigError, match=r"the runs of paper.csv train a median 2e\+07 tokens per parameter \(outside "
                                          r"0.01 .. 1e\+06\): n_params or tokens look like millions or billions"):
        from_frame(frame, "paper.csv")


def test_two_columns_that_differ_only_in_case_are_refused_naming_both():
    frame = pd.DataFrame({"Model Size": [1e6, 2e6], "model_size": [1e6, 2e6], "tokens": [2e7, 4e7], "loss": [3.2, 3.0]})
    with pytest.raises(ConfigError, match="'Model Size', 'model_size' could each be n_params"):
        from_frame(frame, "runs.csv")


@pytest.mark.parametrize("column,value,shown", [("loss", float("nan"), "loss = nan"),
                                                ("n_params", -5.0, "n_params = -5.0"),
                                                ("tokens", 0.0, "tokens = 0.0")])
def test_bad_values_name_the_run_and_value(tmp_path, column, value, shown):
    frame = pd.DataFrame({"n_params": [1e6, 2e6], "tokens": [2e7, 4e7], "loss": [3.0, 2.9]})
    frame.loc[1, column] = value
    frame.to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(ConfigError, match=f"run 'row 1'.*{shown}"):
        from_file(tmp_path / "runs.csv")


def test_a_complete_run_without_a_loss_or_with_text_is_an_error():
    with pytest.raises(ConfigError, match="run 'b'.*loss = nan"):
        from_rows([row("a"), row("b", loss=None)])
    with pytest.raises(ConfigError, match="run 'a': tokens = 'lots' is not a number"):
        from_rows([row("a", tokens="lots")])


def test_too_few_runs_says_how_many_and_how_many_needed():
    table = from_rows([row("a"), row("b"), row("c", status="failed")])
    with pytest.raises(ConfigError, match=r"Approach 2 needs at least 6 complete runs; .* has 2 \(1 failed left out\)"):
        validate(table, 6, "Approach 2")
    with pytest.raises(ConfigError, match="at least 1 complete runs"):
        from_rows([row("c", status="failed")])


def test_unknown_file_and_missing_file_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_runs_table(tmp_path / "nothing.parquet")
    (tmp_path / "runs.txt").write_text("n_params\n")
    with pytest.raises(ConfigError, match=r"a runs file is \.csv, \.tsv, \.json, \.jsonl or \.parquet, not '\.txt'"):
        from_file(tmp_path / "runs.txt")


def test_a_csv_written_with_semicolons_or_tabs_is_read_too(tmp_path):
    for sep in (";", "\t"):
        path = tmp_path / "runs.csv"
        path.write_text(sep.join(("n_params", "tokens", "loss")) + "\n" + sep.join(("1e6", "2e7", "3.2")) + "\n")
        table = load_runs_table(path)
        assert table.n_params_R.tolist() == [1e6] and table.loss_R.tolist() == [3.2]


@pytest.mark.parametrize("name,text,message", [
    ("runs.json", '{"n_params": [1e6, 2e6], "tokens": [2e7]', r"runs.json: not valid JSON \(.*line 1\)"),
    ("runs.json", '{"n_params": [1e6, 2e6], "tokens": [2e7]}', "an object of columns, each a list \\(all as long\\)"),
    ("runs.json", '"n_params"', "a list of objects \\(one per run\\)"),
    ("runs.jsonl", '{"n_params": 1e6}\n\n[1, 2]\n',
     "runs.jsonl, line 3: .* one object \\(a run\\) per line, not a list"),
    ("runs.jsonl", '{"n_params": 1e6}\n{"n_params":\n', "runs.jsonl, line 2: not valid JSON"),
])
def test_a_malformed_json_runs_file_is_one_error_naming_where(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_runs_table(tmp_path / name)


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


def test_curves_take_eval_loss_where_every_run_has_it(tmp_path):
    a = [{"step": s, "tokens": 100 * s, "flops": 6e4 * s, "train_loss": 5.0 - s, "eval_loss": 5.5 - s}
         for s in (1, 2, 3)]
    write_run(tmp_path, "a", "complete", 100, a, loss=2.5)
    b = [{"step": s, "tokens": 100 * s, "train_loss": 4.0 - s, **({"eval_loss": 4.5 - s} if s > 1 else {})}
         for s in (1, 2, 3)]
    write_run(tmp_path, "b", "complete", 200, b, loss=1.5)
    write_run(tmp_path, "c", "failed", 300, b)
    curves = read_curves(tmp_path)
    assert curves.loss_key == "eval_loss" and curves.excluded == {"failed": 1}
    first, second = curves.runs
    np.testing.assert_array_equal(first.loss_S, [4.5, 3.5, 2.5])
    np.testing.assert_array_equal(second.loss_S, [2.5, 1.5])  # only the records with an eval
    np.testing.assert_array_equal(second.flops_S, [6.0 * 200 * 200, 6.0 * 200 * 300])  # 6 N tokens
    assert read_curves(tmp_path, loss="train_loss").runs[1].loss_S.tolist() == [3.0, 2.0, 1.0]
    write_run(tmp_path, "d", "complete", 100, [{"step": 1, "tokens": 100, "train_loss": 4.0}], loss=4.0)
    curves = read_curves(tmp_path, loss="eval_loss")
    assert len(curves.runs) == 2 and curves.excluded == {"failed": 1, "no eval_loss records": 1}


def test_curves_fall_back_to_train_loss_for_every_run(tmp_path):
    write_run(tmp_path, "a", "complete", 100, [{"step": s, "tokens": s, "train_loss": 4.0, "eval_loss": 4.1}
                                               for s in (1, 2)])
    write_run(tmp_path, "b", "complete", 100, [{"step": s, "tokens": s, "train_loss": 4.0} for s in (1, 2)])
    curves = read_curves(tmp_path)
    assert curves.loss_key == "train_loss" and [len(c.loss_S) for c in curves.runs] == [2, 2]
    with pytest.raises(ConfigError, match="wandb:ENTITY/PROJECT/GROUP"):  # a W&B group: tests/test_wandb_curves.py
        read_curves("wandb:group")
    with pytest.raises(ConfigError, match="'val' is not one of auto, eval_loss, train_loss"):
        read_curves(tmp_path, loss="val")


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


def write_grid_run(root, name, status, n_params, lr, loss, d=64, batch_size=16, predicted=None, interval=None):
    """A run folder of an lr grid as a run leaves it, without training: config.yaml (its settings)
    and result.json; a stopped_early run's result.json also carries its prediction (the final
    eval loss of its last record, `loss`, is not it)."""
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
