"""sweep/run/preempt.py: SIGUSR2 / SIGTERM (and a terminal's Ctrl-C) become a flag instead of killing the process."""

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


def test_ctrl_c_stops_a_run_from_a_terminal_at_its_step_and_twice_at_once():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # pytest's process, as a terminal's
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signal is signal.SIGINT  # the loop saves its checkpoint at the step's end
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_sigint_a_launcher_ignores_stays_ignored():
    """The local launcher starts its runs with SIGINT ignored: the terminal's Ctrl-C is its to pass on."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopRequest():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
