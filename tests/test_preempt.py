"""sweep/run/preempt.py: SIGUSR2 / SIGTERM become a flag instead of killing the process."""

import os
import signal

import pytest

from sweep.run.preempt import StopRequest


@pytest.mark.parametrize("sig", [signal.SIGUSR2, signal.SIGTERM])
def test_a_stop_signal_sets_the_flag_and_the_process_lives_on(sig):
    with StopRequest() as stop:
        assert not stop.requested
        os.kill(os.getpid(), sig)
        assert stop.requested and stop.signal is sig


def test_previous_handlers_are_restored_on_exit():
    before = signal.getsignal(signal.SIGUSR2)
    with StopRequest():
        assert signal.getsignal(signal.SIGUSR2) is not before
    assert signal.getsignal(signal.SIGUSR2) is before
