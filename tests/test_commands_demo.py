"""launch/commands/demo.py: `sweep demo` and `sweep experiment NAME`, local sweeps end to end."""

from launch.cli import main


def test_the_demo_runs_the_grid_and_folder_of_conf_demo_yaml(monkeypatch, tmp_path):
    """`sweep demo` names conf/demo.yaml and takes its out_dir from there: no grid or folder in code."""
    import launch.commands.demo as demo

    calls = []
    conf_file = demo.conf_file
    monkeypatch.setattr(demo, "conf_file", lambda name: {"out_dir": str(tmp_path / "demo-runs")}
                        if name == "demo.yaml" else conf_file(name))
    monkeypatch.setattr(demo, "prepare", lambda overrides, config_name, **kwargs:
                        calls.append((config_name, overrides)) or 0)
    monkeypatch.setattr(demo.subprocess, "call", lambda cmd: calls.append(cmd) or 1)
    monkeypatch.setattr(demo, "status", lambda out_dir, **kwargs: calls.append(out_dir))
    assert main(["demo"]) == 1
    assert calls[0] == ("demo", [f"out_dir={tmp_path / 'demo-runs'}"])  # its synthetic corpus, generated first
    assert calls[1][-3:] == ["--config-name", "demo", f"out_dir={tmp_path / 'demo-runs'}"]
    assert calls[2] == tmp_path / "demo-runs"


def test_the_demo_is_a_grid_of_3_widths_by_3_token_budgets_on_the_synthetic_corpus(tmp_path):
    """What the README says of `sweep demo`: 3 widths x 3 token budgets (5, 10, 20 tokens per
    parameter) on data=synthetic, whose entropy rate is known, with fixed seeds (reproducible),
    on the CPU, each run's folder named with its width and token budget."""
    from launch.grid import compose_grid
    from sweep.data.synthetic import entropy_rate, synthetic_spec

    grid = compose_grid([f"out_dir={tmp_path}"], config_name="demo")
    assert sorted((p.cfg.model.d, p.cfg.budget.tokens_per_param) for p in grid) == [
        (d, tpp) for d in (32, 48, 64) for tpp in (5, 10, 20)]
    assert {p.cfg.data.source.value for p in grid} == {"synthetic"}
    assert {(p.cfg.seed, p.cfg.data.synthetic.seed, p.cfg.train.device.value) for p in grid} == {(0, 0, "cpu")}
    assert len({entropy_rate(synthetic_spec(p.cfg.data)) for p in grid}) == 1
    assert len({p.run.path.name.rsplit("-", 1)[0] for p in grid}) == 9  # no two runs' names look alike
    assert all(f"d{p.cfg.model.d}-" in p.run.path.name and f"-tpp{p.cfg.budget.tokens_per_param:g}-" in p.run.path.name
               for p in grid)


def test_the_demo_s_last_line_sets_the_fitted_e_beside_the_corpus_s_true_entropy():
    from launch.commands.demo import entropy_line

    law = {"E": 3.41, "bootstrap": {"intervals": {"E": [3.37, 3.44]}}}
    synthetic = [{"true_entropy_nats": 3.394}] * 2
    assert entropy_line(law, synthetic) == ("fitted E = 3.410 [3.370, 3.440] nats/token; true entropy rate of the "
                                            "corpus h = 3.394 (inside E's interval), E - h = +0.016")
    assert "(outside E's interval)" in entropy_line({**law, "E": 3.5, "bootstrap": {"intervals": {"E": [3.45, 3.6]}}},
                                                    synthetic)
    assert entropy_line({"E": 1.2}, [{"true_entropy_nats": None}]) == "fitted E = 1.200 nats/token"  # a real corpus


def test_an_experiment_preset_runs_end_to_end_at_a_tiny_size_and_states_its_verdict(tmp_path, capsys, wide_console):
    """`sweep experiment lr_ucurve` with tiny overrides: its corpus prepared, its grid trained here
    (each run in its own process), its report opening with the finding's verdict."""
    out_dir = tmp_path / "lr"
    tiny = ["model.d=16", "model.l=1", "model.seq_len=32", "budget.tokens_per_param=2", "optim.warmup_steps=2",
            "optim.lr=1e-3,1e-2,1e-1", "train.log_every=4", "train.eval_every=20", "train.precision=fp32",
            "data.eval_tokens=2048", "logger=none", f"out_dir={out_dir}"]
    assert main(["experiment", "lr_ucurve", *tiny]) == 0
    out = capsys.readouterr().out
    assert "lr_ucurve: cannot tell from these runs: " in out  # one size: whether the optimum moves is untested
    report = (out_dir / "report" / "report.md").read_text()
    assert "## Findings" in report and "### lr_ucurve: cannot tell from these runs" in report
    assert (out_dir / "report" / "finding_lr_ucurve.png").is_file()
    assert len(list(out_dir.glob("d16-l1-b8-lr*"))) == 3


def test_on_ctrl_c_the_demo_waits_for_its_launcher_to_stop_its_runs_instead_of_killing_it(tmp_path):
    """Ctrl-C reaches the demo and its launcher alike; subprocess.call alone kills the launcher at once,
    leaving its runs training unseen. Here a stand-in launcher takes 0.5 s to stop, then exits 130."""
    import os
    import signal
    import subprocess
    import sys
    import time

    child = ("import pathlib, sys, time\n"
             f"pathlib.Path({str(tmp_path / 'ready')!r}).touch()\n"
             "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    time.sleep(0.5)\n"
             f"    pathlib.Path({str(tmp_path / 'stopped')!r}).touch()\n    sys.exit(130)\n")
    demo = (f"import sys\nfrom launch.commands.demo import call_taking_no_ctrl_c\n"
            f"sys.exit(call_taking_no_ctrl_c([sys.executable, '-c', {child!r}]))")
    proc = subprocess.Popen([sys.executable, "-c", demo], start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while not (tmp_path / "ready").exists():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert (tmp_path / "stopped").exists()  # the launcher had its time to stop
