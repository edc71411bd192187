"""sweep/fit/hyperparams.py: optimal learning rate and batch size per budget and per (N, tokens)
cell from losses drawn as known quadratics in log lr / log batch, their power laws of compute,
Step Law's forms in N and D, Kaplan's batch-vs-loss law, the near-optimal band, flagged and
skipped budgets, cells that cannot support Step Law."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.hyperparams import find_optima, fit_hyperparameter_law, fit_step_law, group_cells, point_stderrs
from sweep.fit.laws import fit_law
from sweep.fit.table import RunsTable

BUDGETS = np.logspace(17, 21, 5)
LR_C, LR_E = 0.3118, -0.125  # DeepSeek LLM's eta_opt = 0.3118 C^-0.125
B_C, B_E = 0.292, 0.3271  # and B_opt = 0.292 C^0.3271
B_STAR, ALPHA_B = 2e8, 0.21  # Kaplan's B_crit = B* / loss^(1/alpha_B)


def table_of(flops_R, loss_R, lr_R=None, batch_R=None):
    flops_R = np.asarray(flops_R, dtype=float)
    n_R = np.sqrt(flops_R / 120)  # 20 tokens per parameter: one N per budget
    return RunsTable(tuple(f"run{i}" for i in range(len(flops_R))), n_R, 20 * n_R, np.asarray(loss_R, dtype=float),
                     flops_R, lr_R=None if lr_R is None else np.asarray(lr_R, dtype=float),
                     batch_size_R=None if batch_R is None else np.asarray(batch_R, dtype=float))


def swept(opt_of_c, base_of_c, noise=0.0, seed=0):
    """Per budget 7 values a factor 2 apart, the grid off-centre from the optimum by 2^0.3;
    loss = base(C) + 0.05 ln(value / opt(C))^2 (+ noise)."""
    rng = np.random.default_rng(seed)
    flops, values, losses = [], [], []
    for c in BUDGETS:
        for k in range(-3, 4):
            value = opt_of_c(c) * 2.0 ** (k + 0.3)
            flops.append(c)
            values.append(value)
            losses.append(base_of_c(c) + 0.05 * np.log(value / opt_of_c(c)) ** 2 + noise * rng.standard_normal())
    return flops, losses, values


def test_recovers_the_learning_rate_law():
    flops, losses, lrs = swept(lambda c: LR_C * c**LR_E, lambda c: 2.0 + 1e3 * c**-0.15, noise=1e-4)
    law = fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "lr")
    assert len(law.used) == 5 and all(g.status == "vertex" for g in law.groups)
    assert law.law.exponent == pytest.approx(LR_E, abs=0.01)
    assert law.law.coefficient == pytest.approx(LR_C, rel=0.03)
    assert law.loss_law is None
    json.dumps(law.to_dict())


def test_recovers_the_batch_size_laws():
    b_opt = lambda c: B_C * c**B_E  # noqa: E731
    flops, losses, batches = swept(b_opt, lambda c: (B_STAR / b_opt(c)) ** ALPHA_B)
    law = fit_hyperparameter_law(table_of(flops, losses, batch_R=batches), "batch_size")
    assert law.law.exponent == pytest.approx(B_E, abs=1e-6)
    assert law.law.coefficient == pytest.approx(B_C, rel=1e-4)
    assert law.alpha_B == pytest.approx(ALPHA_B, rel=1e-4)
    assert law.B_star == pytest.approx(B_STAR, rel=1e-3)
    assert law.to_dict()["loss_law"]["alpha_B"] == pytest.approx(ALPHA_B, rel=1e-4)


def test_groups_by_model_size():
    """C = 120 N^2 in table_of, so lr_opt = c C^e = c 120^e N^(2e)."""
    flops, losses, lrs = swept(lambda c: LR_C * c**LR_E, lambda c: 2.0)
    law = fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "lr", by="n_params")
    assert law.law.exponent == pytest.approx(2 * LR_E, abs=1e-6)
    assert law.law.coefficient == pytest.approx(LR_C * 120**LR_E, rel=1e-4)


def test_near_optimal_band_membership():
    """One budget: best 2.0, so the 0.25% band holds the losses <= 2.005."""
    loss = [2.0, 2.0049, 2.0051, 2.003, 2.3, 2.004]
    lr = [1e-3, 2e-3, 4e-3, 5e-4, 8e-3, 1e-3]
    batch = [64, 64, 64, 128, 64, 256]
    flops = [1e18] * 6 + [1e19] * 3
    table = table_of(flops, loss + [3.0, 2.9, 3.1], lr_R=lr + [1e-3, 2e-3, 4e-3], batch_R=batch + [64] * 3)
    law = fit_hyperparameter_law(table, "lr", include_flagged=True)
    band = law.groups[0].band
    assert band.runs == ("run0", "run1", "run3", "run5")
    assert band.lr_range == (5e-4, 2e-3) and band.batch_size_range == (64, 256)
    assert law.groups[1].band.runs == ("run7",)
    wider = fit_hyperparameter_law(table, "lr", include_flagged=True, band=0.01)
    assert wider.groups[0].band.runs == ("run0", "run1", "run2", "run3", "run5")


def test_flagged_and_skipped_budgets_are_reported():
    flops = [1e18] * 4 + [1e19] * 4 + [1e20] * 2 + [1e21] * 3 + [1e22] * 3
    lr = [1e-3, 2e-3, 4e-3, 8e-3] * 2 + [1e-3, 2e-3] + [1e-3, 2e-3, 4e-3] * 2
    loss = ([3.0, 2.9, 2.85, 2.83]  # best at the edge, vertex beyond it: clipped
            + [3.0, 2.9, 2.95, 2.8]  # opens downward around the best: no curvature
            + [3.0, 2.9]  # two values: skipped
            + [3.0, 2.9, 3.0] + [2.9, 2.8, 2.9])  # vertex
    law = fit_hyperparameter_law(table_of(flops, loss, lr_R=lr), "lr")
    status = [g.status for g in law.groups]
    assert status == ["clipped", "no_curvature", "skipped", "vertex", "vertex"]
    clipped = law.groups[0]
    assert clipped.opt_value == pytest.approx(8e-3) and "outside the sampled" in clipped.note
    assert law.groups[1].opt_value == 8e-3 and law.groups[2].opt_value is None
    assert len(law.used) == 2 and law.law.exponent == pytest.approx(0.0, abs=1e-9)
    assert len(fit_hyperparameter_law(table_of(flops, loss, lr_R=lr), "lr", include_flagged=True).used) == 4


def test_a_best_value_at_the_grid_s_end_is_not_a_vertex_wherever_the_parabola_turns():
    """Was "vertex" at 0.057 in the report's section 5 while the Findings called the same cell EDGE (best
    lr at the grid's end): the parabola's curvature comes from the far side, nothing sampled turns up."""
    lr = [0.0125, 0.025, 0.05, 0.1, 0.2]
    loss = [3.30, 3.10, 3.02, 3.00, 2.995]  # falling ever more slowly: the vertex lands inside, the best is 0.2
    u_curve = dict(flops=[1e19] * 3, lr=[1e-3, 2e-3, 4e-3], loss=[2.9, 2.8, 2.9])  # a second budget, a vertex
    for values, end in ((loss, "highest"), (loss[::-1], "lowest")):
        table = table_of([1e18] * 5 + u_curve["flops"], values + u_curve["loss"], lr_R=lr + u_curve["lr"])
        group, other = fit_hyperparameter_law(table, "lr", include_flagged=True).groups
        best = 0.2 if end == "highest" else 0.0125
        assert group.status == "clipped" and group.opt_value == best and group.opt_loss == 2.995
        assert f"{best:g} is the grid's {end}: the optimum is not bracketed (the parabola's vertex" in group.note
        assert other.status == "vertex"
    with pytest.raises(ConfigError, match=r"^an lr law needs at least 2 flops groups .* 1 of 2 qualify"):
        fit_hyperparameter_law(table, "lr")


def test_a_best_inside_the_grid_with_an_end_within_noise_is_not_a_vertex():
    """Was "vertex" in section 5 where the Findings said EDGE: a grid end within the noise rule
    (sweep/fit/noise.py, 2 combined standard errors; here the fallback 0.2% of the loss) of the best
    does not bracket the optimum, however the parabola turns; the best sampled value stands."""
    lr = [1e-3, 1.5e-3, 2e-3]  # 2x: too narrow to be FLAT
    u_curve = dict(flops=[1e19] * 3, lr=[1e-3, 2e-3, 4e-3], loss=[2.9, 2.8, 2.9])  # a second budget, a vertex
    table = table_of([1e18] * 3 + u_curve["flops"], [3.005, 3.0, 3.01] + u_curve["loss"], lr_R=lr + u_curve["lr"])
    group, other = find_optima(table, "lr").groups
    assert group.status == "clipped" and group.opt_value == 1.5e-3 and group.opt_loss == 3.0
    assert group.note.startswith("the grid's lowest 0.001 (loss 3.005) and highest 0.002 (loss 3.01) are within noise "
                                 "of the best 3 at 0.0015 (Z = 2 combined standard errors, each assumed 0.2% of the "
                                 "run's loss: none in the table): the optimum is not bracketed below and above; the "
                                 "parabola's vertex 0.001341, level with the best loss, is not taken")
    assert other.status == "vertex"
    steep = table_of([1e18] * 3, [3.1, 3.0, 3.1], lr_R=lr)  # both ends 0.1 above: bracketed
    assert find_optima(steep, "lr").groups[0].status == "vertex"


def test_a_note_within_noise_says_the_standard_errors_were_measured_or_assumed():
    """The note said "(Z = 2 combined standard errors)" alone where the table had none and every run counted
    with an assumed 0.2% of its loss: whether an end is "within noise" then rests on that assumption."""
    lr = [1e-3, 1.5e-3, 2e-3]
    measured = replace(table_of([1e18] * 3, [3.005, 3.0, 3.01], lr_R=lr), loss_stderr_R=np.full(3, 0.004))
    note = find_optima(measured, "lr").groups[0].note
    assert "(Z = 2 combined standard errors): the optimum is not bracketed below and above" in note
    assumed = find_optima(table_of([1e18] * 3, [3.005, 3.0, 3.01], lr_R=lr), "lr").groups[0].note
    assert "(Z = 2 combined standard errors, each assumed 0.2% of the run's loss: none in the table)" in assumed


def test_a_vertex_level_with_or_above_the_best_reads_level_not_minus_zero_percent():
    """Was "the parabola's vertex 0.004921, -0.0% below the best loss" (misfit.csv, 62M at 4.2B tokens)."""
    lr = [1e-3, 2e-3, 4e-3, 8e-3]
    note = find_optima(table_of([1e18] * 4, [3.7498, 3.6445, 3.5906, 3.6064], lr_R=lr), "lr").groups[0].note
    assert "the parabola's vertex 0.004923, level with the best loss, is not taken" in note


def test_losses_tied_at_the_best_are_named_not_broken_by_the_grid_s_order():
    """misfit.csv's 62M cell at 0.21B tokens: lr 0.002 and 0.004 both 5.5648 (copied rows). np.argmin took
    the first, so the note read "the best sampled value 0.002 is the grid's lowest" (extend below) as if 0.002
    alone were best; the tie is now named, and the grid's lowest, level with the best, leaves it open below."""
    lr = [2e-3, 4e-3, 8e-3]
    group = find_optima(table_of([1e18] * 3, [5.5648123, 5.5648123, 5.6260123], lr_R=lr), "lr").groups[0]
    assert group.status == "clipped" and "is the grid's lowest" not in group.note
    assert group.note.startswith("the grid's lowest 0.002 (loss 5.565) is within noise of the best 5.565, shared by "
                                 "0.002 and 0.004 (copies of one loss, see the copied losses; the grid cannot tell "
                                 "them apart)")
    assert "the optimum is not bracketed below;" in group.note
    tie = find_optima(table_of([1e18] * 3, [5.5648, 5.5648, 5.6260], lr_R=lr), "lr").groups[0].note
    assert "shared by 0.002 and 0.004 (a tie to the last digit;" in tie  # 4 decimals: not called copies


def test_a_flat_cell_reads_flat_as_the_findings_read_it():
    """misfit.csv's 62M cell at 1.57B tokens: section 5 said "the grid's lowest, not bracketed" while the
    Findings called the same cell FLAT (every lr within noise of the best over 4x); one rule, one reading."""
    lr = [2e-3, 4e-3, 8e-3]
    group = find_optima(table_of([1e18] * 3, [3.8366, 3.8366, 3.8441], lr_R=lr), "lr").groups[0]
    assert group.status == "clipped" and group.note.startswith(
        "every value from 0.002 to 0.008 (4x) is within noise of the best 3.837, shared by 0.002 and 0.004")
    assert group.note.endswith("the loss does not depend on it there (FLAT), the optimum is not bracketed")


def test_a_vertex_below_every_measured_loss_by_more_than_noise_says_so():
    """misfit.csv's 1.18B cell: an exact 3-point parabola dragged by a +10.6% point put the vertex loss 2.673
    0.45% below every run, and nothing said so."""
    table = table_of([1e18] * 3, [2.7044, 2.6851, 2.9692], lr_R=[4e-4, 1e-3, 4e-3])
    group = find_optima(table, "lr").groups[0]
    assert group.status == "vertex" and group.note.startswith(
        "the parabola's vertex loss 2.673 is 0.4% below every measured loss, more than the noise (Z = 2 combined")
    assert find_optima(table_of([1e18] * 3, [2.9, 2.8, 2.9], lr_R=[1e-3, 2e-3, 4e-3]), "lr").groups[0].note is None


def test_bad_input_is_an_error():
    flops, losses, lrs = swept(lambda c: LR_C * c**LR_E, lambda c: 2.0)
    with pytest.raises(ConfigError, match="needs at least 2 flops groups.*0 of 5 qualify.*skipped"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=[1e-3] * len(flops)), "lr")  # one lr only
    with pytest.raises(ConfigError, match=r"has no 'batch_size' values \(a runs file's column batch_size, bs, .*; "
                                          r"under another name: --column batch_size=COLUMN\)"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "batch_size")
    with pytest.raises(ConfigError, match="param 'wd'"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "wd")
    bad = np.array(lrs)
    bad[4] = -1.0
    with pytest.raises(ConfigError, match="run 'run4': lr = -1.0"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=bad), "lr")
    losses[2] = float("nan")
    with pytest.raises(ConfigError, match="run 'run2': loss = nan"):
        fit_hyperparameter_law(table_of(flops, losses, lr_R=lrs), "lr")


# --- per (N, tokens) cell and Step Law's forms in N and D (Li et al. 2025) -------------------------

STEP_LR = (1.79, -0.713, 0.307)  # Step Law's lr_opt = 1.79 N^-0.713 D^0.307
STEP_B = (0.58, 0.571)  # and B_opt = 0.58 D^0.571
SIZES = np.geomspace(1e7, 1e9, 3)
RATIOS = (5.0, 20.0, 80.0)  # tokens per parameter: the cells lie on three lines, not one


def step_lr(n, d):
    return STEP_LR[0] * n ** STEP_LR[1] * d ** STEP_LR[2]


def step_batch(n, d):
    return STEP_B[0] * d ** STEP_B[1]


def base_loss(n, d):
    return 1.7 + 400 * n**-0.34 + 410 * d**-0.28


def cell_table(cells, opt, param="lr", noise=1e-4, seed=0, grid=range(-3, 4)):
    """Per (N, D) cell 7 values of `param` a factor 2 apart, off-centre from opt(N, D) by 2^0.3;
    loss = base(N, D) + 0.05 ln(value / opt)^2 (+ noise): each cell's U-curve has its known optimum."""
    rng = np.random.default_rng(seed)
    n_R, d_R, values, losses = [], [], [], []
    for n, d in cells:
        for k in grid:
            value = opt(n, d) * 2.0 ** (k + 0.3)
            n_R.append(n)
            d_R.append(d)
            values.append(value)
            losses.append(base_loss(n, d) + 0.05 * np.log(value / opt(n, d)) ** 2 + noise * rng.standard_normal())
    n_R, d_R = np.array(n_R), np.array(d_R)
    columns = {"lr_R" if param == "lr" else "batch_size_R": np.array(values)}
    return RunsTable(tuple(f"run{i}" for i in range(len(n_R))), n_R, d_R, np.array(losses), 6 * n_R * d_R,
                     **columns)


GRID_CELLS = [(n, r * n) for n in SIZES for r in RATIOS]


def test_step_law_recovers_the_learning_rate_in_n_and_d():
    law = fit_hyperparameter_law(cell_table(GRID_CELLS, step_lr), "lr", by="cell")
    assert law.by == "cell" and len(law.groups) == 9 and all(g.status == "vertex" for g in law.groups)
    assert np.allclose([(g.n_params, g.tokens) for g in law.groups], GRID_CELLS, rtol=1e-9)
    step = law.step_law
    assert step.exponent("n_params") == pytest.approx(STEP_LR[1], abs=0.01)
    assert step.exponent("tokens") == pytest.approx(STEP_LR[2], abs=0.01)
    assert step.coefficient == pytest.approx(STEP_LR[0], rel=0.15)
    assert 0 < step.exponent_stderrs[0] < 0.01 and step.n_points == 9
    out = law.to_dict()
    assert out["step_law"]["form"] == "lr_opt = c N^a D^b"
    assert out["step_law"]["a"] == pytest.approx(STEP_LR[1], abs=0.01)
    assert out["step_law_skipped"] is None and "exponent" in out  # DeepSeek's form in C beside it
    json.dumps(out)


def test_step_law_recovers_the_batch_size_in_d():
    law = fit_hyperparameter_law(cell_table(GRID_CELLS, step_batch, "batch_size", noise=0.0), "batch_size",
                                 by="cell")
    assert law.step_law.variables == ("tokens",)
    assert law.step_law.exponent("tokens") == pytest.approx(STEP_B[1], abs=1e-6)
    assert law.step_law.coefficient == pytest.approx(STEP_B[0], rel=1e-5)
    assert law.to_dict()["step_law"]["form"] == "B_opt = c D^b" and "a" not in law.to_dict()["step_law"]


def test_two_cells_at_one_budget_are_not_merged():
    """Same C = 6 N D, different optima (1e-3, 8e-3 on one lr grid) and base losses (2.00, 2.02):
    merged, each lr's lowest loss would come from either cell and the parabola from neither."""
    n1, n2, c = 1e8, 4e8, 1.2e19
    cells = [(n1, c / (6 * n1)), (n2, c / (6 * n2))]
    opt = {cells[0]: 1e-3, cells[1]: 8e-3}
    base = {cells[0]: 2.0, cells[1]: 2.02}
    lrs = 1e-3 * 2.0 ** np.arange(-2, 5)  # shared grid: 2.5e-4 .. 1.6e-2
    rows = [(n, d, lr, base[(n, d)] + 0.05 * np.log(lr / opt[(n, d)]) ** 2) for n, d in cells for lr in lrs]
    n_R, d_R, lr_R, loss_R = (np.array(col) for col in zip(*rows))
    table = RunsTable(tuple(f"run{i}" for i in range(len(rows))), n_R, d_R, loss_R, 6 * n_R * d_R, lr_R=lr_R)
    (budget,) = find_optima(table, "lr").groups  # one budget: no law of C, but its optimum
    assert budget.n_cells == 2 and budget.status == "vertex"
    assert budget.opt_value == pytest.approx(1e-3, rel=1e-9)  # the lower-loss cell's own optimum
    assert budget.n_params == pytest.approx(n1) and (budget.n_runs, budget.n_values) == (14, 7)
    assert "2 (N, tokens) cells" in budget.note
    by_cell = find_optima(table, "lr", by="cell")
    assert [g.opt_value for g in by_cell.groups] == pytest.approx([1e-3, 8e-3], rel=1e-9)


def test_a_batch_grid_whose_tokens_round_to_whole_steps_is_one_cell():
    n_R = np.array([1e8] * 4 + [1.05e8])
    tokens_R = np.array([2.000e9, 2.004e9, 2.016e9, 2.05e9, 2.0e9])  # rounded up to whole batches
    n_G, tokens_G, cell_R = group_cells(n_R, tokens_R)
    assert len(n_G) == 1 and (cell_R == 0).all()
    n_G, tokens_G, cell_R = group_cells(n_R, np.array([2e9, 2e9, 4e9, 4e9, 2e9]))
    assert cell_R.tolist() == [0, 0, 1, 1, 0] and tokens_G == pytest.approx([2e9, 4e9])


def test_a_fixed_tokens_per_parameter_sweep_has_no_step_law():
    """D = 20 N: every cell on one line in (ln N, ln D); by flops the law in C stands and says
    why Step Law is missing; by cell it is an error naming what to add."""
    table = cell_table([(n, 20 * n) for n in np.geomspace(1e7, 1e9, 5)], step_lr)
    law = fit_hyperparameter_law(table, "lr")
    assert law.step_law is None and "one line" in law.step_law_skipped
    assert law.to_dict()["step_law"] is None
    with pytest.raises(ConfigError, match=r"--law lr --by cell: Step Law's lr_opt = c N\^a D\^b needs cells spread "
                                          r"in both N and D.*a second tokens per parameter"):
        fit_law("lr", table, by="cell")


def test_step_law_needs_three_cells_with_an_optimum():
    cells = [GRID_CELLS[i] for i in (0, 5, 7)]  # off one line in (ln N, ln D)
    two = cell_table(cells[:2], step_lr)
    with pytest.raises(ConfigError, match=r"at least 3 \(N, tokens\) cells.*2 of 2 cells qualify"):
        fit_law("lr", two, by="cell")
    full = cell_table(cells, step_lr)
    assert fit_law("lr", full, by="cell")["step_law"]["n_points"] == 3
    keep_R = np.ones(len(full), dtype=bool)
    keep_R[-5:] = False  # the third cell keeps two lr values: skipped, so 2 of 3 cells qualify
    law = fit_hyperparameter_law(full.select(keep_R), "lr", by="cell")
    assert [g.status for g in law.cells] == ["vertex", "vertex", "skipped"] and law.step_law is None
    assert "2 of 3 cells qualify" in law.step_law_skipped
    with pytest.raises(ConfigError, match="at several token budgets"):
        fit_step_law("batch_size", [law.cells_used[0]] * 3)
    with pytest.raises(ConfigError, match="budgets .* by='cell'"):
        fit_hyperparameter_law(two, "lr", by="cell", budgets=[1e18])
    with pytest.raises(ConfigError, match="by 'tokens': runs are grouped by flops, n_params or cell"):
        fit_hyperparameter_law(two, "lr", by="tokens")


def test_by_size_takes_the_longest_trained_cell_of_each_size():
    """Per size 3 token budgets (5, 20, 80 N), each its own lr grid: the size's optimum is that of
    its lowest-loss cell, D = 80 N, so lr_opt = 1.79 80^0.307 N^(0.307 - 0.713) across sizes."""
    law = fit_hyperparameter_law(cell_table(GRID_CELLS, step_lr), "lr", by="n_params")
    assert [g.n_cells for g in law.groups] == [3, 3, 3]
    assert [g.tokens / g.n_params for g in law.groups] == pytest.approx([80, 80, 80])
    assert [g.opt_value for g in law.groups] == pytest.approx([step_lr(n, 80 * n) for n in SIZES], rel=0.02)
    assert law.law.exponent == pytest.approx(STEP_LR[1] + STEP_LR[2], abs=0.01)
    assert law.step_law.exponent("tokens") == pytest.approx(STEP_LR[2], abs=0.01)  # the cells' law beside it


WIDTHS = {32: 1e6, 64: 4e6}  # d -> N of the lr sweep folders below
FAR = (-3, -2, 2, 3)  # the grid's values stopped early: the far ends of each U


def write_lr_sweep(root, stopped=FAR, predicted=None, unpredicted=False):
    """Run folders of an lr grid at 2 widths (20 tokens per parameter; 7 lrs a factor 2 apart
    around DeepSeek's optimum, loss = 2 + 0.05 ln(lr / opt)^2 + a size term). The runs at the
    grid steps `stopped` are stopped_early with that loss predicted (+-0.02; `predicted(d, k,
    loss)` replaces it) and a last recorded eval loss 0.5 above; `unpredicted`: one more stopped
    run per width, at step 4, with no prediction."""
    from tests.test_fit_table import write_grid_run

    for d, n in WIDTHS.items():
        c = 6 * n * 20 * n
        opt = LR_C * c**LR_E
        for k in (*range(-3, 4), *((4,) if unpredicted else ())):
            lr = opt * 2.0 ** (k + 0.3)
            loss = 2.0 + 30 * n**-0.3 + 0.05 * np.log(lr / opt) ** 2
            if k in stopped:
                guess = predicted(d, k, loss) if predicted else loss
                write_grid_run(root, f"d{d}-k{k}", "stopped_early", n, lr, loss + 0.5, d=d, predicted=guess,
                               interval=[guess - 0.02, guess + 0.02])
            elif k == 4:
                write_grid_run(root, f"d{d}-k{k}", "stopped_early", n, lr, loss + 0.5, d=d)
            else:
                write_grid_run(root, f"d{d}-k{k}", "complete", n, lr, loss, d=d)


def test_runs_stopped_early_stand_in_the_lr_law_with_their_predicted_loss(tmp_path):
    from sweep.fit.table import load_runs_table

    write_lr_sweep(tmp_path / "stopped", unpredicted=True)
    write_lr_sweep(tmp_path / "complete", stopped=())
    law = fit_hyperparameter_law(load_runs_table(tmp_path / "stopped"), "lr")
    every_run_complete = fit_hyperparameter_law(load_runs_table(tmp_path / "complete"), "lr")
    assert law.law.exponent == pytest.approx(every_run_complete.law.exponent, rel=1e-9)
    assert law.law.coefficient == pytest.approx(every_run_complete.law.coefficient, rel=1e-9)
    for group, same in zip(law.groups, every_run_complete.groups):
        assert (group.n_runs, group.n_values, group.n_predicted, group.best_predicted) == (7, 7, 4, False)
        assert (same.n_predicted, same.best_predicted) == (0, False)
        assert group.opt_value == pytest.approx(same.opt_value, rel=1e-9) and group.status == "vertex"
    assert law.excluded_runs == {"stopped_early without a predicted loss": 2}  # left out, counted
    assert every_run_complete.excluded_runs == {}
    summary = law.to_dict()["groups"][0]
    assert (summary["n_predicted"], summary["best_predicted"]) == (4, False)


def test_a_stopped_run_s_standard_error_is_its_interval_at_the_level_it_was_predicted_at(tmp_path):
    """Was: every interval read as +- 1.96 standard errors; one at early_stop.level=0.8 is +- 1.28, so its
    standard error came out 1.5x too small. A result.json written before the level was recorded: 95%."""
    from tests.test_fit_table import write_grid_run
    from sweep.fit.table import load_runs_table

    write_grid_run(tmp_path, "a", "complete", 1e6, 1e-3, 3.0)
    write_grid_run(tmp_path, "s80", "stopped_early", 1e6, 4e-3, 3.9, predicted=3.2, interval=[3.0, 3.4], level=0.8)
    write_grid_run(tmp_path, "s95", "stopped_early", 1e6, 8e-3, 3.9, predicted=3.3, interval=[3.1, 3.5])
    table = load_runs_table(tmp_path).with_stopped()
    stderr_X, _ = point_stderrs(replace(table, loss_stderr_R=np.full(len(table), 1e-4)), np.arange(len(table)))
    assert table.names == ("a", "s80", "s95") and stderr_X[0] == 1e-4
    assert stderr_X[1:] == pytest.approx([0.2 / 1.2816, 0.2 / 1.96], rel=1e-3)


def test_a_u_curve_whose_best_point_is_a_prediction_says_so(tmp_path):
    """The d=64 run at grid step 2 was predicted below what the group's best then reached."""
    from sweep.fit.table import load_runs_table

    write_lr_sweep(tmp_path, predicted=lambda d, k, loss: loss - 0.2 if (d, k) == (64, 2) else loss)
    result = fit_law("lr", load_runs_table(tmp_path))  # what `sweep fit --law lr` prints
    assert result["n_runs"] == 14 and result["predicted"] == 8 and result["excluded"] == {}
    small, large = sorted(result["groups"], key=lambda g: g["key"])
    assert (small["best_predicted"], small["n_predicted"]) == (False, 4)
    assert (large["best_predicted"], large["best_run"], large["n_predicted"]) == (True, "d64-k2", 4)
    chinchilla_sees = load_runs_table(tmp_path)
    assert len(chinchilla_sees) == 6 and chinchilla_sees.excluded == {"stopped_early": 8}


def test_a_learning_rate_s_seeds_are_averaged_so_one_lucky_seed_does_not_move_the_optimum():
    """Two seeds at each of 5 learning rates, the truth's optimum at 4e-3; seed 0 at 8e-3 ends lucky,
    under every run at 4e-3, seed 1 there unlucky. Each lr stands at its seeds' mean: the optimum
    stays near 4e-3 and the U-curve has 5 points, not 10; read as a grid without seeds, the lucky run
    would be the best."""
    lrs = np.array([1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2])
    loss_X = 3.0 + 0.05 * np.log(lrs / 4e-3) ** 2
    lr_R, loss_R = np.repeat(lrs, 2), np.repeat(loss_X, 2) + np.tile([0.001, -0.001], 5)
    loss_R[6], loss_R[7] = 3.0 + 0.05 * np.log(2) ** 2 - 0.03, 3.0 + 0.05 * np.log(2) ** 2 + 0.03
    base = table_of(np.full(10, 1e18), loss_R, lr_R=lr_R)
    with_seeds = replace(base, seed=("0", "1") * 5)
    group = find_optima(with_seeds, "lr", by="cell").groups[0]
    assert (group.n_values, group.n_runs, group.best_value) == (5, 5, 4e-3)
    assert group.opt_value == pytest.approx(4e-3, rel=0.05)
    assert find_optima(base, "lr", by="cell").groups[0].best_value == 8e-3


def open_above_sweep(bracketed=2, open_above=3):
    """Budgets of 4 lr values each: the first `bracketed` around their optimum, the next `open_above`
    entirely below it (the best at the grid's highest lr)."""
    flops, lrs, losses = [], [], []
    for b, c in enumerate(np.logspace(17, 21, bracketed + open_above)):
        opt = LR_C * c**LR_E
        for k in (range(-2, 2) if b < bracketed else range(-7, -3)):
            flops.append(c)
            lrs.append(opt * 2.0 ** (k + 0.3))
            losses.append(2.0 + 0.05 * np.log(lrs[-1] / opt) ** 2)
    return table_of(flops, losses, lr_R=lrs)


def test_a_law_on_a_censored_sample_says_so():
    """Was silent: misfit.csv's lr law took 22 of 78 cells (54 open above) with nothing said beside
    its exponents; now a flag names the count used and the sides the others leave open."""
    law = fit_hyperparameter_law(open_above_sweep(2, 3), "lr")
    flag, _through_two = law.flags()
    assert flag.parameter == "exponent"
    assert "fitted on 2 of the 5 compute budgets with 3 or more lr values" in flag.problem
    assert "of the other 3, 3 open above" in flag.problem and "censored sample" in flag.problem
    assert law.to_dict()["identifiability"][0] == flag.to_dict()
    assert [g.open_side for g in law.groups] == [None, None, "above", "above", "above"]
    assert fit_hyperparameter_law(open_above_sweep(3, 2), "lr").flags() == []  # most bracketed: no flag


def test_by_cell_the_censored_flag_says_step_law_reads_the_same_cells():
    """Was: section 5 flagged only the law in C, though Step Law's row rests on the same censored cells."""
    inside = [GRID_CELLS[i] for i in (0, 1, 3)]  # two sizes, two tokens per parameter: off one line, Step Law fitted
    bracketed = cell_table(inside, step_lr)
    open_above = cell_table([c for c in GRID_CELLS if c not in inside], step_lr, grid=range(-7, -3))
    both = RunsTable(tuple(f"run{i}" for i in range(len(bracketed) + len(open_above))),
                     *(np.concatenate([getattr(bracketed, k), getattr(open_above, k)])
                       for k in ("n_params_R", "tokens_R", "loss_R", "flops_R")),
                     lr_R=np.concatenate([bracketed.lr_R, open_above.lr_R]))
    law = fit_hyperparameter_law(both, "lr", by="cell")
    assert law.step_law is not None
    [flag] = law.flags()
    assert "fitted on 3 of the 9 (N, tokens) cells" in flag.problem
    assert "the law in C and Step Law's forms alike: both read these cells" in flag.problem


def test_a_law_through_two_optima_says_it_is_a_line_through_two_points():
    """Was 'exponent -0.604, exponent_stderr null, groups_used 2' with no flag, where IsoFLOP's law through 2
    budgets says what it is."""
    [flag] = fit_hyperparameter_law(open_above_sweep(2, 0), "lr").flags()
    assert flag.parameter == "exponent_stderr" and "2 compute budgets only: a line through 2 points" in flag.problem
    assert fit_hyperparameter_law(open_above_sweep(3, 0), "lr").flags() == []


def test_a_law_s_error_counts_the_groups_reasons_then_names_a_few():
    """Was one 8 KB line naming every group's note (OpenEuroLLM's 30 budgets)."""
    with pytest.raises(ConfigError) as err:
        fit_hyperparameter_law(open_above_sweep(1, 12), "lr")
    message = str(err.value)
    assert ("1 of 13 qualify: 1 with an interior optimum, 12 with the best at an end of the grid. E.g. flops=" in message)
    assert message.count("flops=") == 4 and "; and 8 more. `sweep report` lists every group's status" in message
    assert len(message) < 1500


def test_the_law_names_its_grouping():
    """Was only `by: flops`, while `sweep report` fitted every cell and gave another law of the same name."""
    table = cell_table(GRID_CELLS, step_lr)
    by_flops = fit_hyperparameter_law(table, "lr").to_dict()
    assert by_flops["grouping"].startswith("per compute budget (--by flops, the default)")
    assert fit_hyperparameter_law(table, "lr", by="cell").to_dict()["grouping"].startswith("per (N, tokens) cell")
    assert fit_hyperparameter_law(table, "lr", by="n_params").to_dict()["grouping"].endswith(
        "takes its longest-trained cell's optimum")  # was cut after "cell's"
