"""sweep/fit/suggest.py: `sweep suggest`'s answer on a table from a known law. Candidates already
run or costing more than the target compute are left out; the proposals are expected to narrow the
intervals (read from the table refitted with them added; the criterion's linear-Gaussian update where
every refit fails); the answer is plain JSON; every user
mistake (too few runs, a target compute out of range, a bad count or budget, no candidate left) is
one ConfigError naming the value, raised before the fit."""

import dataclasses
import json
import math
import re

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit import suggest as suggest_module
from sweep.fit.defaults import fit_defaults
from sweep.fit.design import Candidate
from sweep.fit.expected import LINEAR, REFIT
from sweep.fit.suggest import already_run, suggest
from sweep.fit.table import RunsTable
from tests.known_law_tables import law_table

SIZES = np.geomspace(1e7, 1e8, 4)
RATIOS = (5, 20, 80)
TARGET_COMPUTE = 1e21  # N_opt ~ 3e9: 30x the largest run
ALREADY_RUN = Candidate(float(SIZES[0]), float(SIZES[0]) * 20, label="already run")
TOO_COSTLY = Candidate(3e10, 6e11, label="too costly")  # 1.1e23 FLOPs > the target compute


@pytest.fixture(scope="module")
def table():
    return law_table(SIZES, RATIOS)


def candidates():
    new = [Candidate(float(n), 40 * float(n), label=f"fitted size {n:.3g}") for n in SIZES]
    new += [Candidate(n, 20 * n, label=f"large {n:.3g}") for n in (1e9, 2e9)]
    return [ALREADY_RUN, TOO_COSTLY, *new]


@pytest.fixture(scope="module")
def suggestion(table):
    """Two runs proposed among 6 new candidates (one bootstrap of 20 resamples: ~5-15 s)."""
    return suggest(table, candidates(), target_compute=TARGET_COMPUTE, count=2, resamples=20, seed=0)


@pytest.fixture
def no_fit(monkeypatch):
    """A fit or bootstrap reached fails the test: the error must come before any compute."""
    def refuse(*args, **kwargs):
        raise AssertionError("the fit was reached")

    monkeypatch.setattr(suggest_module, "fit_law", refuse)
    monkeypatch.setattr(suggest_module, "bootstrap", refuse)


def test_a_candidate_a_fraction_of_a_percent_off_a_fitted_run_is_that_run(table):
    # a table's candidates are its sizes and ratios to 3 significant digits: Epoch's 6,795,600,349
    # parameters on 245,256,722 tokens came back as the first proposal, N 6.8e9 at 0.036 tokens/param
    n, tokens = float(SIZES[1]), float(SIZES[1]) * 80
    assert already_run(Candidate(n * 1.004, tokens * 0.997), table)
    assert not already_run(Candidate(n * 1.03, tokens), table)
    assert not already_run(Candidate(n, tokens * 1.03), table)


# --- the answer -------------------------------------------------------------------------------

def test_candidates_already_run_or_costing_more_than_the_target_are_left_out(suggestion):
    assert suggestion.n_candidates == len(candidates()) - 2
    assert suggestion.left_out == {"already run": 1, "cost more than the target compute": 1}  # said, not silent
    labels = [p.candidate.label for p in suggestion.proposals]
    assert len(labels) == 2 and not {"already run", "too costly"} & set(labels)
    assert all(p.candidate.flops <= TARGET_COMPUTE for p in suggestion.proposals)


def test_a_table_without_large_runs_is_proposed_a_large_run_first(suggestion):
    assert suggestion.proposals[0].candidate.label.startswith("large")
    assert suggestion.proposals[0].gain > suggestion.proposals[1].gain > 0


def test_the_large_runs_proposed_are_expected_to_narrow_both_intervals(suggestion):
    (_, lo, hi), (lo_after, hi_after) = suggestion.now["loss"], suggestion.expected["loss"]
    assert lo < hi and 0 < hi_after - lo_after < hi - lo
    (_, lo, hi), (lo_after, hi_after) = suggestion.now["n_opt"], suggestion.expected["n_opt"]
    assert lo < hi and 0 < math.log(hi_after / lo_after) < math.log(hi / lo)  # N_opt's width: a factor
    assert suggestion.expected_from == {"loss": REFIT, "n_opt": REFIT}


def test_where_every_refit_fails_the_expectation_is_the_criterion_s_update(table, monkeypatch):
    from sweep.fit import expected

    def failing(*args, **kwargs):
        raise ConfigError("the refit failed")

    monkeypatch.setattr(expected, "fit_law", failing)
    answer = suggest(table, candidates(), target_compute=TARGET_COMPUTE, count=2, resamples=20, seed=0)
    assert answer.expected_from == {"loss": LINEAR, "n_opt": LINEAR}
    (_, lo, hi), (lo_after, hi_after) = answer.now["loss"], answer.expected["loss"]
    assert 0 < hi_after - lo_after < hi - lo  # the update only removes variance


def test_an_n_opt_at_the_end_of_the_search_is_named_not_given_as_an_estimate(suggestion):
    from sweep.fit import design
    from sweep.fit.suggest import edge_warning

    assert suggestion.n_opt_edge is None  # the known law: an optimum inside 0.05 .. 2e4 tokens per parameter
    compute = 1e20
    end = np.sqrt(compute / (6 * design.RATIOS_O[-1]))  # the audit's sweep: 1.826e7 = sqrt(C / (6 x 0.05)) at 1e14
    assert design.search_edge_share(np.array([end, 2 * end, np.nan]), compute) == pytest.approx(0.5)
    now = {"loss": (2.0, 1.9, 2.1), "n_opt": (end, end, end * 10)}
    draws = np.log(np.array([[2.0, end]] * 3 + [[2.0, end * 10]]))  # end x 10: 200 tokens per parameter
    assert "the fit's N_opt(C) is at an end of the search over tokens per parameter (0.05 .. 20000)" in edge_warning(
        now, draws, ("loss", "n_opt"), compute)
    inside = {"loss": (2.0, 1.9, 2.1), "n_opt": (end * 10, end, end * 20)}
    assert edge_warning(inside, draws, ("loss", "n_opt"), compute).startswith(
        "75% of the bootstrap laws' N_opt(C) are at an end")


def test_a_law_with_no_allocation_and_runs_whose_loss_rises_are_warned_about(suggestion, table):
    from sweep.fit.parametric import fit_law
    from sweep.fit.suggest import fit_warnings

    assert suggestion.warnings == ()
    loss_R = table.loss_R * (table.tokens_R / table.n_params_R) ** 0.15  # rising with tokens at a fixed N
    rising = dataclasses.replace(table, loss_R=loss_R)
    fit = fit_law("chinchilla", rising.n_params_R, rising.tokens_R, rising.loss_R, show_progress=False)
    warnings = fit_warnings(rising, fit, TARGET_COMPUTE)
    assert warnings[0].startswith("loss rising with tokens: at a fixed N, 8 of 8 steps")
    assert "the law has no compute-optimal allocation (beta = " in warnings[1]


def test_the_answer_says_what_was_asked(suggestion):
    assert (suggestion.law, suggestion.target_compute, suggestion.count, suggestion.budget) == \
        ("chinchilla", TARGET_COMPUTE, 2, None)
    assert (suggestion.n_points, suggestion.resamples, suggestion.seed) == (12, 20, 0)
    assert suggestion.targets == ("loss", "n_opt") and suggestion.level == fit_defaults().level
    assert suggestion.flops == pytest.approx(sum(p.candidate.flops for p in suggestion.proposals))


def test_to_dict_is_plain_json(suggestion):
    out = json.loads(json.dumps(suggestion.to_dict(), allow_nan=False))
    assert [p["label"] for p in out["proposals"]] == [p.candidate.label for p in suggestion.proposals]
    assert out["proposals"][0]["tokens_per_param"] == pytest.approx(20)
    assert set(out["now"]) == set(out["expected"]) == {"loss", "n_opt"}
    assert out["now"]["loss"]["interval"] == list(suggestion.now["loss"][1:])
    assert out["expected"]["n_opt"] == {"interval": list(suggestion.expected["n_opt"]), "from": REFIT}


def test_a_budget_bounds_the_proposals_cost(table):
    budget = 3 * min(c.flops for c in candidates()[2:])
    answer = suggest(table, candidates(), target_compute=TARGET_COMPUTE, budget=budget, resamples=20, seed=0)
    assert answer.proposals and answer.flops <= budget
    assert answer.count is None and answer.budget == budget


# --- one clear error for each mistake, before any compute -------------------------------------

def test_too_few_runs_to_fit_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"the 5 runs give 5 points to fit .*: the chinchilla law \(5 parameters\) "
                                          "needs at least 6"):
        suggest(law_table(np.geomspace(1e7, 1e8, 5), (20,)), candidates(), target_compute=1e19, count=1)


def test_a_suggestion_without_seeds_has_no_misfit_test_and_one_with_seeds_says_whether_they_are_exceeded(
        suggestion, table):
    """The intervals assume the law's form: where the points scatter beyond what seeds move a point,
    the suggestion says so (`misfit`; the command prints a warning)."""
    from dataclasses import replace

    assert suggestion.misfit is None and suggestion.to_dict()["misfit_test"] is None
    rng = np.random.default_rng(0)
    bump_R = 1 + 0.02 * np.sin(3 * np.log(table.n_params_R))  # a form the law does not have
    seeds = [replace(table, names=tuple(f"{n}-s{s}" for n in table.names), seed=(str(s),) * len(table),
                     loss_R=table.loss_R * bump_R * np.exp(rng.normal(0, 0.001, len(table)))) for s in (0, 1)]
    both = RunsTable(seeds[0].names + seeds[1].names,
                     *(np.concatenate([getattr(seeds[0], c), getattr(seeds[1], c)])
                       for c in ("n_params_R", "tokens_R", "loss_R", "flops_R")), seed=seeds[0].seed + seeds[1].seed)
    answer = suggest(both, candidates(), target_compute=TARGET_COMPUTE, count=1, resamples=10, seed=0)
    assert answer.n_points == 12 and answer.misfit.dof_seeds == 12 and answer.misfit.p < 0.01
    assert answer.to_dict()["misfit_test"]["p"] == answer.misfit.p


def test_a_learning_rate_grid_counts_as_its_best_run():
    rows = law_table(np.geomspace(1e7, 1e8, 5), (20,), seed=1)
    twice = law_table(np.geomspace(1e7, 1e8, 5), (20,), seed=2)
    both = RunsTable(rows.names + tuple(n + "-lr2" for n in twice.names),
                      *(np.concatenate([getattr(rows, c), getattr(twice, c)])
                        for c in ("n_params_R", "tokens_R", "loss_R", "flops_R")))
    assert len(both) == 10
    with pytest.raises(ConfigError, match=r"the 10 runs give 5 points to fit \(the best run of each model size and "
                                          r"token count\)"):
        suggest(both, candidates(), target_compute=1e19, count=1)


@pytest.mark.parametrize("compute", [1e15, "over", float("nan"), float("inf"), "1e21", True, None])
def test_a_target_compute_out_of_range_is_one_clear_error(table, no_fit, compute):
    if compute == "over":
        compute = 2 * fit_defaults().suggest_max_extrapolation * float(table.flops_R.max())
    with pytest.raises(ConfigError, match=re.escape(f"--target-compute {compute!r}: accepted is a number of FLOPs")):
        suggest(table, candidates(), target_compute=compute, count=1)


def test_the_target_compute_may_be_as_small_as_the_smallest_run(table):
    smallest = float(table.flops_R.min())
    assert suggest_module.check_target_compute(smallest, table) == smallest
    assert suggest_module.check_target_compute(int(1e20), table) == 1e20


@pytest.mark.parametrize("count", [0, -1, 2.5])
def test_a_count_that_is_not_a_whole_number_of_runs_is_one_clear_error(table, no_fit, count):
    with pytest.raises(ConfigError, match=re.escape(f"--count {count!r}: accepted is a whole number >= 1")):
        suggest(table, candidates(), target_compute=TARGET_COMPUTE, count=count)


def test_a_budget_below_the_cheapest_candidate_left_is_one_clear_error(table, no_fit):
    cheapest = min(c.flops for c in candidates()[2:])  # the already-run one is cheaper, and left out
    with pytest.raises(ConfigError, match=re.escape(f"--budget {cheapest / 2:.3g} FLOPs is smaller than the "
                                                    f"cheapest candidate ({cheapest:.3g} FLOPs)")):
        suggest(table, candidates(), target_compute=TARGET_COMPUTE, budget=cheapest / 2)


def test_more_candidates_than_can_be_scored_is_one_clear_error_before_any_fit(table, no_fit, monkeypatch):
    import dataclasses

    monkeypatch.setattr(suggest_module, "fit_defaults",
                        lambda: dataclasses.replace(fit_defaults(), suggest_max_candidates=3))
    with pytest.raises(ConfigError, match=r"\d candidate runs: too many to score at once .* at most 3 "):
        suggest(table, candidates(), target_compute=TARGET_COMPUTE, count=1)


@pytest.mark.parametrize("budget", [0, -1e18, float("nan"), "1e19"])
def test_a_budget_that_is_not_a_positive_number_is_one_clear_error(table, no_fit, budget):
    with pytest.raises(ConfigError, match=re.escape(f"--budget {budget!r}: accepted is a number of FLOPs > 0")):
        suggest(table, candidates(), target_compute=TARGET_COMPUTE, budget=budget)


@pytest.mark.parametrize("cost_exponent", [-0.5, 2.0])
def test_a_cost_exponent_outside_0_to_1_is_one_clear_error_before_any_fit(table, no_fit, cost_exponent):
    message = f"suggest_cost_exponent {cost_exponent!r} (conf/fit.yaml): accepted is a number from 0"
    with pytest.raises(ConfigError, match=re.escape(message)):
        suggest(table, candidates(), target_compute=TARGET_COMPUTE, budget=1e20, cost_exponent=cost_exponent)


def test_no_candidate_left_is_one_clear_error(table, no_fit):
    with pytest.raises(ConfigError, match="no candidate left to propose: of 2"):
        suggest(table, [ALREADY_RUN, TOO_COSTLY], target_compute=TARGET_COMPUTE, count=1)


def test_an_unknown_law_or_target_is_one_clear_error(table, no_fit):
    with pytest.raises(ConfigError, match="--law 'kaplan': accepted are chinchilla"):
        suggest(table, candidates(), target_compute=TARGET_COMPUTE, law="kaplan", count=1)
    with pytest.raises(ConfigError, match="target 'E': accepted are loss, n_opt"):
        suggest(table, candidates(), target_compute=TARGET_COMPUTE, targets=("E",), count=1)
