"""sweep/fit/runs_file.py: a runs file as published tables write it, read as the runs table (through
sweep/fit/table.py's from_file and from_frame): every format, the columns under their published names,
the third of N, T and C from the other two, and each mistake (a unit in a name, a table in millions,
a malformed file) one error naming it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sweep.errors import ConfigError
from sweep.fit.table import from_file, from_frame, load_runs_table


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
    pd.DataFrame({"n_params": [1e6], "tokens": [2e7]}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"loss may be named final_eval_loss, L, "):  # sweep status --csv's name too
        from_file(path)


def test_a_column_the_user_names_is_read_before_any_alias_and_said():
    """A table of several eval losses (open_lm's, per validation set) and its own names for N and T:
    `--column NAME=COLUMN` picks which is which; a given column replaces one already so named."""
    frame = pd.DataFrame({"params": [1e6, 2e6], "toks": [2e7, 4e7], "loss": [9.0, 9.0], "c4_val": [3.2, 3.0],
                          "pile_val": [2.9, 2.7]})
    table = from_frame(frame, "open_lm.csv", {"n_params": "params", "tokens": "toks", "loss": "pile_val"})
    assert table.loss_R.tolist() == [2.9, 2.7] and table.n_params_R.tolist() == [1e6, 2e6]
    assert table.columns_read == {"n_params": "params (--column)", "tokens": "toks (--column)",
                                  "loss": "pile_val (--column)"}
    with pytest.raises(ConfigError, match=r"lacks the column\(s\) tokens.*or name the file's own: --column tokens=COLUMN"):
        from_frame(frame, "open_lm.csv", {"n_params": "params"})


def test_two_different_aliases_of_one_column_are_refused_naming_both_and_the_way_to_choose():
    """A table of total and non-embedding parameters, or of validation and test losses: which is N or
    the loss is the user's to say, not the alias list's order."""
    both = pd.DataFrame({"params": [1e6, 2e6], "non_embedding_params": [8e5, 1.7e6], "tokens": [2e7, 4e7],
                         "val_loss": [3.2, 3.0], "test_loss": [3.3, 3.1]})
    with pytest.raises(ConfigError, match=r"the columns 'params', 'non_embedding_params' could each be n_params; "
                                          r"say which: --column n_params=COLUMN"):
        from_frame(both, "both.csv")
    table = from_frame(both, "both.csv", {"n_params": "non_embedding_params", "loss": "test_loss"})
    assert table.n_params_R.tolist() == [8e5, 1.7e6] and table.loss_R.tolist() == [3.3, 3.1]
    ours = from_frame(both.rename(columns={"params": "N_Params"}).assign(final_eval_loss=[3.25, 3.05]))
    assert ours.columns_read["n_params"] == "N_Params" and ours.loss_R.tolist() == [3.25, 3.05]  # own names first


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


def test_a_published_loss_standard_error_column_is_read_as_loss_stderr():
    """OpenEuroLLM's lr table gives each loss's standard error as `loss_se`: it was not read, and every run
    counted with the assumed 0.2% of its loss."""
    table = from_frame(pd.DataFrame({"N": [1e6, 2e6], "D": [2e7, 4e7], "loss": [3.2, 3.0], "loss_se": [0.001, 0.002]}))
    assert table.loss_stderr_R.tolist() == [0.001, 0.002] and table.columns_read["loss_stderr"] == "loss_se"


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
    given = from_frame(frame, "isoflops.csv", {"recipe": "experiment"})  # named by the user: read as it is
    assert given.recipe == table.recipe and given.columns_read["recipe"] == "experiment (--column)"


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
    with pytest.raises(ConfigError, match=r"run 'row 1': tokens = -4166666.6+5 \(read as flops / \(6 n_params\)\); "):
        from_frame(pd.DataFrame({"N": n_params, "C": [1.2e14, -5e13], "loss": [3.2, 3.0]}))  # the column to look at


def test_an_isoflop_tables_budget_is_its_runs_compute_and_other_budgets_are_refused():
    # Open-Athena's IsoFLOP tables give each run its budget's nominal C, up to a few times off 6 N T:
    # grouping by 6 N T instead split 7 budgets into 30 groups of 1-3 runs, silently
    n_params, tokens = np.array([1e8, 2e8, 4e8]), np.array([4e9, 2e9, 1e9])
    frame = pd.DataFrame({"params": n_params, "tokens": tokens, "budget": [1e18, 1e18, 1e18], "loss": [3.2, 3.0, 3.1]})
    table = from_frame(frame, "isoflops.csv")
    np.testing.assert_allclose(table.flops_R, 1e18)
    assert table.columns_read == {"n_params": "params", "flops": "budget"}
    with pytest.raises(ConfigError, match=r"flops of runs.csv \(read from column 'budget'\) are a median 8.33e-10 times "
                                          r"6 N T \(accepted: 0.1 .. 10\): not these runs' training compute"):
        from_frame(frame.assign(budget=tokens), "runs.csv")  # a token budget


def test_a_configs_key_paths_give_the_hyperparameters_as_a_wandb_export_names_them():
    # Marin's IsoFLOP runs as W&B exports them (Levanter's keys), and this project's own config keys
    frame = pd.DataFrame({"Name": ["a", "b", "c"], "parameter_count": [1e8, 2e8, 4e8], "tokens": [4e9, 2e9, 1e9],
                          "eval/paloma/macro_loss": [3.2, 3.0, 3.1], "trainer.train_batch_size": [64, 32, 16],
                          "optimizer.learning_rate": [1e-3, 8e-4, 6e-4], "optim.weight_decay": [0.1, 0.1, 0.1]})
    table = from_frame(frame, "marin.csv", {"loss": "eval/paloma/macro_loss"})
    assert table.columns_read == {"loss": "eval/paloma/macro_loss (--column)", "n_params": "parameter_count",
                                  "lr": "optimizer.learning_rate", "batch_size": "trainer.train_batch_size",
                                  "weight_decay": "optim.weight_decay", "run": "Name"}
    assert table.lr_R.tolist() == [1e-3, 8e-4, 6e-4] and table.batch_size_R.tolist() == [64, 32, 16]
    logged = frame.drop(columns="optimizer.learning_rate").assign(**{"train/lr": [1e-5, 1e-5, 1e-5]})
    assert from_frame(logged, "wandb.csv", {"loss": "eval/paloma/macro_loss"}).lr_R is None  # a metric, not the setting
    two = frame.assign(**{"optim.lr": [1e-3, 8e-4, 6e-4]})  # two key paths ending in a name of lr: the user says
    with pytest.raises(ConfigError, match=r"'optimizer.learning_rate', 'optim.lr' could each be lr; say which"):
        from_frame(two, "marin.csv", {"loss": "eval/paloma/macro_loss"})


def test_a_column_with_a_unit_in_its_name_is_not_read_and_the_error_says_why():
    frame = pd.DataFrame({"Params (M)": [1.0, 2.0], "Tokens (B)": [0.02, 0.04], "loss": [3.2, 3.0]})
    with pytest.raises(ConfigError) as err:
        from_frame(frame, "paper.csv")
    message = str(err.value)
    assert "paper.csv lacks the column(s) n_params, tokens; it has Params (M), Tokens (B), loss" in message
    assert "Not read: 'Params (M)' as n_params, 'Tokens (B)' as tokens, a unit or qualifier in the name" in message
    assert "millions or billions" in message
    bits = pd.DataFrame({"params": [1e6, 2e6], "tokens": [2e7, 4e7], "loss_bits": [4.6, 4.3]})
    with pytest.raises(ConfigError, match=r"Not read: 'loss_bits' as loss, a unit or qualifier in the name \(read it "
                                          r"with --column loss=COLUMN if it is a loss per token, in nats or bits"):
        from_frame(bits, "bits.csv")  # was: "its values may be in millions or billions"


@pytest.mark.parametrize("scale, column", [((1e-9, 1.0), "n_params"), ((1.0, 1e-9), "tokens")])
def test_a_table_in_millions_or_billions_is_refused_naming_the_column(scale, column):
    # Chinchilla's sizes in billions fit to the same E and exponents, but N_opt and the tokens per
    # parameter then come out in the table's units: 0.02 tokens per parameter, silently
    frame = pd.DataFrame({"N": np.array([7e7, 4e8, 1.6e9]) * scale[0], "D": np.array([1.4e9, 8e9, 3.2e10]) * scale[1],
                          "loss": [3.2, 2.8, 2.5]})
    with pytest.raises(ConfigError, match=rf"{column} of chin.csv spans .*: no language model has under 1000 .*"
                                          r"looks? like millions or billions; give plain counts"):
        from_frame(frame, "chin.csv")


@pytest.mark.parametrize("column", ["n_params", "tokens"])
def test_one_run_under_a_thousand_is_refused_naming_that_run_and_its_value(column):
    # params and tokens in millions, the largest model 16000 (16B): every N under 1000 was the check,
    # so this fitted silently and printed N_opt 3408 at C = 3e9
    n_M = np.array([60.0, 400.0, 2000.0, 16000.0])
    frame = pd.DataFrame({"name": ["a", "b", "c", "d"], "params": n_M if column == "n_params" else n_M * 1e6,
                          "tokens": n_M * (20e6 if column == "n_params" else 1.0), "loss": [3.2, 2.8, 2.5, 2.3]})
    read_from = "params" if column == "n_params" else "tokens"
    with pytest.raises(ConfigError, match=rf"{column} of both.csv spans 60 .. 1.6e\+04: no language model has under "
                                          rf"1000 \w+ \(run 'a' has {column} = 60\), so '{read_from}' looks like "
                                          r"millions or billions; give plain counts in every row"):
        from_frame(frame, "both.csv")


def test_tokens_computed_from_flops_in_another_unit_name_the_flops_column():
    frame = pd.DataFrame({"params": [1.9e8, 6e8, 1.28e9], "gflops": [4.4e9, 4.3e10, 2.0e11], "loss": [1.0, 0.9, 0.8]})
    with pytest.raises(ConfigError, match=r"tokens of ladder.csv spans .* \(computed as flops / \(6 n_params\), the "
                                          r"flops read from 'gflops \(--column\)': FLOPs in another unit"):
        from_frame(frame, "ladder.csv", {"flops": "gflops"})  # OLMo's ladder: was a word on the tokens alone


def test_a_table_with_n_in_millions_and_tokens_as_counts_is_refused_by_its_tokens_per_parameter():
    frame = pd.DataFrame({"params": [70.0, 400.0, 1600.0], "tokens": [1.4e9, 8e9, 3.2e10], "loss": [3.2, 2.8, 2.5]})
    with pytest.raises(ConfigError, match=r"n_params of paper.csv spans 70 .. 1.6e\+03: no language model has under "
                                          r"1000 parameters \(run 'row 0' has n_params = 70\), so 'params' looks like "
                                          r"millions") as refused:
        from_frame(frame, "paper.csv")
    # N 60 .. 16000 in millions with plain tokens: --column flops=tokens was offered, and taking it fitted E = 5e-56
    assert "flops" not in str(refused.value)


def test_a_tokens_column_of_flops_is_refused_as_compute_and_read_as_flops_when_told(tmp_path):
    """A train_tokens column holding 6 N T was refused as 'millions or billions' (2.15e+11 tokens per
    parameter): read as FLOPs it gives Chinchilla's 20, which the error now says, with the way to read it."""
    n_params = np.array([1e8, 4e8, 1.6e9])
    path = tmp_path / "compute.csv"
    pd.DataFrame({"n_params": n_params, "train_tokens": 6 * n_params * 20 * n_params,
                  "loss": [3.2, 2.8, 2.5]}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"the tokens of .*compute.csv \(read from column 'train_tokens'\) are a "
                                          r"median 4.8e\+10 per parameter, beyond any training run; read as FLOPs "
                                          r"\(C = 6 N T\) they give a median 20 tokens per parameter: the column looks "
                                          r"like training compute, not tokens.*--column flops=train_tokens, or name it "
                                          r"flops, C, compute") as refused:
        from_file(path)
    assert "millions or billions" not in str(refused.value)
    table = from_file(path, {"flops": "train_tokens"})  # the remedy the error gives
    np.testing.assert_allclose(table.tokens_R, 20 * n_params)


def test_rows_of_a_file_are_named_by_their_line_or_record(tmp_path):
    """A row was named by its 0-based data row ('row 7' for the NaN on line 10, below a comment and a
    blank line): a user counting lines in an editor landed on another row."""
    csv = tmp_path / "runs.csv"
    csv.write_text("# from the paper\nn_params,tokens,loss\n" + "".join(
        f"{n},{20 * n},{loss}\n" + ("\n" if i == 3 else "")
        for i, (n, loss) in enumerate(zip(range(1000000, 9000000, 1000000), [3.2, 3.1, 3.0, 2.9, 2.8, 2.7, "", 2.5]))))
    assert csv.read_text().splitlines()[9] == "7000000,140000000,"
    with pytest.raises(ConfigError, match=r"run 'line 10' of .*runs.csv: loss = nan"):
        from_file(csv)
    tsv = tmp_path / "runs.tsv"
    tsv.write_text("n_params\ttokens\tloss\n\n1000000\t20000000\t3.2\n2000000\t40000000\t3.0\n")
    assert from_file(tsv).names == ("line 3", "line 4")
    records = [{"n_params": 1e6, "tokens": 2e7, "loss": 3.2}, {"n_params": 2e6, "tokens": 4e7, "loss": 3.0},
               {"n_params": 4e6, "tokens": 8e7, "loss": -1.0}]
    (tmp_path / "runs.json").write_text(json.dumps(records))
    with pytest.raises(ConfigError, match=r"run 'record 3' of .*runs.json: loss = -1.0"):
        from_file(tmp_path / "runs.json")
    (tmp_path / "runs.jsonl").write_text("\n".join([json.dumps(records[0]), "", json.dumps(records[1])]))
    assert from_file(tmp_path / "runs.jsonl").names == ("line 1", "line 3")


def test_a_perplexity_read_as_the_loss_is_refused_by_its_name_or_its_values():
    # CS336's IsoFLOP table as perplexities was fitted without a word: a = 0.43 for the truth's 0.51
    sizes = {"params": [1e8, 4e8, 1.6e9], "tokens": [2e9, 8e9, 3.2e10]}
    with pytest.raises(ConfigError, match=r"the loss of runs.csv is read from 'val_ppl', a perplexity: the laws fit a "
                                          r"per-token loss; give the mean per-token loss, ln\(perplexity\)"):
        from_frame(pd.DataFrame({**sizes, "val_ppl": [24.5, 16.4, 12.2]}), "runs.csv", {"loss": "val_ppl"})
    with pytest.raises(ConfigError, match=r"the loss of runs.csv read from 'score' spans 45 .. 1330, every value above "
                                          r"any per-token loss \(20; ln of a 256k-token vocabulary is 12.5 nats, 18 "
                                          r"bits\)"):
        from_frame(pd.DataFrame({**sizes, "score": [1330.0, 200.0, 45.0]}), "runs.csv", {"loss": "score"})
    with pytest.raises(ConfigError, match=r"spans 7.9 .. 520, 2 of 3 values above any per-token loss"):
        from_frame(pd.DataFrame({**sizes, "score": [520.0, 31.0, 7.9]}), "runs.csv", {"loss": "score"})  # was: fitted
    for name, loss in (("log_ppl", [3.2, 2.8, 2.5]), ("score", [3.2, 2.8, 2.5]), ("bits", [19.0, 12.0, 8.0])):
        assert len(from_frame(pd.DataFrame({**sizes, name: loss}), "runs.csv", {"loss": name})) == 3


def test_two_columns_that_differ_only_in_case_are_refused_naming_both():
    frame = pd.DataFrame({"Model Size": [1e6, 2e6], "model_size": [1e6, 2e6], "tokens": [2e7, 4e7], "loss": [3.2, 3.0]})
    with pytest.raises(ConfigError, match="'Model Size', 'model_size' could each be n_params"):
        from_frame(frame, "runs.csv")


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
    # a European spreadsheet's export: ; between columns, a decimal comma (was read as 2566, "a perplexity?")
    path.write_text("params;tokens;loss;lr\n111000000;2220000000;2,566;0,003\n256000000;5120000000;2,6;0,0015\n")
    table = load_runs_table(path)
    assert table.loss_R.tolist() == [2.566, 2.6] and table.lr_R.tolist() == [0.003, 0.0015]


def test_comment_lines_before_the_header_are_skipped_and_a_column_named_twice_is_refused(tmp_path):
    path = tmp_path / "cerebras.csv"
    path.write_text("# Cerebras-GPT, from the HF model card\n# Pile test xent\nparams,tokens,loss\n1e6,2e7,3.2\n")
    assert load_runs_table(path).loss_R.tolist() == [3.2]  # was: "it has # Cerebras-GPT, ..."
    path.write_text("params,tokens,loss,loss\n1e6,2e7,3.3,3.2\n2e6,4e7,3.1,3.0\n")  # was: the first fitted, silently
    with pytest.raises(ConfigError, match=r"cerebras.csv: its header names two columns 'loss', read as loss: rename "
                                          r"one, or choose with --column loss=loss \(the first\) or --column "
                                          r"loss=loss.1 \(the second\)"):
        load_runs_table(path)
    assert load_runs_table(path, columns={"loss": "loss.1"}).loss_R.tolist() == [3.2, 3.0]
    assert load_runs_table(path, columns={"loss": "loss"}).loss_R.tolist() == [3.3, 3.1]
    path.write_text("N,D,Loss,Loss\n1e6,2e7,3.3,3.2\n2e6,4e7,3.1,3.0\n")  # read by an alias
    with pytest.raises(ConfigError, match="names two columns 'Loss', read as loss"):
        load_runs_table(path)
    path.write_text("params,tokens,loss,note,note\n1e6,2e7,3.3,a,b\n")  # a column no fit reads: no matter
    assert load_runs_table(path).loss_R.tolist() == [3.3]


def test_blank_lines_among_the_leading_comments_are_skipped_and_rows_keep_their_lines(tmp_path):
    """Was: a blank line between two leading # comments stopped the count, and the second comment
    was read as the header ("it has # Pile test xent")."""
    path = tmp_path / "cerebras.csv"
    path.write_text("\n# Cerebras-GPT, from the HF model card\n\n# Pile test xent\n\nparams,tokens,loss,loss\n"
                    "1e6,2e7,3.3,3.2\n\n2e6,4e7,3.1,3.0\n")
    table = load_runs_table(path, columns={"loss": "loss.1"})  # the header's two 'loss' found: it is the header
    assert table.loss_R.tolist() == [3.2, 3.0] and table.names == ("line 7", "line 9")


def test_runs_as_the_wandb_api_gives_them_nested_are_read_by_their_dotted_paths(tmp_path):
    runs = [{"name": f"r{i}", "state": "finished", "config": {"n_params": n, "optim": {"lr": 1e-3}},
             "summary": {"tokens": 20 * n, "eval_loss": 3.0 - 0.1 * i}} for i, n in enumerate((1e6, 2e6, 4e6))]
    path = tmp_path / "wandb_runs.json"
    path.write_text(json.dumps(runs))  # was: "it has name, state, config, summary"
    table = load_runs_table(path, columns={"n_params": "config.n_params", "tokens": "summary.tokens",
                                           "loss": "summary.eval_loss"})
    assert table.n_params_R.tolist() == [1e6, 2e6, 4e6] and table.loss_R.tolist() == pytest.approx([3.0, 2.9, 2.8])


def test_a_runs_file_s_suffix_is_read_whatever_its_case(tmp_path):
    path = tmp_path / "RUNS.CSV"  # as Excel on Windows writes it: was "is a file ... --runs-table FILE"
    path.write_text("n_params,tokens,loss\n1e6,2e7,3.2\n2e6,4e7,3.0\n")
    assert load_runs_table(path).loss_R.tolist() == [3.2, 3.0]
    card = tmp_path / "model_card.md"
    card.write_text("| model | loss |\n")
    with pytest.raises(ConfigError, match=r"model_card.md is a file; accepted: a sweep folder .* \(`sweep fit`, `report` "
                                          r"and `suggest` also read a table of runs: a file ending \.csv, \.tsv"):
        load_runs_table(card)


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


@pytest.mark.parametrize("name,data,message", [
    ("runs.csv", "n_params,tokens,loss\n1e6,2e7,3.2\n# caf\xe9\n".encode("latin-1"),
     r"runs.csv is not UTF-8 text: line 3 holds the byte 0xe9 .*; save it as UTF-8 .*accepted: UTF-8 text"),
    ("runs.tsv", "n_params\ttokens\tloss\u00e9\n".encode("latin-1"), r"runs.tsv is not UTF-8 text: line 1 holds"),
    ("runs.json", '[{"n_params": 1e6, "name": "caf\u00e9"}]'.encode("latin-1"), r"runs.json is not UTF-8 text: line 1"),
    ("runs.csv", b"", r"runs.csv is empty: a runs file holds a header line naming its columns \(n_params, tokens, loss"),
    ("runs.csv", b"# from the paper\n# table 3\n", r"runs.csv holds only # comment lines: a runs file holds a header"),
])
def test_a_file_not_utf8_or_without_a_header_says_so_and_what_is_accepted(tmp_path, name, data, message):
    """Was: pandas' own words, `UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 ...` and
    `EmptyDataError: No columns to parse from file`."""
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ConfigError, match=message) as raised:
        load_runs_table(tmp_path / name)
    assert "Error" not in str(raised.value)


def test_a_wandb_runs_export_keeps_its_finished_runs_and_counts_the_others():
    # the CSV W&B's runs table exports: Name, State (finished, crashed, running, ...), the logged keys
    export = pd.DataFrame({"Name": ["a", "b", "c", "d"], "State": ["finished", "crashed", "finished", "running"],
                           "n_params": [1e6, 2e6, 4e6, 8e6], "tokens": [2e7, 4e7, 8e7, 1.6e8],
                           "eval/loss": [3.2, 9.9, 2.9, 3.5]})
    table = from_frame(export, "wandb_export.csv")
    assert table.names == ("a", "c") and table.excluded == {"crashed": 1, "running": 1}
    assert table.columns_read == {"loss": "eval/loss", "run": "Name",
                                  "status": "State (W&B's finished read as complete)"}
    ours = from_frame(export.rename(columns={"State": "Status"}).assign(Status=["complete", "diverged", "complete",
                                                                              None]))
    assert ours.names == ("a", "c") and ours.excluded == {"diverged": 1, "unknown": 1}


def test_numbers_with_thousands_separators_are_read_and_other_text_still_named(tmp_path):
    # Epoch AI's "Chinchilla data - Updated data 3-26.csv" writes sizes as spreadsheets export them
    path = tmp_path / "updated.csv"
    path.write_text('training FLOP,model size,model size (millions),loss\n'
                    '2.86E+21,"16,450,387,383.84",16450,2.284458716\n'
                    '9.75E+18,"6,916,625,259.04",6917,4.967006148\n')
    table = load_runs_table(path)
    assert table.n_params_R.tolist() == [16450387383.84, 6916625259.04]
    np.testing.assert_allclose(table.tokens_R, table.flops_R / (6 * table.n_params_R))
    assert table.columns_read == {"n_params": "model size", "flops": "training FLOP", "tokens": "flops / (6 n_params)"}
    with pytest.raises(ConfigError, match="run 'row 1' of sizes.csv: n_params = '74M' is not a number"):
        from_frame(pd.DataFrame({"N": ["1,000,000", "74M"], "D": [2e7, 4e7], "loss": [3.2, 3.0]}), "sizes.csv")


def test_a_column_given_for_another_name_is_not_then_reported_missing_as_itself():
    frame = pd.DataFrame({"n_params": [1e8, 4e8, 1.6e9], "tokens": [2e9, 8e9, 3.2e10], "loss": [3.2, 2.8, 2.5]})
    # was: "grid.csv lacks the column(s) tokens; it has n_params, tokens, loss"
    with pytest.raises(ConfigError, match=r"--column loss=tokens: 'tokens' is read as loss, so it cannot also be the "
                                          r"tokens column, and grid.csv has no other; read another column as loss "
                                          r"\(it has n_params, tokens, loss\), or name the file's tokens column too"):
        from_frame(frame, "grid.csv", {"loss": "tokens"})


def test_a_wandb_panel_export_is_recognised_and_told_what_to_write_instead():
    """Was "lacks the column(s) n_params, tokens, loss; it has Step, Group: ..." naming all 49
    columns (3,300 characters) of a W&B panel export (pile-scaling-0.8.csv), with no hint."""
    runs = [f"{n}M_{s}step_x{n}{s}" for n in (70, 160, 410) for s in (1024, 2048, 3072)]
    columns = {"Step": [1, 2]} | {f"Group: {r} - test/lm_loss{end}": [3.1, 3.0] for r in runs
                                  for end in ("", "__MIN", "__MAX")}
    with pytest.raises(ConfigError) as err:
        from_frame(pd.DataFrame(columns), "panel.csv")
    message = str(err.value)
    assert message.startswith("panel.csv looks like a W&B panel export: a column per run and metric (9 such, e.g. "
                              "'Group: 70M_1024step_x701024 - test/lm_loss') and a row per step")
    assert "write a table with one row per run and its n_params, tokens and final loss" in message
    assert "its 28 columns begin 'Step', " in message and len(message) < 600
