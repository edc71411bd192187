"""sweep/run/progress.py: plain progress lines when not attached to a terminal."""

import logging

from sweep.run.progress import bar


def test_plain_progress_logs_about_twenty_lines_whatever_the_length(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.run.progress"), bar(1000, "run") as progress:
        for _ in range(1000):
            progress.advance()
            progress.log({"train_loss": 1.0, "tokens_per_second": 10.0})
    lines = [r.message for r in caplog.records]
    assert 19 <= len(lines) <= 21
    assert lines[-1].startswith("run step 1000/1000 loss 1.0000")


def test_a_resumed_loop_counts_from_its_start(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.run.progress"), bar(100, "run", start=90) as progress:
        for _ in range(10):
            progress.advance()
            progress.log({"train_loss": 2.0, "eval_loss": 1.5, "tokens_per_second": 1.0})
    assert caplog.records[-1].message == "run step 100/100 loss 2.0000 eval 1.5000 1 tok/s"
