"""launch/commands/wandb_target.py: where `--upload` logs (the W&B group read from, or the sweep's own)."""

from launch.cli import main
from launch.commands.wandb_target import report_target
from sweep.rundir import RunDir
from sweep.run.loop import train


def test_a_report_from_a_wandb_group_goes_back_to_that_group():
    target = report_target("wandb:team/scaling/width", rows=[])
    assert (target["entity"], target["project"], target["group"]) == ("team", "scaling", "width")


def test_an_upload_takes_its_wandb_settings_from_a_run_that_is_not_damaged(tiny_config, tmp_path):
    from sweep.results import load_runs

    cfg = tiny_config("logger.project=my-project")
    RunDir.for_config(cfg).write_config(cfg)
    broken = tmp_path / "runs" / "a-broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("logger: [project")
    rows = load_runs(tmp_path / "runs")
    assert rows[0]["status"] == "damaged"
    assert report_target(str(tmp_path / "runs"), rows)["project"] == "my-project"


def test_uploading_runs_without_wandb_settings_is_a_clear_error(tiny_config, tmp_path, capsys):
    import yaml

    cfg = tiny_config()
    train(cfg)
    config_file = RunDir.for_config(cfg).config_file
    old = yaml.safe_load(config_file.read_text())
    del old["logger"]  # as written before runs were tracked
    config_file.write_text(yaml.safe_dump(old))
    assert main(["status", str(tmp_path / "runs"), "--upload"]) == 2
    assert "has no logger settings" in capsys.readouterr().err
