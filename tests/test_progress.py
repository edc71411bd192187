"""sweep/progress.py (the progress of every long loop) and sweep/run/progress.py (training's step
bar): a live bar on a terminal, plain log lines when not attached to one."""

import io
import logging
import sys

from rich.console import Console

from sweep.progress import eta_seconds, format_duration, plain_interval_s, progress
from sweep.run.progress import bar


def test_training_logs_about_twenty_lines_each_with_the_record_of_its_step(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.progress"), bar(1000, "run") as progress:
        for step in range(1, 1001):
            progress.advance()
            if step % 10 == 0:  # train.log_every
                progress.log({"train_loss": 1000.0 / step, "tokens_per_second": 10.0})
    lines = [r.message for r in caplog.records]
    assert 19 <= len(lines) <= 21
    assert lines[0].startswith("run: 50/1,000 steps (5%), ETA ") and lines[0].endswith("loss 20.0000 10 tok/s")
    assert lines[-1] == "run: 1,000/1,000 steps (100%), loss 1.0000 10 tok/s"


def test_a_resumed_run_counts_from_its_start(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.progress"), bar(100, "run", start=90) as progress:
        for _ in range(10):
            progress.advance()
            progress.log({"train_loss": 2.0, "eval_loss": 1.5, "tokens_per_second": 1.0})
    assert caplog.records[-1].message == "run: 100/100 steps (100%), loss 2.0000 eval 1.5000 1 tok/s"
    assert not any(r.message.startswith("run: 9/") for r in caplog.records)


def test_a_run_that_stops_between_log_steps_ends_its_bar_at_the_step_it_reached(caplog):
    """A run diverged at step 5 (logging every 10) ended on "0/35 steps (0%)"."""
    with caplog.at_level(logging.INFO, logger="sweep.progress"), bar(35, "run") as progress:
        for _ in range(5):
            progress.advance()
    assert caplog.records[-1].message == "run: 5/35 steps (14%), ended short of its total"


def test_the_ranks_other_than_0_report_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.progress"), bar(10, "run", enabled=False) as progress:
        for _ in range(10):
            progress.advance()
            progress.log({"train_loss": 2.0})
    assert caplog.records == []


# --- sweep/progress.py: the one progress helper of every long loop --------------------------

def test_eta_is_the_work_left_over_the_rate_seen_since_the_start():
    assert eta_seconds(done=25, total=100, elapsed_s=10) == 30
    assert eta_seconds(done=60, total=100, elapsed_s=10, start=40) == 20  # 20 done in 10 s, 40 left
    assert eta_seconds(done=40, total=100, elapsed_s=10, start=40) is None  # no rate yet
    assert eta_seconds(done=100, total=100, elapsed_s=0) == 0


def test_durations_read_as_hours_minutes_seconds():
    assert [format_duration(s) for s in (None, 12.4, 187, 7500)] == ["?", "12s", "3m07s", "2h05m"]


def test_a_plain_loop_logs_twenty_lines_and_the_last_one_says_all_is_done(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.progress"), \
            progress(1000, "bootstrap", unit="resamples") as bar:
        for _ in range(1000):
            bar.advance()
    lines = [r.message for r in caplog.records]
    assert len(lines) == 20
    assert lines[0].startswith("bootstrap: 50/1,000 resamples (5%), ETA ")
    assert lines[-1] == "bootstrap: 1,000/1,000 resamples (100%)"


def test_a_plain_loop_inside_another_logs_nothing_and_the_outer_one_names_it(caplog):
    """`sweep report` in a log: its 9 fits' bar and every bootstrap and fit inside it, 50-88 lines."""
    with caplog.at_level(logging.INFO, logger="sweep.progress"), progress(3, "sweep report", unit="fits") as outer:
        for fit in ("chinchilla", "bootstrap", "isoflop"):
            outer.update(info=fit)
            with progress(1000, f"{fit} inner", unit="resamples") as inner:
                inner.advance(1000)
            outer.advance()
    lines = [r.message for r in caplog.records]
    assert not any("inner" in line for line in lines) and len(lines) <= 4
    with caplog.at_level(logging.INFO, logger="sweep.progress"), progress(10, "alone afterwards") as bar:
        bar.advance(10)  # the count of active bars went back to 0
    assert caplog.records[-1].message == "alone afterwards: 10/10 (100%)"


def test_a_plain_loop_that_stops_short_still_logs_where_it_stopped(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.progress"), progress(100, "prepare", unit="tokens") as bar:
        bar.update(done=3, info="unit 0")
    [line] = [r.message for r in caplog.records]
    assert line == "prepare: 3/100 tokens (3%), ended short of its total, unit 0"  # no ETA once it is over


def test_a_separate_work_measure_gives_the_eta():
    with progress(4, "sweep", unit="runs", enabled=False) as bar:
        bar.update(done=1, work=(1.0, 9.0))  # the first report: the work starts at 1
        bar.update(work=(3.0, 9.0))
        bar.started_at -= 1000.0  # 2 of 8 done in 1000 s: 6 left take 3000 s
        assert round(bar.eta()) == 3000


def test_the_caller_s_estimate_gives_the_eta_in_the_line_and_counts_down(caplog):
    """A local sweep's estimate (launch/eta.py) is what its log line says, not the rate over its FLOPs."""
    caplog.set_level(logging.INFO, logger="sweep.progress")
    with progress(4, "sweep", unit="runs ended") as bar:
        bar.started_at -= 10.0
        bar.update(done=1, work=(1.0, 100.0), eta_s=190.0)  # the rate over the work would say 990 s
        assert "ETA 3m10s" in caplog.text
        seconds_left, given_at = bar.estimate
        bar.estimate = (seconds_left, given_at - 40.0)
        assert round(bar.eta()) == 150


class FakeClock:
    """time.monotonic for sweep/progress.py, moved on by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_plain_periodic_lines_come_every_interval_spacing_out_to_ten_of_them():
    assert [plain_interval_s(60, elapsed) for elapsed in (0, 600, 2400, 6000, 86400)] == [60, 60, 120, 300, 600]


def test_a_plain_loop_with_every_s_logs_a_line_per_interval_while_its_count_stands_still(caplog, monkeypatch):
    """A local sweep of one run at a time in a log file printed nothing until its first run ended:
    minutes of silence in the demo, days on a large run."""
    clock = FakeClock()
    monkeypatch.setattr("sweep.progress.time.monotonic", clock)
    caplog.set_level(logging.INFO, logger="sweep.progress")
    with progress(2, "sweep", unit="runs ended", every_s=60) as bar:
        for second in range(1, 30 * 60 + 1):  # half an hour polled every second, the first run still training
            clock.now += 1
            bar.update(done=0, work=(second, 4000.0), info="1 running: d64")
        lines = [r.message for r in caplog.records]
        assert len(lines) == 27  # a minute apart for 20 minutes, then 1/20 of the time elapsed
        assert lines[0] == "sweep: 0/2 runs ended (0%), ETA 1h06m, 1 running: d64"  # a unit a second, 3940 left
    with progress(2, "sweep", unit="runs ended") as bar:  # without every_s: the count's lines alone
        for second in range(1, 600):
            clock.now += 1
            bar.update(done=0, work=(second, 4000.0))
    assert len(caplog.records) == 27 + 1  # its final line only


def test_a_plain_loop_logs_a_line_at_each_event_that_changed_it(caplog):
    caplog.set_level(logging.INFO, logger="sweep.progress")
    with progress(100, "sweep", unit="runs ended") as bar:
        bar.update(done=0, info="1 running: a", event=True)
        bar.update(done=0, info="1 running: a", event=True)  # nothing new: no second line
        bar.update(done=0, info="1 running: b")  # not an event, the count not past 1/20: no line
        bar.update(done=0, info="2 running: b, c", event=True)
        bar.update(done=1, info="1 complete, 1 running: c")
    assert [r.message for r in caplog.records] == [
        "sweep: 0/100 runs ended (0%), ETA ?, 1 running: a", "sweep: 0/100 runs ended (0%), ETA ?, 2 running: b, c",
        "sweep: 1/100 runs ended (1%), ended short of its total, 1 complete, 1 running: c"]


def test_a_loop_shorter_than_its_delay_shows_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.progress"), progress(10, "fit", delay_s=60) as bar:
        bar.advance(10)
    assert caplog.records == []


def test_a_disabled_loop_is_silent(caplog):
    with caplog.at_level(logging.INFO, logger="sweep.progress"), progress(10, "fit", enabled=False) as bar:
        bar.advance(10)
    assert caplog.records == []


def test_on_a_terminal_a_live_bar_is_drawn_and_log_lines_print_above_it(caplog):
    out = io.StringIO()
    console = Console(force_terminal=True, file=out, width=150)
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    try:
        with progress(100, "bootstrap", unit="resamples", console=console) as bar:
            bar.advance(40)
            logging.getLogger("sweep.test").warning("a line while the bar is live")
            bar.update(done=100, info="3 chunks")
        assert handler.stream is sys.stderr  # given back afterwards
    finally:
        logging.getLogger().removeHandler(handler)
    text = out.getvalue()
    assert "a line while the bar is live" in text
    assert "100/100 resamples" in text and "3 chunks" in text
    assert "━" in text  # the bar
    assert not [r for r in caplog.records if r.name == "sweep.progress"]  # no plain lines besides


def test_a_bar_inside_another_is_a_row_of_the_same_live_display():
    out = io.StringIO()
    console = Console(force_terminal=True, file=out, width=150)
    with progress(3, "report", unit="fits", console=console) as outer:
        outer.update(info="chinchilla")
        with progress(10, "bootstrap", unit="resamples", console=console) as inner:
            inner.advance(10)  # rich allows one live display: this one joins the report's
        outer.update(done=3, info="crossover")
    text = out.getvalue()
    assert "10/10 resamples" in text and "3/3 fits" in text
