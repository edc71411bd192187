"""sweep/fit/curve_reader.py: each complete run's loss-vs-FLOPs curve read from a sweep folder (a
W&B group's: tests/test_wandb_curves.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.curve_reader import read_curves
from tests.test_fit_table import write_run


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


def test_a_folder_that_is_missing_or_a_file_or_holds_no_complete_run_is_one_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=f"sweep folder {tmp_path / 'none'} does not exist"):
        read_curves(tmp_path / "none")
    (tmp_path / "runs.csv").write_text("n_params,tokens,loss\n")
    with pytest.raises(ConfigError, match="runs.csv is a file: the loss curves are read from run folders"):
        read_curves(tmp_path / "runs.csv")
    write_run(tmp_path, "a", "diverged", 100, [{"step": 1, "tokens": 1, "train_loss": 9.0}])
    write_run(tmp_path, "b", "failed", 100, [{"step": 1, "tokens": 1, "train_loss": 9.0}])
    with pytest.raises(ConfigError, match=r"holds no complete runs \(1 diverged, 1 failed\)"):
        read_curves(tmp_path)
