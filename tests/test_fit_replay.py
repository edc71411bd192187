"""sweep/fit/replay.py: the replay of the active choice against the usual designs on a finished
table from a known law (5 sizes 1e7 .. 1e9 x 3 token budgets, the largest size held out). Every
design starts from the same seed design, the cheapest corner spanning 3 sizes and 2 token budgets;
the held-out runs are never chosen; each round's baselines are taken at the active design's compute
(grid and spread: the prefix of their order nearest it; random: each cell of its order that still
fits); a round's picks cost at most its budget; a seed gives one answer.

Time (this 2-core machine, idle, 2026-12-03): the replay fixture fits and bootstraps (20
resamples) about a dozen sets of cells, about 40 s; the determinism test replays two rounds twice
at 8 resamples; the rest is instant. max_fraction=0.3 on the fixture would save its last rounds
(about a quarter) if the suite needs it."""

import json
import math
import re

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.replay import DESIGNS, ORACLE, STRATEGIES, replay
from sweep.fit.table import RunsTable
from tests.known_law_tables import law_table

SIZES = np.geomspace(1e7, 1e9, 5)
RATIOS = (5, 20, 80)
N_CHINCHILLA_PARAMS = 5


@pytest.fixture(scope="module")
def table():
    return law_table(SIZES, RATIOS)


@pytest.fixture(scope="module")
def cell_of(table):
    """run name -> (N, tokens, FLOPs) (one run per cell here)."""
    return {name: (n, t, c) for name, n, t, c in zip(table.names, table.n_params_R, table.tokens_R, table.flops_R)}


@pytest.fixture(scope="module")
def replayed(table):
    return replay(table, resamples=20, growth=1.0, holdout=1, seed=0)


def test_the_held_out_runs_are_the_largest_size_and_never_picked(replayed, cell_of):
    assert sorted(cell_of[name][0] for name in replayed.heldout) == [SIZES[-1]] * 3
    picked = {name for r in replayed.rounds for name in r.picked}
    ordered = {name for order in replayed.orders.values() for name in order}
    assert not set(replayed.heldout) & (picked | ordered)
    assert replayed.full.n_cells == 12 and replayed.full.fraction == 1.0


def test_the_seed_design_is_the_cheapest_corner_over_3_sizes_and_2_token_budgets(replayed, cell_of):
    seed = replayed.seed_design
    assert len(seed) >= N_CHINCHILLA_PARAMS + 2
    assert len({cell_of[name][0] for name in seed}) >= 3
    assert len({cell_of[name][1] for name in seed}) >= 2
    rest = set(cell_of) - set(seed) - set(replayed.heldout)
    assert max(cell_of[name][2] for name in seed) <= min(cell_of[name][2] for name in rest)


def test_every_design_starts_from_the_same_seed_design(replayed):
    seed = replayed.seed_design
    assert set(replayed.orders) == set(STRATEGIES)
    for strategy, order in replayed.orders.items():
        assert order[:len(seed)] == seed, strategy
    first = replayed.rounds[0]
    assert first.picked == seed and first.gain == 0.0
    assert {e.n_cells for e in first.evaluations.values()} == {len(seed)}
    assert len({e.compute for e in first.evaluations.values()}) == 1


def test_each_round_takes_grid_and_spread_at_the_prefix_nearest_the_active_designs_compute(replayed, cell_of):
    for r in replayed.rounds:
        active = r.evaluations["active"].compute
        for strategy in ("grid", "spread"):
            total_P = np.cumsum([0.0] + [cell_of[name][2] for name in replayed.orders[strategy]])
            e = r.evaluations[strategy]
            assert e.compute == pytest.approx(total_P[e.n_cells]), (r.round, strategy)
            assert abs(e.compute - active) == pytest.approx(np.min(np.abs(total_P - active))), (r.round, strategy)


def test_each_round_takes_random_as_the_cells_of_its_order_that_still_fit_the_active_designs_compute(
        replayed, cell_of):
    for r in replayed.rounds:
        active = r.evaluations["active"].compute
        taken, left = 0, active
        for name in replayed.orders["random"]:  # walked independently of replay.fitting_walk
            if cell_of[name][2] <= left * (1 + 1e-9):
                taken, left = taken + 1, left - cell_of[name][2]
        e = r.evaluations["random"]
        assert e.n_cells == taken and e.compute <= active * (1 + 1e-9), r.round
        assert e.compute == pytest.approx(active - left), r.round


def test_the_active_design_grows_by_at_most_its_budget_each_round(replayed, cell_of):
    chosen = list(replayed.seed_design)
    for r in replayed.rounds[1:]:
        spent = sum(cell_of[name][2] for name in chosen)
        left = set(cell_of) - set(chosen) - set(replayed.heldout)
        budget = max(replayed.growth * spent, min(cell_of[name][2] for name in left))
        assert r.picked and not set(r.picked) & set(chosen)
        assert sum(cell_of[name][2] for name in r.picked) <= budget * (1 + 1e-12)
        chosen += r.picked
        assert r.evaluations["active"].n_cells == len(chosen)
    assert tuple(chosen) == replayed.orders["active"]
    assert len(chosen) == 12  # the whole pool, in the end


def test_each_round_s_oracle_holds_the_seed_design_within_the_active_compute_and_expects_least(replayed, cell_of):
    """The oracle (the design the whole pool's fit expects to err least at the round's compute) is
    searched from the round's other designs too: none that fits its compute expects less."""
    for r in replayed.rounds:
        oracle, active = r.evaluations[ORACLE], r.evaluations["active"]
        assert oracle.compute <= active.compute * (1 + 1e-9)
        assert oracle.n_cells >= len(replayed.seed_design)
        for s in STRATEGIES:
            e = r.evaluations[s]
            if e.compute <= active.compute * (1 + 1e-9):
                assert oracle.expected_vs_full <= e.expected_vs_full * (1 + 1e-9), (r.round, s)
    assert replayed.full.expected_vs_full == pytest.approx(1.0)
    assert replayed.rounds[0].evaluations["active"].expected_vs_full > 1.0


def test_the_replay_says_from_which_share_even_the_oracle_expects_the_whole_pool_s_error(replayed):
    assert 0 < replayed.oracle_within <= 1.0
    last_above = max((r.evaluations[ORACLE].fraction for r in replayed.rounds
                      if r.evaluations[ORACLE].expected_vs_full > 1.1), default=0.0)
    assert replayed.oracle_within > last_above - 0.05  # searched in steps of 5%: no round's oracle within 10% before


def test_to_dict_is_json_and_says_when_each_design_reached_the_full_error(replayed):
    out = json.loads(json.dumps(replayed.to_dict()))
    assert set(out["reached_full_error_at"]) == set(DESIGNS)
    assert out["oracle_within"] == replayed.oracle_within
    reached = replayed.reached("active")
    assert reached is None or reached in [r.evaluations["active"].fraction for r in replayed.rounds]


def test_each_round_of_the_criterion_s_picks_says_how_far_it_expected_the_intervals_to_narrow(replayed):
    assert replayed.rounds[0].expected_width_ratio == {}  # the seed design is not the criterion's
    chosen = [r for r in replayed.rounds[1:] if r.expected_width_ratio]
    assert chosen, "no round of the criterion's picks"
    for r in chosen:
        assert set(r.expected_width_ratio) == {"loss", "n_opt"}
        assert all(0 < v < math.inf for v in r.expected_width_ratio.values())
    assert any(v < 1 for r in chosen for v in r.expected_width_ratio.values())


def test_the_expected_narrowing_is_set_against_the_realised_one_round_by_round(replayed):
    from sweep.fit.replay import realised_width_ratio

    by_target = {n.target: n for n in replayed.narrowing()}
    assert set(by_target) == {"loss", "n_opt"}
    pairs = [(r.expected_width_ratio["loss"],
              realised_width_ratio("loss", before.evaluations["active"], r.evaluations["active"]))
             for before, r in zip(replayed.rounds, replayed.rounds[1:]) if r.expected_width_ratio]
    pairs = [(e, a) for e, a in pairs if np.isfinite(e) and np.isfinite(a)]
    loss = by_target["loss"]
    assert loss.rounds == len(pairs)
    assert loss.expected == pytest.approx(np.median([e for e, _ in pairs]))
    assert loss.realised == pytest.approx(np.median([a for _, a in pairs]))
    assert loss.at_most_expected == pytest.approx(np.mean([a <= e for e, a in pairs]))
    assert json.loads(json.dumps(replayed.to_dict()))["narrowing"][0]["rounds"] > 0


def test_the_realised_width_ratio_of_n_opt_is_of_its_log_interval():
    from sweep.fit.replay import Evaluation, realised_width_ratio

    before = Evaluation("active", 9, 1.0, 0.1, 0.01, 0.20, 100.0)  # L* +-10%; N_opt's hi / lo a factor 100
    after = Evaluation("active", 10, 2.0, 0.2, 0.01, 0.10, 10.0)
    assert realised_width_ratio("loss", before, after) == pytest.approx(0.5)
    assert realised_width_ratio("n_opt", before, after) == pytest.approx(0.5)  # ln 10 / ln 100
    unread = Evaluation("active", 10, 2.0, 0.2, float("nan"), float("nan"), float("nan"))  # a fit that failed
    assert np.isnan(realised_width_ratio("loss", before, unread))
    assert np.isnan(realised_width_ratio("n_opt", unread, after))


def test_a_noise_free_table_is_said_to_be_one_no_design_can_be_told_apart_on(replayed):
    assert not replayed.exact and replayed.to_dict()["exact"] is False
    exact = replay(law_table(SIZES, RATIOS, noise=0.0), resamples=5, growth=1.0, holdout=1, seed=0)
    assert exact.exact and exact.full.heldout_error < 1e-6


@pytest.mark.slow  # about 40 s: 16 rounds of 5 designs' fits
def test_a_round_where_the_criterion_sees_nothing_to_gain_takes_the_cheapest_runs_its_budget_holds():
    exact = replay(law_table(np.geomspace(1e7, 1e9, 9), (5, 10, 20, 40, 80), noise=0.0), resamples=5, growth=1.0,
                   holdout=1, seed=0)
    # a bootstrap of identical laws: was one run a round, 33 rounds for these 40 runs, 58 for CS336's noise-free 72
    assert len(exact.rounds) <= 16 and max(len(r.picked) for r in exact.rounds[1:]) > 1


def test_the_cheapest_runs_within_a_budget_and_at_least_one():
    from sweep.fit.replay import cheapest_within

    cost_G = np.array([5.0, 1.0, 2.0, 4.0])
    assert cheapest_within([0, 1, 2, 3], cost_G, 3.5) == [1, 2]
    assert cheapest_within([0, 3], cost_G, 1.0) == [3]  # over the budget: the cheapest alone


def test_a_seed_gives_one_replay(table):
    """Two rounds (the seed design and one choice), replayed twice."""
    one = replay(table, resamples=8, growth=1.0, seed=3, max_fraction=0.02)  # any count: one seed, one replay
    two = replay(table, resamples=8, growth=1.0, seed=3, max_fraction=0.02)
    assert len(one.rounds) == 2
    assert json.dumps(one.to_dict()) == json.dumps(two.to_dict())


def test_the_progress_reads_100_percent_only_at_the_last_round(table, monkeypatch, caplog):
    """The rounds are estimated ahead; past the estimate it read 6/6, 7/7, 8/8 rounds (100%)."""
    import logging

    import sweep.fit.replay

    monkeypatch.setattr(sweep.fit.replay, "PROGRESS_DELAY_S", 0.0)
    monkeypatch.setattr(sweep.fit.replay, "expected_rounds", lambda *a: 1)  # an estimate that falls short
    with caplog.at_level(logging.INFO):
        done = replay(table, resamples=8, growth=1.0, seed=3, max_fraction=0.1)
    lines = [r.getMessage() for r in caplog.records if "rounds (" in r.getMessage()]
    assert len(done.rounds) >= 3 and lines
    assert [line for line in lines if "(100%)" in line] == lines[-1:]
    assert lines[-1].startswith(f"sweep suggest --replay: {len(done.rounds)}/{len(done.rounds)} rounds (100%)")


@pytest.mark.parametrize("holdout", [0, 3, -1, 1.5, "1"])
def test_a_holdout_out_of_range_is_one_clear_error(table, holdout):
    with pytest.raises(ConfigError, match=re.escape(f"--holdout {holdout!r}: the table has 5 sizes; accepted is 1 .. 2")):
        replay(table, holdout=holdout, resamples=20)


@pytest.mark.parametrize("kwargs, message", [
    ({"count": 0}, "--count 0: accepted is a whole number >= 1"),
    ({"growth": 0.0}, "--growth 0.0: accepted is a number > 0"),
    ({"growth": "2"}, "--growth '2': accepted is a number > 0"),
    ({"law": "kaplan"}, "--law 'kaplan': accepted are chinchilla"),
    ({"max_fraction": 1.5}, "max_fraction=1.5: accepted is a fraction in"),
    ({"cost_exponent": 1.5}, "suggest_cost_exponent 1.5 (conf/fit.yaml): accepted is a number from 0"),
    ({"resamples": 1}, "n_resamples=1: accepted is a whole number >= 2"),  # not every fit failing, silently
])
def test_other_bad_arguments_are_one_clear_error_each(table, kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        replay(table, **{"resamples": 20, **kwargs})


def test_a_table_too_small_for_a_seed_design_is_one_clear_error():
    small = law_table(np.geomspace(1e7, 1e8, 4), (20,))  # 3 sizes in the pool, but one token budget
    with pytest.raises(ConfigError, match="do not hold a seed design"):
        replay(small, resamples=20)


def test_a_table_of_three_sizes_is_one_error_naming_them():  # the README demo's 3 x 3 grid
    demo_like = law_table(np.geomspace(1e7, 1e8, 3), (5, 10, 20))
    with pytest.raises(ConfigError, match="the table has 3 model sizes: a replay needs at least 4"):
        replay(demo_like, resamples=20)


def test_a_table_of_two_recipes_is_replayed_one_recipe_at_a_time():
    """One law over two recipes describes neither: the replay asks which, and replays only its runs
    (recipe 'a' has 3 sizes here, so its replay is the 3-size error, before any fit)."""
    wide, narrow = law_table(np.geomspace(1e7, 1e8, 5), (5, 20)), law_table(np.geomspace(1e7, 1e8, 3), (5, 20))
    both = RunsTable(wide.names + narrow.names, *(np.concatenate([getattr(wide, f), getattr(narrow, f)])
                                                  for f in ("n_params_R", "tokens_R", "loss_R", "flops_R")),
                     recipe=("b",) * len(wide) + ("a",) * len(narrow))
    with pytest.raises(ConfigError, match=r"the runs belong to 2 recipes \(column 'recipe': a, b\): a replay fits "
                                          r"one recipe's runs; give --recipe NAME"):
        replay(both, resamples=20)
    with pytest.raises(ConfigError, match="the table has 3 model sizes: a replay needs at least 4"):
        replay(both, resamples=20, recipe="a")
    with pytest.raises(ConfigError, match="--recipe 'c': the runs' recipes are 'a', 'b'"):
        replay(both, resamples=20, recipe="c")
