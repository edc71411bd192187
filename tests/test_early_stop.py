"""sweep/early_stop.py: budget groups, the probe step, the stopping rule (never the best, never a
run that cannot be predicted, both intervals and the margin considered), and a real group decided
from its runs' records at their probe step."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sweep.budget import compute_budget
from sweep.config import validate
from sweep.early_stop import (CONTINUE, STOP, UNDECIDED, MemberDecision, Standing, decide, decide_group,
                              decided_past, decision_steps, decisions_file, early_stopped_groups, group_key,
                              is_settled, probe_eval_steps, probe_step, read_decisions, read_rungs, result_fields,
                              steadied)
from sweep.errors import ConfigError, DamagedFile
from sweep.record import COMPLETE, DIVERGED, FAILED, STOPPED_EARLY
from sweep.rundir import RunDir
from sweep.run.loop import train

ON = ("early_stop.enabled=true", "early_stop.fraction=0.5", "early_stop.resamples=50")


def predicted(run: str, loss: float, half_width: float) -> Standing:
    return Standing(run, loss, (loss - half_width, loss + half_width), True, at_step=40, steps=81)


def test_a_group_is_the_runs_that_differ_only_in_lr_batch_size_and_weight_decay(tiny_config):
    base = tiny_config()
    same = [tiny_config("optim.lr=1e-2"), tiny_config("train.batch_size=8"), tiny_config("optim.weight_decay=0.3"),
            tiny_config("train.log_every=4"), tiny_config(*ON)]
    other = [tiny_config("model.d=48"), tiny_config("budget.tokens_per_param=1"), tiny_config("seed=1"),
             tiny_config("optim.warmup_steps=3")]
    assert all(group_key(c) == group_key(base) for c in same)
    assert all(group_key(c) != group_key(base) for c in other)
    assert group_key(base).startswith("d32-l1-tpp0.5-")


def test_the_probe_step_is_the_fraction_of_the_steps_on_a_log_step(tiny_config):
    assert probe_step(tiny_config(*ON)) == 40  # 81 steps, half, log_every 2
    assert probe_step(tiny_config(*ON, "early_stop.fraction=0.3", "train.log_every=4")) == 24  # 24.3 -> 24
    assert probe_step(tiny_config(*ON, "early_stop.fraction=0.01")) is None  # no log step before 0.81


def test_with_again_at_a_run_is_decided_at_each_fraction_on_a_log_step_and_evaluates_at_each(tiny_config):
    cfg = tiny_config(*ON, "early_stop.fraction=0.25", "early_stop.again_at=[0.5,0.75]")  # 81 steps, log every 2
    assert decision_steps(cfg) == [20, 40, 60] and probe_step(cfg) == 20
    assert probe_eval_steps(cfg) == {18, 20, 22, 38, 40, 42, 58, 60, 62}
    assert decision_steps(tiny_config(*ON)) == [40]  # decided once
    close = tiny_config(*ON, "early_stop.fraction=0.25", "early_stop.again_at=[0.26]")  # 20.25 and 21.06: both 20
    with pytest.raises(ConfigError, match=r"the same step 20 at fractions 0.25 and 0.26; accepted are fractions at "
                                          r"least train.log_every / steps = 0.0247 apart"):
        decision_steps(close)


def test_a_run_evaluates_at_its_probe_step_and_either_side_so_a_larger_run_can_read_it_there(tiny_config):
    assert probe_eval_steps(tiny_config(*ON)) == {38, 40, 42}
    assert probe_eval_steps(tiny_config(*ON, "early_stop.fraction=0.01")) == set()
    small, large = tiny_config(*ON, "early_stop.fraction=0.1"), tiny_config(*ON, "early_stop.fraction=0.1", "model.d=48")
    steps_small, steps_large = compute_budget(small).steps, compute_budget(large).steps
    read_at = probe_step(large) / steps_large * steps_small  # where the larger run's decision reads the smaller
    assert min(probe_eval_steps(small)) <= read_at <= max(probe_eval_steps(small))


def test_only_enabled_groups_of_two_or_more_runs_are_early_stopped(tiny_config):
    cfgs = [tiny_config(*ON, "optim.lr=1e-3"), tiny_config(*ON, "optim.lr=3e-3"), tiny_config(*ON, "model.d=48"),
            tiny_config("optim.lr=1e-2")]
    assert list(early_stopped_groups(cfgs).values()) == [[0, 1]]


def test_with_a_floor_the_runs_a_larger_run_is_predicted_from_are_not_early_stopped(tiny_config):
    """A run stopped early has no final loss: the smaller widths' groups, the references of the
    larger's at their settings, train whole; without a floor each group is early-stopped."""
    floor = ("early_stop.floor=true",)
    cfgs = [tiny_config(*ON, *floor, f"model.d={d}", f"optim.lr={lr}") for d in (16, 32, 48) for lr in ("1e-3", "3e-3")]
    assert list(early_stopped_groups(cfgs).values()) == [[4, 5]]  # d48's alone
    # a larger run is matched with the smaller size at a higher learning rate (sweep/fit/collapse.py
    # area_matched): smaller runs at other learning rates are its references too ...
    other_lrs = [tiny_config(*ON, *floor, "model.d=16", f"optim.lr={lr}") for lr in ("1e-2", "3e-2")]
    assert list(early_stopped_groups(cfgs[4:] + other_lrs).values()) == [[0, 1]]
    # ... but not at another batch size
    other_batch = [tiny_config(*ON, *floor, "model.d=16", "train.batch_size=8", f"optim.lr={lr}") for lr in ("1e-2", "3e-2")]
    assert list(early_stopped_groups(cfgs[4:] + other_batch).values()) == [[0, 1], [2, 3]]
    plain = [tiny_config(*ON, f"model.d={d}", f"optim.lr={lr}") for d in (16, 32) for lr in ("1e-3", "3e-3")]
    assert list(early_stopped_groups(plain).values()) == [[0, 1], [2, 3]]


def test_a_stopped_run_is_settled_only_while_early_stopping_is_on(tiny_config):
    on, off = tiny_config(*ON), tiny_config()
    assert is_settled(on, STOPPED_EARLY) and not is_settled(off, STOPPED_EARLY)
    assert is_settled(off, COMPLETE) and is_settled(off, DIVERGED) and not is_settled(on, FAILED)


def test_a_run_is_stopped_only_when_its_interval_lies_above_the_best_s_by_the_margin():
    standings = [predicted("best", 3.00, 0.02), predicted("far", 3.30, 0.05), predicted("overlaps", 3.05, 0.04),
                 predicted("near", 3.06, 0.01)]
    by_run = {d.run: d for d in decide(standings, margin=0.0, beaten_by=1)}
    assert by_run["best"].action == CONTINUE and by_run["best"].reason == "the group's best"
    assert by_run["far"].action == STOP and by_run["far"].best_run == "best"
    assert by_run["overlaps"].action == CONTINUE  # 3.01 < 3.02: the intervals overlap
    assert by_run["near"].action == STOP  # 3.05 > 3.02
    by_run = {d.run: d for d in decide(standings, margin=0.02, beaten_by=1)}  # stop above 1.02 x 3.02 = 3.0804
    assert by_run["near"].action == CONTINUE and by_run["far"].action == STOP


def test_the_best_is_never_stopped_whatever_the_intervals():
    for width in (0.0, 0.01, 1.0):
        decisions = decide([predicted("a", 3.2, width), predicted("b", 3.1, width), predicted("c", 3.5, width)], 0.0, 1)
        assert {d.run: d.action for d in decisions}["b"] == CONTINUE


def test_a_run_is_compared_with_the_member_whose_loss_is_surest_not_the_vaguest_low_prediction():
    standings = [predicted("vague", 3.00, 5.0), predicted("sure", 3.20, 0.02), predicted("far", 3.50, 0.05),
                 predicted("close", 3.23, 0.02)]
    by_run = {d.run: d for d in decide(standings, 0.0, 1)}
    assert by_run["vague"].action == CONTINUE and by_run["vague"].reason == "the group's best"
    assert by_run["sure"].action == CONTINUE
    assert by_run["far"].action == STOP and by_run["far"].best_run == "sure"  # 3.45 > 3.22
    assert by_run["close"].action == CONTINUE  # 3.21 < 3.22: the intervals overlap


def test_every_stopped_run_loses_to_beaten_by_members_that_go_on_and_the_lowest_prediction_goes_on():
    rng = __import__("random").Random(0)
    for _ in range(300):
        standings = [predicted(f"r{i}", rng.uniform(3.0, 4.0), rng.choice((0.0, 0.01, 0.1, 1.0)))
                     for i in range(rng.randint(2, 7))]
        beaten_by = rng.choice((1, 2, 3))
        decisions = {d.run: d for d in decide(standings, rng.choice((0.0, 0.01)), beaten_by)}
        lowest = min(standings, key=lambda s: s.loss)
        assert decisions[lowest.run].action == CONTINUE
        going_on = {s.run: s for s in standings if decisions[s.run].action == CONTINUE}
        for s in standings:
            if decisions[s.run].action == STOP:
                assert decisions[s.run].best_run in going_on
                assert s.interval[0] > going_on[decisions[s.run].best_run].interval[1]
                beaten = [o for o in going_on.values() if o.interval[1] < s.interval[0]]
                assert len(beaten) >= min(beaten_by, len(standings) - 1)


def test_one_over_sure_member_cannot_stop_a_run_alone_with_beaten_by_two():
    standings = [predicted("over-sure", 3.01, 0.01), predicted("next", 3.15, 0.10), predicted("near", 3.20, 0.10),
                 predicted("far", 3.55, 0.05)]
    one = {d.run: d for d in decide(standings, 0.0, beaten_by=1)}
    assert one["near"].action == STOP and one["near"].best_run == "over-sure"  # 3.10 > 3.02
    two = {d.run: d for d in decide(standings, 0.0, beaten_by=2)}
    assert two["near"].action == CONTINUE and two["near"].reason == "not clearly worse than 2 members (up to next)"
    assert two["far"].action == STOP and two["far"].best_run == "next"  # 3.50 > 3.25, and > 3.02
    assert "as above 1 other member with a lower high end" in two["far"].reason


def test_in_a_group_of_two_a_run_needs_to_be_worse_than_the_other_member_only():
    standings = [predicted("good", 3.0, 0.02), predicted("bad", 3.6, 0.05)]
    by_run = {d.run: d for d in decide(standings, 0.0, beaten_by=2)}
    assert by_run["bad"].action == STOP and by_run["bad"].best_run == "good"


def test_a_run_that_cannot_be_predicted_is_never_stopped_nor_compared_with():
    standings = [Standing("unknown", None, None, False, "not predicted: too few records"), predicted("a", 3.0, 0.01),
                 predicted("b", 3.5, 0.01)]
    by_run = {d.run: d for d in decide(standings, 0.0, 1)}
    assert by_run["unknown"].action == UNDECIDED and "too few records" in by_run["unknown"].reason
    assert by_run["b"].best_run == "a" and by_run["b"].action == STOP


def test_a_finished_run_is_compared_with_its_actual_loss_and_is_never_stopped():
    standings = [Standing("done", 3.4, (3.4, 3.4), False, "finished"), predicted("better", 3.0, 0.01)]
    by_run = {d.run: d for d in decide(standings, 0.0, 1)}
    assert by_run["done"].action == CONTINUE and by_run["better"].action == CONTINUE
    standings = [Standing("done", 3.0, (3.0, 3.0), False, "finished"), predicted("worse", 3.3, 0.1)]
    assert {d.run: d.action for d in decide(standings, 0.0, 1)}["worse"] == STOP


@pytest.mark.parametrize("override, message", [
    ("early_stop.fraction=0", "early_stop.fraction=0.0: accepted is a fraction"),
    ("early_stop.fraction=1", "early_stop.fraction=1.0: accepted is a fraction"),
    ("early_stop.margin=-0.1", "early_stop.margin=-0.1: accepted is a relative margin"),
    ("early_stop.level=1", "early_stop.level=1.0: accepted is an interval level"),
    ("early_stop.resamples=0", "early_stop.resamples=0: accepted is a whole number >= 1, at most 10000"),
    ("early_stop.beaten_by=0", "early_stop.beaten_by=0: accepted is an integer >= 1"),
    ("early_stop.floor=-1", "early_stop.floor='-1': accepted is the irreducible loss E in nats/token"),
    ("early_stop.again_at=[0.2]", r"early_stop.again_at=\[0.2\]: accepted are fractions .* increasing, above "
                                  r"early_stop.fraction=0.25 and below 1 \(e.g. \[0.5, 0.75\]\)"),  # a valid example
    ("early_stop.again_at=[0.5,0.4]", r"early_stop.again_at=\[0.5, 0.4\]: accepted"),
    ("early_stop.again_at=[0.5,1.0]", r"early_stop.again_at=\[0.5, 1.0\]: accepted"),
    ("early_stop.floor=true", r"early_stop.floor=true with data=embedded: the true entropy rate is known only for "
                              r"data=synthetic; accepted here: early_stop.floor=auto"),  # was: trained, E unknown
])
def test_settings_out_of_range_are_one_clear_error(tiny_config, override, message):
    with pytest.raises(ConfigError, match=message):
        validate(tiny_config(override))


def test_a_schedule_the_law_cannot_predict_at_the_fraction_is_refused_before_any_compute(tiny_config):
    with pytest.raises(ConfigError, match="before the cooldown"):
        validate(tiny_config(*ON, "optim.schedule=wsd", "early_stop.fraction=0.5"))
    validate(tiny_config(*ON, "optim.schedule=wsd", "early_stop.fraction=0.85"))  # inside the cooldown: fine
    with pytest.raises(ConfigError, match="budget.branch=true"):
        validate(tiny_config(*ON, "optim.schedule=wsd", "budget.branch=true"))


def probed_group(tiny_config, *lrs: str, tokens_per_param: float = 0.5) -> list:
    cfgs = [tiny_config(*ON, f"optim.lr={lr}", f"budget.tokens_per_param={tokens_per_param}") for lr in lrs]
    for cfg in cfgs:
        assert train(cfg, until_step=probe_step(cfg))["step"] == probe_step(cfg)
    return cfgs


def finished_smaller_runs(tiny_config) -> None:
    """Two finished d16 runs of 225 steps (fewer parameters than TINY's d32), which the curve law
    predicts from half their steps: what the d32 members' intervals are calibrated on."""
    for lr in ("3e-3", "3e-2"):
        train(tiny_config("model.d=16", "budget.tokens_per_param=4", f"optim.lr={lr}"))


def test_a_real_group_is_decided_once_from_its_runs_records_at_their_probe_step(tiny_config):
    """Runs of 321 steps, probed at 160: past their initial descent from ln V there, which the
    curve law needs (the 81-step TINY runs are still in it at their probe step 40: not predicted,
    never stopped). Both are predicted together at their probe step, their intervals calibrated on
    the two finished smaller runs replayed at the same fraction, and decided by the rule; on runs
    this short and noisy their intervals overlap (measured: neither stopped)."""
    finished_smaller_runs(tiny_config)
    cfgs = probed_group(tiny_config, "3e-3", "3e-2", tokens_per_param=2)
    decisions = decide_group(cfgs)
    for d in decisions.values():
        (other,) = [o for o in decisions.values() if o is not d]  # two members: each is compared with the other
        assert d.predicted is not None and d.predicted_at_step == probe_step(cfgs[0]) == 160
        # calibrated at 49.5%: the probe step's 160 / 321 of the steps, rounded down to a 200th
        assert d.predicted_from.startswith("curve law, calibrated on 2 finished smaller runs at 49.5%: +-"), d
        assert d.best_run == other.run and d.action == (STOP if d.interval[0] > other.interval[1] else CONTINUE)
    written = json.loads(decisions_file(cfgs[0]).read_text())
    assert written["fraction"] == 0.5 and written["beaten_by"] == 2 and set(written["members"]) == set(decisions)
    assert decide_group(list(reversed(cfgs))) == decisions  # decided once: a second call reads the file


def test_a_curve_law_interval_that_no_finished_smaller_run_can_calibrate_is_not_acted_on(tiny_config):
    """The same group beside two finished smaller runs that the law cannot predict at half their
    steps (d16 runs of 25 steps, still in their initial descent): no measure of the law's error at
    that fraction, so neither member is stopped nor compared with, and the decision says why."""
    for lr in ("3e-3", "3e-2"):
        train(tiny_config("model.d=16", f"optim.lr={lr}"))
    cfgs = probed_group(tiny_config, "3e-3", "3e-2", tokens_per_param=2)
    decisions = decide_group(cfgs)
    assert len(decisions) == 2
    for d in decisions.values():
        assert d.action == UNDECIDED and d.predicted is None and d.best_run is None
        assert d.reason == ("not acted on: the curve law's interval is not calibrated: none of the 2 finished "
                            "smaller runs could be predicted at 49.5%")


def test_in_a_sweep_without_a_smaller_run_the_interval_is_calibrated_on_the_group_s_own_halves(tiny_config):
    """One width: no finished smaller run to calibrate the law on; each member predicts its loss at
    its probe from the first half of its records, and the group's errors there widen the intervals
    acted on."""
    cfgs = probed_group(tiny_config, "3e-3", "3e-2", tokens_per_param=2)
    for d in decide_group(cfgs).values():
        assert d.predicted is not None and d.action in (STOP, CONTINUE)
        assert d.predicted_from.startswith("curve law, calibrated on its group's 2 curves, each predicted at 49.")
        assert "from its first half: +-" in d.predicted_from and d.predicted_from.endswith("holds at 67%")


def test_with_a_floor_a_member_is_predicted_from_the_finished_smaller_runs_at_its_settings(tiny_config):
    """d32 runs probed at half their steps; d16 runs at the same settings but the learning rate
    finished: with early_stop.floor each member with them is predicted from them (the collapse of
    curves, the reference matched by its summed learning rate), a member without them by the curve
    law, as before."""
    for lr in ("3e-3", "3e-2"):
        train(tiny_config("model.d=16", f"optim.lr={lr}", "budget.tokens_per_param=2"))
    members = [tiny_config(*ON, "early_stop.floor=0", f"optim.lr={lr}", "budget.tokens_per_param=2",
                           "train.eval_every=6", *more)  # probe step 160 falls between two evals (156, 162)
               for lr, more in (("3e-3", ()), ("3e-2", ()), ("1e-2", ("optim.weight_decay=0.3",)))]
    for cfg in members:
        train(cfg, until_step=probe_step(cfg))
    decisions = decide_group(members)
    by_lr = {cfg.optim.lr: decisions[name] for cfg, name in zip(members, decisions)}
    # d32 runs twice d16's steps and more: matched with d16 at a higher lr, between the two d16 runs
    assert by_lr[3e-3].predicted_from.startswith("collapse from d16-l1-b4-lr3.0e-03")
    assert " and d16-l1-b4-lr3.0e-02" in by_lr[3e-3].predicted_from and "interpolated at lr" in by_lr[3e-3].predicted_from
    assert by_lr[3e-3].predicted_from.endswith(", E = 0")  # the floor it was predicted with
    # matched above the d16 runs' lrs: the nearest, as it is
    assert by_lr[3e-2].predicted_from.startswith("collapse from d16-l1-b4-lr3.0e-02-wd0.1-tpp2-")
    assert "interpolated" not in by_lr[3e-2].predicted_from
    # no d16 run at weight decay 0.3: the curve law, calibrated on the d16 runs (or not acted on), and its reason says why
    assert by_lr[1e-2].predicted_from is None or by_lr[1e-2].predicted_from.startswith("curve law, calibrated on")
    assert by_lr[1e-2].reason.endswith("; not from the collapse (early_stop.floor): the sweep folder holds no "
                                       "finished run of another size at its settings but the learning rate (batch "
                                       "size, weight decay, tokens per parameter, ...) to predict it from"), by_lr[1e-2]
    assert "not from the collapse" not in by_lr[3e-3].reason + by_lr[3e-2].reason
    for d in decisions.values():
        assert d.predicted is None or d.predicted_at_step == probe_step(members[0]) == 160
    assert json.loads(decisions_file(members[0]).read_text())["floor"] == 0.0


def test_with_a_floor_a_member_the_collapse_skipped_says_why_beside_the_curve_law_s_reason():
    """With early_stop.floor=true and every smaller run finished, the d32 members that the collapse
    did not predict said only `not predicted: still in its initial descent` (or that the curve
    law's interval was not calibrated), never that their d16 reference was still on its initial
    plateau at that fraction (newuser3 audit, runs/esf)."""
    from sweep.early_stop import collapse_note, predicted_standing
    from sweep.fit.predict import RunPrediction

    plateau = ("d16-l1-b8-lr2.5e-04-wd0.1-tpp10-0b4e5b55 has not left its initial plateau at 50.0% of its 70 steps: "
               "its eval loss there, 5.872, is not below ln V = 5.545 (a uniform guess)")
    p = RunPrediction("d32-lr2.5e-04", "running", skipped="still in its initial descent", collapse_skipped=plateau)
    standing = predicted_standing(p, 100)
    note = collapse_note(p)
    assert note == f"not from the collapse (early_stop.floor): {plateau}"
    from dataclasses import replace

    [d] = decide([replace(standing, not_collapsed=note)], 0.0, 2)
    assert d.action == UNDECIDED and d.reason == f"not predicted: still in its initial descent; {note}"
    going = decide([replace(predicted("a", 3.0, 0.1), not_collapsed=note), predicted("b", 3.05, 0.1)], 0.0, 2)
    assert going[0].reason.endswith(f"; {note}") and "not from the collapse" not in going[1].reason


def test_with_an_auto_floor_members_are_predicted_with_e_calibrated_on_the_two_smaller_sizes(tiny_config):
    """d16 and d32 runs finished at three learning rates: the d48 members probed at half their
    steps are predicted from d32, with E calibrated on the three d16 -> d32 pairs, and say so; the
    gaps between two members are calibrated for the group's early_stop.margin."""
    lrs = ("3e-3", "1e-2", "3e-2")
    for d in (16, 32):
        for lr in lrs:
            train(tiny_config(f"model.d={d}", f"optim.lr={lr}", "budget.tokens_per_param=2"))
    members = [tiny_config(*ON, "early_stop.floor=auto", "early_stop.margin=0.05", "model.d=48", f"optim.lr={lr}",
                           "budget.tokens_per_param=2") for lr in lrs]
    for cfg in members:
        train(cfg, until_step=probe_step(cfg))
    decisions = decide_group(members)
    body = json.loads(decisions_file(members[0]).read_text())
    assert (body["floor"], body["gaps"]) == ("auto", True)
    for cfg, name in zip(members, decisions):
        source = decisions[name].predicted_from
        assert source.startswith(f"collapse from d32-l1-b4-lr{cfg.optim.lr:.1e}"), source
        assert "calibrated on 3 finished pairs one size down at 50% of their steps" in source, source
        # the d32 runs below, each predicted from its d16 partner, calibrate the gaps between two members too
        assert "; the gaps calibrated on the gaps between 3 finished smaller runs, each predicted from its smaller " \
               "partner at 4" in source, source
        assert "beyond the margin 5.00% apart end more than the margin apart" in source, source


def test_a_run_added_to_a_decided_group_is_decided_then_and_the_others_stand(tiny_config):
    first = probed_group(tiny_config, "3e-3", "1e-5")
    taken = decide_group(first)
    added = probed_group(tiny_config, "2e-5")
    decisions = decide_group(first + added)
    assert {k: decisions[k] for k in taken} == taken and len(decisions) == 3


def test_a_damaged_decisions_file_names_itself(tiny_config):
    cfgs = probed_group(tiny_config, "3e-3", "1e-5")
    decide_group(cfgs)
    decisions_file(cfgs[0]).write_text("{not json")
    with pytest.raises(DamagedFile, match="not an early-stopping decision file"):
        read_decisions(cfgs[0])


def test_runs_of_different_groups_are_never_decided_together(tiny_config):
    with pytest.raises(ValueError, match="2 budget groups"):
        decide_group([tiny_config(*ON), tiny_config(*ON, "model.d=48")])


def test_a_later_decision_decides_only_the_runs_still_going_and_a_stopped_run_stands_with_its_prediction(
        tiny_config, monkeypatch):
    """The predictions are given (group_standings replaced: what each member brings at each decision
    step); the bookkeeping is the product's: decisions per rung in the file, the latest per member,
    a run stopped at 25% not decided again at 50%."""
    a, b, c = (tiny_config(*ON, "early_stop.fraction=0.25", "early_stop.again_at=[0.5]", "early_stop.beaten_by=1",
                           f"optim.lr={lr}") for lr in ("1e-2", "3e-1", "3e-2"))
    name = {id(cfg): RunDir.for_config(cfg).path.name for cfg in (a, b, c)}
    seen = []

    def standings(cfgs, taken, rung):
        seen.append((rung, {n: d.action for n, d in taken.items()}))
        if rung == 0:  # b clearly worse; c too uncertain to tell
            return [Standing(name[id(a)], 3.0, (2.99, 3.01), True), Standing(name[id(b)], 3.5, (3.49, 3.51), True),
                    Standing(name[id(c)], 3.2, (2.9, 3.5), True)]
        return [Standing(name[id(a)], 3.0, (2.99, 3.01), True),  # b stands with the prediction it was stopped with
                Standing(name[id(b)], 3.5, (3.49, 3.51), False, "stopped earlier"),
                Standing(name[id(c)], 3.2, (3.19, 3.21), True)]  # c now clearly worse
    monkeypatch.setattr("sweep.early_stop.group_standings", standings)
    first = decide_group([a, b, c], 0)
    assert [first[name[id(x)]].action for x in (a, b, c)] == [CONTINUE, STOP, CONTINUE]
    assert decided_past(a, 20) and not decided_past(a, 40)
    second = decide_group([a, b, c], 1)
    assert seen[-1] == (1, {name[id(a)]: CONTINUE, name[id(b)]: STOP, name[id(c)]: CONTINUE})  # each one's latest
    assert [(second[name[id(x)]].action, second[name[id(x)]].rung) for x in (a, b, c)] == [
        (CONTINUE, 1), (STOP, 0), (STOP, 1)]
    assert decided_past(a, 40) and decided_past(c, 40) and not decided_past(b, 40)  # b's next job records its stop
    rungs = read_rungs(a)
    assert [sorted(r) for r in rungs] == [sorted(name.values()), sorted([name[id(a)], name[id(c)]])]
    assert read_decisions(a) == second and json.loads(decisions_file(a).read_text())["again_at"] == [0.5]
    assert decide_group([a, b, c], 1) == second and len(seen) == 2  # decided once per rung: read from the file


def test_at_a_later_decision_a_moved_prediction_widens_and_a_first_prediction_stops_no_other_run():
    """What the curve law did at 20% on the benchmark: two runs first predicted there, far too low
    inside narrow intervals, would have stopped the group's best as its two comparators."""
    previous = {"best": MemberDecision("best", CONTINUE, predicted=3.43, interval=(3.3, 3.6)),
                "moved": MemberDecision("moved", CONTINUE, predicted=3.50, interval=(2.7, 4.3)),
                "new": MemberDecision("new", UNDECIDED)}
    now = [predicted("best", 3.43, 0.09), predicted("moved", 3.06, 0.22), predicted("new", 2.71, 0.32),
           Standing("done", 3.45, (3.45, 3.45), False, "finished")]
    assert [d.action for d in decide(now, 0.0, 2)] == [STOP, CONTINUE, CONTINUE, CONTINUE]  # the best, stopped
    steady = steadied(now, previous)
    assert steady[1].interval == pytest.approx((2.84, 3.50)) and steady[1].compares  # it held 3.50 before
    assert not steady[2].compares and steady[3] == now[3]  # first predicted now; a finished run as it was
    assert [d.action for d in decide(steady, 0.0, 2)] == [CONTINUE, CONTINUE, CONTINUE, CONTINUE]
    assert decide(steady, 0.0, 2)[0].best_run == "moved"  # the 2nd lowest high end, "new"'s 3.03 left out


def test_a_member_with_no_comparator_goes_on_and_says_why_not_that_it_is_no_worse_than_itself():
    """Every member first predicted at a later decision step: none may compare; the reason read
    'not clearly worse than 0 member (up to <itself>)', with itself as the comparator."""
    steady = steadied([predicted("a", 3.9, 0.05), predicted("b", 3.5, 0.05)], {"a": MemberDecision("a", UNDECIDED),
                                                                               "b": MemberDecision("b", UNDECIDED)})
    for d in decide(steady, 0.0, 2):
        assert d.action == CONTINUE and d.best_run is None and d.reason.startswith("no member to compare it with")


def test_a_member_predicted_with_the_bootstrap_s_interval_alone_says_so_in_its_decision():
    """Its decision said only 'curve law': a run stopped on such an interval (it missed the final
    loss by 4.8% in an audit) looked as founded as one calibrated on finished runs."""
    from sweep.early_stop import predicted_standing
    from sweep.fit.curve_law import CurveLaw, FinalLossPrediction
    from sweep.fit.predict import RunPrediction

    law = CurveLaw(L0=3.0, A=1.0, alpha=0.5, C=0.1)
    bare = FinalLossPrediction(4.07, (4.02, 4.15), 0.95, law, 0.0, steps_seen=160, steps=320, n_points=20,
                               n_resamples=200, block=2, rmse=0.01)
    standing = predicted_standing(RunPrediction("r", "running", prediction=bare), 160)
    assert standing.predicted_from.startswith("curve law, the bootstrap's interval (not calibrated")


def test_a_collapse_band_is_acted_on_as_calibrated_on_finished_pairs_and_not_where_none_was_predicted():
    """Like the curve law's: a band whose pairs below were tried but none could be predicted at that
    fraction measures nothing there and stands for nothing; a calibrated one says what it holds at."""
    from sweep.early_stop import predicted_standing
    from sweep.fit.calibration import PAIRS, calibration
    from sweep.fit.collapse import CollapsePrediction
    from sweep.fit.predict import RunPrediction

    bare = CollapsePrediction(2.0, (1.98, 2.02), 0.95, "d32-x", 0.0, 0.9, "min_band", steps_seen=160, steps=640)
    none = dataclasses.replace(bare, calibration=calibration([], 0.95, 0.25, tried=10, on=PAIRS))
    standing = predicted_standing(RunPrediction("r", "running", prediction=none), 160)
    assert (standing.loss, standing.interval, standing.stoppable) == (None, None, False)
    assert standing.reason == ("not acted on: the collapse's band is not calibrated: none of the 10 finished smaller "
                               "runs could be predicted from its smaller partner at 25.0%")
    measured = dataclasses.replace(bare, calibration=calibration([0.01, 0.04], 0.95, 0.25, tried=2, on=PAIRS))
    standing = predicted_standing(RunPrediction("r", "running", prediction=measured), 160)
    assert standing.interval == (1.98, 2.02) and standing.predicted_from == (
        "collapse from d32-x, E = 0, its band calibrated on 2 finished smaller runs, each predicted from its smaller "
        "partner at 25.0%: +-4.00%, holds at 67%")
    assert predicted_standing(RunPrediction("r", "running", prediction=bare), 160).predicted_from == \
        "collapse from d32-x, E = 0"


def gapped(run: str, loss: float, half_width: float, q: float, span: tuple[float, float] | None = None) -> Standing:
    """A member predicted by the collapse whose gaps are calibrated to q (early_stop.gaps)."""
    from sweep.fit.calibration import GAPS, Calibration

    return dataclasses.replace(predicted(run, loss, half_width), span=span,
                               gaps=Calibration(0.25, 10, 10, q, 10 / 11, GAPS))


def test_two_members_with_calibrated_gaps_are_compared_by_the_gap_between_their_predictions():
    """Their intervals overlap (+-5%), but the gaps say two runs predicted more than 2% apart end
    apart: 3.10 > 1.02 x 3.00 is clearly worse; 3.05 is not; with a 2% margin neither is."""
    from sweep.early_stop import clearly_worse, gap_band

    best, worse, near = gapped("best", 3.00, 0.15, 0.02), gapped("worse", 3.10, 0.15, 0.02), gapped("near", 3.05, 0.15, 0.02)
    assert gap_band(worse, best) == 0.02 and clearly_worse(worse, best, 0.0) and not clearly_worse(near, best, 0.0)
    by_run = {d.run: d for d in decide([best, worse, near], 0.0, beaten_by=1)}
    assert by_run["worse"].action == STOP and by_run["worse"].best_run == "best"
    assert by_run["worse"].reason.startswith("its predicted loss 3.1000 lies 3.33% above best's 3.0000, more than the "
                                             "gaps' calibrated +2.00% and the margin 0.00% together (calibrated on")
    assert by_run["near"].action == CONTINUE and by_run["best"].action == CONTINUE
    assert {d.run: d.action for d in decide([best, worse, near], 0.02, 1)}["worse"] == CONTINUE  # 3.1212 > 3.10
    wide = [gapped("best", 3.00, 0.15, 0.05), gapped("worse", 3.10, 0.15, 0.02)]  # the larger of two quantiles
    assert {d.run: d.action for d in decide(wide, 0.0, 1)}["worse"] == CONTINUE
    by_intervals = [predicted("best", 3.00, 0.15), predicted("worse", 3.10, 0.15)]  # early_stop.gaps=false
    assert {d.run: d.action for d in decide(by_intervals, 0.0, 1)}["worse"] == CONTINUE


def test_a_member_without_calibrated_gaps_is_compared_by_intervals():
    """A finished member (its actual loss), one predicted by the curve law, or a gap calibration that
    measured nothing: the intervals decide, as without early_stop.gaps."""
    from sweep.early_stop import gap_band
    from sweep.fit.calibration import gap_calibration

    finished = Standing("done", 3.00, (3.00, 3.00), False, "finished")
    assert gap_band(gapped("worse", 3.10, 0.15, 0.02), finished) is None
    assert {d.run: d.action for d in decide([finished, gapped("worse", 3.10, 0.15, 0.02)], 0.0, 1)}["worse"] == CONTINUE
    assert {d.run: d.action for d in decide([finished, gapped("worse", 3.10, 0.05, 0.02)], 0.0, 1)}["worse"] == STOP
    unmeasured = dataclasses.replace(gapped("best", 3.0, 0.15, 0.0), gaps=gap_calibration([], 0.95, 0.25, tried=10))
    assert gap_band(gapped("worse", 3.10, 0.15, 0.02), unmeasured) is None


def test_a_gap_quantile_below_zero_counts_as_zero_and_never_stops_a_lower_prediction():
    from sweep.early_stop import gap_band

    standings = [gapped("a", 3.00, 0.1, -0.05), gapped("b", 2.99, 0.1, -0.05), gapped("c", 3.001, 0.1, -0.05)]
    assert gap_band(standings[0], standings[1]) == 0.0
    by_run = {d.run: d.action for d in decide(standings, 0.0, 1)}
    assert by_run == {"a": STOP, "b": CONTINUE, "c": STOP}  # 3.00 and 3.001 above 2.99: no more, at q = 0


def test_a_prediction_that_moved_since_the_decision_before_is_compared_by_its_least_telling_end():
    """steadied keeps each prediction's move as its span: the run's lower end against the
    comparator's higher one (both predictions stand for the gap)."""
    before = {"best": MemberDecision("best", CONTINUE, predicted=3.04), "worse": MemberDecision("worse", CONTINUE, predicted=3.05)}
    now = steadied([gapped("best", 3.00, 0.15, 0.02), gapped("worse", 3.15, 0.15, 0.02)], before)
    assert (now[0].span, now[1].span) == ((3.00, 3.04), (3.05, 3.15))
    assert {d.run: d.action for d in decide(now, 0.0, 1)}["worse"] == CONTINUE  # 3.05 < 1.02 x 3.04
    moved_less = steadied([gapped("best", 3.00, 0.15, 0.02), gapped("worse", 3.15, 0.15, 0.02)],
                          {**before, "worse": MemberDecision("worse", CONTINUE, predicted=3.12)})
    assert {d.run: d.action for d in decide(moved_less, 0.0, 1)}["worse"] == STOP  # 3.12 > 3.1008


def test_with_gaps_every_stopped_run_is_clearly_worse_than_beaten_by_members_that_go_on():
    from sweep.early_stop import clearly_worse

    rng = __import__("random").Random(1)
    for _ in range(300):
        standings = []
        for i in range(rng.randint(2, 7)):
            loss, q = rng.uniform(3.0, 3.4), rng.choice((-0.01, 0.0, 0.01, 0.05))
            standings.append(gapped(f"r{i}", loss, rng.choice((0.01, 0.1)), q) if rng.random() < 0.7
                             else predicted(f"r{i}", loss, rng.choice((0.0, 0.01, 0.1))))
        beaten_by, margin = rng.choice((1, 2, 3)), rng.choice((0.0, 0.01))
        decisions = {d.run: d for d in decide(standings, margin, beaten_by)}
        assert decisions[min(standings, key=lambda s: s.loss).run].action == CONTINUE
        going_on = [s for s in standings if decisions[s.run].action == CONTINUE]
        for s in standings:
            if decisions[s.run].action == STOP:
                beaten = [o for o in going_on if clearly_worse(s, o, margin)]
                assert decisions[s.run].best_run in {o.run for o in beaten}
                assert len(beaten) >= min(beaten_by, len(standings) - 1)


def test_a_collapse_prediction_brings_its_gaps_to_its_standing_only_with_early_stop_gaps():
    from sweep.early_stop import predicted_standing
    from sweep.fit.calibration import PAIRS, calibration, gap_calibration
    from sweep.fit.collapse import CollapsePrediction
    from sweep.fit.predict import RunPrediction

    gaps = gap_calibration([(2.0, 2.0), (2.2, 2.1)], 0.95, 0.25, tried=2)
    collapse = CollapsePrediction(2.0, (1.9, 2.1), 0.95, "d32-x", 0.0, 0.9, "min_band", steps_seen=160, steps=640,
                                  calibration=calibration([0.01, 0.05], 0.95, 0.25, tried=2, on=PAIRS), gaps=gaps)
    on = predicted_standing(RunPrediction("r", "running", prediction=collapse), 160, gaps=True)
    assert on.gaps is gaps and on.predicted_from.endswith(f"; the gaps {gaps.describe()}")
    off = predicted_standing(RunPrediction("r", "running", prediction=collapse), 160)
    assert off.gaps is None and "the gaps" not in off.predicted_from
    assert collapse.to_dict()["gaps"]["on"] == "gaps between finished runs of a smaller size"


def test_a_stopped_run_records_its_interval_s_level_beside_it():
    """Was: no level in result.json, so the lr / batch laws read every interval as a 95% one (at
    early_stop.level=0.8 a stopped run's standard error came out 1.5x too small)."""
    stop = MemberDecision(run="d32-x", action=STOP, predicted=3.0, interval=(2.9, 3.1))
    fields = result_fields(stop, 0.8)
    assert (fields["predicted_interval"], fields["predicted_interval_level"]) == ([2.9, 3.1], 0.8)
    assert "predicted_interval_level" not in result_fields(MemberDecision(run="d32-y", action=CONTINUE), 0.8)


def test_a_decisions_file_written_before_rungs_reads_as_the_first_decision(tiny_config):
    cfg = tiny_config(*ON)
    decision = MemberDecision(run="d32-x", action=STOP, predicted=3.0, interval=(2.9, 3.1))
    decisions_file(cfg).parent.mkdir(parents=True)
    decisions_file(cfg).write_text(json.dumps({"group": group_key(cfg), "members": {"d32-x": {
        k: v for k, v in decision.to_dict().items() if k != "rung"}}}))
    assert read_rungs(cfg) == [{"d32-x": decision}] and read_decisions(cfg) == {"d32-x": decision}
