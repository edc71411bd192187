"""sweep/results.py: the runs table of a sweep folder."""

from sweep.results import load_runs
from sweep.rundir import RunDir
from sweep.train import train


def test_rows_carry_coordinates_and_outcome(tiny_config, tmp_path):
    finished = train(tiny_config("optim.lr=1e-3"))
    pending = tiny_config("optim.lr=2e-3")
    RunDir.for_config(pending).write_config(pending)
    rows = {r["lr"]: r for r in load_runs(tmp_path / "runs")}
    assert set(rows) == {1e-3, 2e-3}
    done = rows[1e-3]
    assert done["status"] == "complete" and done["final_eval_loss"] == finished["final_eval_loss"]
    assert (done["d"], done["l"], done["batch_size"], done["seed"]) == (32, 1, 4, 0)
    assert rows[2e-3]["status"] == "pending" and rows[2e-3]["final_eval_loss"] is None


def test_folders_without_a_config_are_not_runs(tmp_path):
    (tmp_path / "token_cache").mkdir()
    assert load_runs(tmp_path) == []
    assert load_runs(tmp_path / "missing") == []
