"""sweep/plots.py: the loss-vs-size figure."""

from sweep.plots import plot_loss_vs_size


def test_plots_complete_runs_only(tmp_path):
    rows = [
        {"status": "complete", "lr": 1e-3, "n_params": n, "flops": 6 * n * 20 * n, "final_eval_loss": 5 / n**0.1}
        for n in (1e4, 1e5, 1e6)
    ] + [{"status": "diverged", "lr": 1e-1, "n_params": 1e5, "flops": 1e12, "final_eval_loss": None}]
    path = tmp_path / "scaling.png"
    assert plot_loss_vs_size(rows, path) == 3
    assert path.read_bytes()[:4] == b"\x89PNG"
