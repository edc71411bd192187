"""sweep/plots.py: the loss-vs-size figure."""

from sweep.plots import draw_loss_vs_size, group_series, plot_loss_vs_size


def test_plots_complete_runs_only(tmp_path):
    rows = [
        {"status": "complete", "lr": 1e-3, "n_params": n, "flops": 6 * n * 20 * n, "final_eval_loss": 5 / n**0.1}
        for n in (1e4, 1e5, 1e6)
    ] + [{"status": "diverged", "lr": 1e-1, "n_params": 1e5, "flops": 1e12, "final_eval_loss": None}]
    path = tmp_path / "scaling.png"
    assert plot_loss_vs_size(rows, path) == 3
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_ladder_trunk_is_not_plotted(tmp_path):
    rows = [{"status": "complete", "lr": 1e-3, "n_params": n, "flops": 6 * n * 20 * n, "final_eval_loss": 5 / n**0.1,
             "role": role} for n, role in ((1e4, "branch"), (1e5, "branch"), (1e6, "trunk"))]
    assert plot_loss_vs_size(rows, tmp_path / "scaling.png") == 2


def test_series_are_grouped_by_every_swept_setting_but_the_size():
    # the demo's design: 3 widths x 3 token budgets at one learning rate
    demo = [{"d": d, "lr": 3e-3, "tokens_per_param": t, "seed": 0} for d in (32, 48, 64) for t in (5, 10, 20)]
    series = group_series(demo)
    assert list(series) == ["tokens/param 5", "tokens/param 10", "tokens/param 20"]
    assert all(sorted(r["d"] for r in runs) == [32, 48, 64] for runs in series.values())
    grid = [{"d": d, "lr": lr, "tokens_per_param": 20, "batch_size": b} for d in (32, 64) for lr in (1e-3, 3e-3)
            for b in (8, 16)]
    assert list(group_series(grid)) == ["lr 0.001, batch 8", "lr 0.001, batch 16", "lr 0.003, batch 8",
                                        "lr 0.003, batch 16"]
    assert list(group_series([{"d": d, "lr": 1e-3} for d in (32, 64)])) == ["all runs"]


def test_the_figure_is_drawn_onto_a_pair_of_the_user_s_axes():
    from matplotlib.figure import Figure

    from sweep.plots import draw_loss_vs_size

    rows = [{"status": "complete", "n_params": n, "flops": 6 * n * 20 * n, "final_eval_loss": 5 / n**0.1}
            for n in (1e4, 1e5)]
    user = Figure()
    axes = user.subplots(1, 2)
    assert draw_loss_vs_size(rows, axes) is user
    assert [len(ax.lines) for ax in axes] == [1, 1] and axes[0].get_xlabel() == "parameters N"


def test_a_sweep_without_complete_runs_is_drawn_with_a_note_and_no_warning(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels" would fail here
        fig = draw_loss_vs_size([{"status": "running", "n_params": 1e6, "flops": 1e12, "final_eval_loss": None}])
    assert [t.get_text() for t in fig.axes[1].texts] == ["no complete runs yet"]
    assert fig.axes[1].get_legend() is None
