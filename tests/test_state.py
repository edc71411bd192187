"""sweep/run/state.py: a run's typed state and what a checkpoint saves of it."""

from __future__ import annotations

import time

import torch

from sweep.run.state import RunState

CPU = torch.device("cpu")


def test_a_loaded_state_continues_the_saved_one(tmp_path):
    saved = RunState.start(loss_window=2, device=CPU, origin=time.time())
    for loss in (4.0, 3.0, 2.0):
        saved.losses.add(torch.tensor(loss))
    saved.step, saved.clock.prior_seconds = 3, 10.0
    saved.timer.seconds, saved.timer.steps = 1.5, 2
    state = saved.state_dict()
    torch.save(state, tmp_path / "state.pt")  # plain values: loadable with weights_only

    resumed = RunState.start(loss_window=2, device=CPU, origin=time.time())
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert resumed.step == 3 and resumed.clock.seconds >= state["wall_seconds"] >= 10.0
    assert (resumed.timer.seconds, resumed.timer.steps) == (1.5, 2)
    assert resumed.losses.take_mean() == saved.losses.take_mean() == 3.0
    assert resumed.losses.final() == saved.losses.final() == 2.5


def test_a_state_saved_before_the_step_timer_was_loads_with_a_fresh_timer():
    state = RunState.start(loss_window=4, device=CPU, origin=time.time())
    state.load_state_dict({"step": 7, "wall_seconds": 2.0, "losses": {"since_log": [1.0], "recent": [1.0]}})
    assert (state.step, state.timer.seconds, state.timer.steps) == (7, 0.0, 0)
    assert state.losses.take_mean() == 1.0
