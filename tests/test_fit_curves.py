"""sweep/fit/curves.py: the runs left out of a sweep's curves, counted by reason in a message."""

from __future__ import annotations

from sweep.fit.curves import excluded_text


def test_the_runs_left_out_read_by_reason_in_order():
    assert excluded_text({"failed": 2, "diverged": 1}) == "1 diverged, 2 failed"
    assert excluded_text({}) == ""
