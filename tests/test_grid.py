"""launch/grid.py and the grid sweeper: grid expansion, validation of every point before any
runs, the validated grid handed to the launcher, and `--dry-run` with any launcher."""

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext

from hydra_plugins.sweep_launchers import GridSweeper, LocalLauncher
from launch.grid import CONF_DIR, compose_grid, split_grid
from sweep.errors import ConfigError
from tests.helpers import TINY

REPO = Path(__file__).resolve().parent.parent


def test_split_grid_is_the_cartesian_product_in_launch_order():
    points = split_grid(["model.d=64,128", "model.l=1,2", "seed=3"])
    assert points == [
        ["model.d=64", "model.l=1", "seed=3"],
        ["model.d=64", "model.l=2", "seed=3"],
        ["model.d=128", "model.l=1", "seed=3"],
        ["model.d=128", "model.l=2", "seed=3"],
    ]


def test_hydra_range_and_choice_syntax_expand_too():
    assert len(split_grid(["seed=range(0,3)", "optim.lr=choice(1e-3,3e-3)"])) == 6


def test_each_grid_point_knows_the_config_its_overrides_apply_to(tmp_path):
    """Its run's overrides.yaml records it: `model.d=16` of --config-name demo is another run than of train."""
    assert {p.config_name for p in compose_grid(["model.d=16,32", f"out_dir={tmp_path}"], "demo")} == {"demo"}
    assert {p.config_name for p in compose_grid(["model.d=64,128", f"out_dir={tmp_path}"])} == {"train"}


def test_compose_grid_gives_budgets_and_pending_state(tmp_path):
    grid = compose_grid(["model.d=64,128", "model.l=2", f"out_dir={tmp_path}"])
    assert [p.cfg.model.d for p in grid] == [64, 128]
    assert grid[0].budget.n_params < grid[1].budget.n_params
    assert {p.state() for p in grid} == {"pending"}
    assert grid[0].run.path.parent == tmp_path


def test_every_invalid_point_is_named_in_one_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        compose_grid(["model.d=64,100,130", "model.l=1,0", f"out_dir={tmp_path}"])
    message = str(err.value)
    assert message.startswith("5 of 6 grid points are invalid; nothing was run")
    assert "\n  model.d=100 model.l=1: model.d=100 is not a multiple of model.head_dim=64" in message
    assert "\n  3 points (model.d=64 model.l=0; model.d=100 model.l=0; model.d=130 model.l=0): model.l=0" in message


def test_a_typo_in_a_grid_is_reported_with_its_point(tmp_path):
    with pytest.raises(ConfigError, match="modle"):
        compose_grid(["modle.d=64,128", f"out_dir={tmp_path}"])


def test_the_demo_config_declares_its_own_grid(tmp_path):
    grid = compose_grid([f"out_dir={tmp_path}"], config_name="demo")
    assert len(grid) >= 6
    assert len({p.budget.n_params for p in grid}) >= 3


def test_a_point_whose_result_cannot_be_read_is_damaged_and_says_which_file(tmp_path):
    grid = compose_grid(["model.d=64,128", "model.l=2", f"out_dir={tmp_path}"])
    grid[0].run.path.mkdir(parents=True)
    grid[0].run.result_file.write_text('{"status": "comp')
    assert [p.state() for p in grid] == ["damaged", "pending"]
    assert grid[1].damage() is None
    assert str(grid[0].damage()).startswith(f"{grid[0].run.result_file}: not valid JSON")


def test_a_finished_runs_damaged_config_is_written_again_from_its_grid_point(tmp_path):
    # CONFIG_REMEDY says "re-run the sweep's command to rewrite it"; a finished run is not run again
    from launch.grid import rewrite_damaged_configs
    from sweep.rundir import RunDir

    grid = compose_grid(["model.d=64,128,256", "model.l=2", f"out_dir={tmp_path}"])
    for point in grid:
        point.run.write_config(point.cfg)
        point.run.write_result({"status": "complete", "final_eval_loss": 3.0})
    grid[0].run.config_file.write_text("[1, 2]\n")
    grid[1].run.result_file.unlink()  # not finished: its own run writes its config
    grid[1].run.config_file.write_text("[1, 2]\n")
    grid[2].run.config_file.unlink()  # gone: the finished run was dropped from every table, and never rewritten
    assert rewrite_damaged_configs(grid) == [grid[0].run.path.name, grid[2].run.path.name]
    assert RunDir(grid[0].run.path).read_config()["model"]["d"] == 64
    assert RunDir(grid[2].run.path).read_config()["model"]["d"] == 256
    assert grid[1].run.config_file.read_text() == "[1, 2]\n"


def test_a_grid_skips_its_damaged_point_trains_the_others_and_names_what_it_skipped(tmp_path, shared_cache_dir):
    from tests.test_local import multirun, results

    out = tmp_path / "sweep"
    damaged = compose_grid(["model.d=16", "model.l=1", "model.head_dim=16", "model.seq_len=32",
                            "train.batch_size=4", "budget.tokens_per_param=0.5", "data.eval_tokens=2048",
                            f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"])[0].run
    damaged.path.mkdir(parents=True)
    damaged.result_file.write_text("[]")
    proc = multirun(out, shared_cache_dir, "model.d=16,32")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert [(name.split("-")[0], r["status"]) for name, r in results(out).items() if name != damaged.path.name] \
        == [("d32", "complete")]
    assert f"skipped: {damaged.result_file}: holds a list, not a JSON object" in output
    assert "1 of 2 runs were skipped as damaged" in output and "Traceback" not in output


def test_glob_range_and_choice_sweeps_compose_into_a_grid(tmp_path):
    # `sweep plan` composes this way; glob() lists a config group's options (here: data)
    grid = compose_grid(["data=glob([embedded,synthetic])", "seed=range(0,2)", "optim.lr=choice(1e-3,3e-3)",
                         f"out_dir={tmp_path}"])
    assert len(grid) == 8
    assert {p.cfg.data.source.value for p in grid} == {"embedded", "synthetic"}
    assert {p.cfg.seed for p in grid} == {0, 1}
    assert {p.cfg.optim.lr for p in grid} == {1e-3, 3e-3}


class ComposesNothing(LocalLauncher):
    """The project's local launcher, recording the grid it is handed instead of running it."""

    def launch(self, job_overrides, initial_job_idx):
        raise AssertionError("the launcher was asked to compose the grid again")

    def launch_grid(self, grid):
        self.grid = grid
        return []


class ThirdParty(Launcher):
    """A launcher that is not the project's (as Hydra's basic one): it gets override lists."""

    def __init__(self):
        self.launched = []

    def setup(self, *, hydra_context, task_function, config):
        pass

    def launch(self, job_overrides, initial_job_idx):
        self.launched.extend(list(o) for o in job_overrides)
        return []


def sweep_with(launcher, tmp_path, *arguments, dry_run=False):
    """GridSweeper.sweep(arguments) as a multirun calls it, with `launcher` set up."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        overrides = [*TINY, f"out_dir={tmp_path}", "hydra/launcher=local"]
        config = compose("train", overrides=overrides, return_hydra_config=True)
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=None)
        sweeper = GridSweeper(dry_run=dry_run)
        sweeper.hydra_context, sweeper.config, sweeper.launcher = context, config, launcher
        launcher.setup(hydra_context=context, task_function=None, config=config)
        return sweeper.sweep([*overrides[:-1], *arguments])


def local_launcher(cls, tmp_path):
    return cls(folder=str(tmp_path / "submitit"), dry_run=False, parallelism=1, gpus_per_run=0, visible_gpus=None,
               tasks_per_run=None, timeout_min=1, poll_s=0.1, submitit_folder=None)


def test_the_sweeper_hands_its_validated_grid_to_a_project_launcher_without_composing_it_again(tmp_path):
    launcher = local_launcher(ComposesNothing, tmp_path)
    sweep_with(launcher, tmp_path, "model.d=16,32", "seed=range(0,2)")
    assert [(p.cfg.model.d, p.cfg.seed) for p in launcher.grid] == [(16, 0), (16, 1), (32, 0), (32, 1)]
    assert launcher.grid[0].budget.n_params < launcher.grid[2].budget.n_params


def test_what_the_launcher_refuses_of_a_grid_is_refused_before_the_sweep_writes_anything(tmp_path):
    launcher = local_launcher(ComposesNothing, tmp_path)
    launcher.options.tasks_per_run = 3  # the batch of 4 does not split over 3 ranks
    with pytest.raises(SystemExit):
        sweep_with(launcher, tmp_path / "sweep", "model.d=16,32")
    assert not hasattr(launcher, "grid") and not (tmp_path / "sweep" / "multirun.yaml").exists()


def test_a_launcher_that_is_not_the_projects_gets_the_override_lists(tmp_path):
    launcher = ThirdParty()
    sweep_with(launcher, tmp_path, "model.d=16,32")
    assert [[o for o in point if o.startswith("model.d=")] for point in launcher.launched] \
        == [["model.d=16"], ["model.d=32"]]


def test_a_dry_run_prints_the_plan_and_neither_launches_nor_writes_anything(tmp_path, capsys):
    launcher = ThirdParty()
    out_dir = tmp_path / "sweep"
    sweep_with(launcher, out_dir, "model.d=16,32", "data=glob([embedded,synthetic])", dry_run=True)
    assert launcher.launched == []
    assert "plan: 4 runs" in capsys.readouterr().out
    assert not out_dir.exists()


def dry_run(tmp_path, *overrides, multirun=False):
    """`python -m sweep.train [-m] --dry-run TINY OVERRIDES` with Hydra's basic launcher (no hydra/launcher)."""
    out_dir = tmp_path / "sweep"
    flags = ["-m", "--dry-run"] if multirun else ["--dry-run"]
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *flags, *TINY, f"out_dir={out_dir}", *overrides],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not out_dir.exists()  # nothing ran, nothing was written
    return proc.stdout


def test_dry_run_with_hydras_basic_launcher_plans_glob_range_and_choice_sweeps(tmp_path):
    out = dry_run(tmp_path, "model.d=16,32", "seed=range(0,2)", "optim.lr=choice(1e-3,3e-3)",
                  "data=glob([embedded,synthetic])", multirun=True)
    assert "plan: 16 runs" in out and "total: 16 runs (16 pending)" in out
    assert "GPU-hours" not in out  # estimated for Slurm's buckets only (was: "0 GPU-hours estimated")


@pytest.mark.parametrize("flags", [["-m"], ["-m", "--dry-run"]])
def test_hydras_basic_launcher_refuses_a_grid_whose_jobs_run_in_order_before_anything_is_written(tmp_path, flags):
    out_dir = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *flags, *TINY, "optim.lr=1e-3,3e-3",
                           "early_stop.enabled=true", f"out_dir={out_dir}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("only the project's launchers do: add hydra/launcher=local") == 1
    assert "Traceback" not in proc.stderr and not out_dir.exists()


def test_the_multirun_flag_may_come_after_the_overrides(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sweep.train", *TINY, "model.d=16,32", "-m", f"out_dir={tmp_path / 'x'}",
                           "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "plan: 2 runs" in proc.stdout, proc.stdout + proc.stderr  # was Hydra's usage
    from launch.command_line import flags_first

    assert flags_first(["a=1", "-m", "b=2", "-cn", "demo"]) == ["-m", "-cn", "demo", "a=1", "b=2"]
    assert flags_first(["a=1", "--info", "b=2"]) == ["a=1", "--info", "b=2"]  # Hydra's own flags: left to it


@pytest.mark.parametrize("args, words", [
    (["-m", "--cfg", "job", "model.d=64"], "-m and --cfg: Hydra takes one of them"),  # was Hydra's ValueError trace
    (["-cn"], "-cn needs a config name after it; accepted: train, demo"),  # was: config 'hydra.sweeper.params=null'
    (["--config-name", "model.d=64"], "--config-name needs a config name"),
])
def test_flags_hydra_refuses_with_a_traceback_or_misreads_are_one_error(args, words):
    from launch.command_line import check_flags

    with pytest.raises(ConfigError, match=re.escape(words)):
        check_flags(args)
    check_flags(["--cfg", "job", "-cn", "demo", "model.d=64"])  # each alone is Hydra's to run


def test_sweep_plan_says_how_to_give_a_list_to_quote_and_which_configs_exist(tmp_path):
    """The grid's composition errors in the project's words (were OmegaConf's and Hydra's)."""
    with pytest.raises(ConfigError, match=re.escape("logger.tags=x: accepted is a list, logger.tags=[x]")):
        compose_grid([*TINY, "model.d=16,32", "logger.tags=x", f"out_dir={tmp_path}"])
    with pytest.raises(ConfigError, match=re.escape("""quote the value, the double quotes for Hydra inside single """
                                                    """quotes for the shell: 'logger.group="a#1",b'""")):
        compose_grid([*TINY, "logger.group=a#1,b", f"out_dir={tmp_path}"])
    with pytest.raises(ConfigError, match=re.escape("primary config 'nope'; accepted config names: train, demo")):
        compose_grid([*TINY, f"out_dir={tmp_path}"], config_name="nope")
    assert [p.cfg.logger.group for p in compose_grid([*TINY, 'logger.group="a#1"', f"out_dir={tmp_path}"])] == ["a#1"]


def test_sweep_plan_says_a_section_takes_its_keys_and_a_setting_is_set_not_removed(tmp_path):
    """Were OmegaConf's "str is not a subclass of ModelConfig" and "does not support deletion"."""
    with pytest.raises(ConfigError, match=re.escape("model=big: model is a section of settings, not a config group; "
                                                    "set its keys instead (model.d=..., model.l=...)")):
        compose_grid([*TINY, "model.l=1,2", "model=big", f"out_dir={tmp_path}"])
    with pytest.raises(ConfigError, match=re.escape("~model.d: settings cannot be removed, only set (model.d=VALUE)")):
        compose_grid([*TINY, "model.l=1,2", "~model.d", f"out_dir={tmp_path}"])


def test_a_dry_run_names_what_would_stop_the_launch_after_its_plan(tmp_path):
    cache = tmp_path / "cache"  # data=synthetic, never prepared: the launch would refuse the grid
    out = dry_run(tmp_path, "model.d=16,32", "data=synthetic", f"data.cache_dir={cache}", multirun=True)
    assert "plan: 2 runs" in out
    assert "not ready to launch" in out and "data=synthetic is not prepared" in out and "sweep prepare" in out
    assert not cache.exists()
    assert "not ready to launch" not in dry_run(tmp_path, "model.d=16,32", multirun=True)  # the embedded corpus


def test_dry_run_of_a_single_run_plans_that_one_run(tmp_path):
    out = dry_run(tmp_path, "model.d=48")
    assert "plan: 1 runs" in out and "total: 1 runs (1 pending)" in out
    from launch.entry import dry_run_args

    # a config's own sweep (conf/demo.yaml's hydra.sweeper.params) is a multirun's: the single run is one run
    assert dry_run_args(["--config-name", "demo", "--dry-run"]) == [
        "-m", "--config-name", "demo", "hydra.sweeper.params=null", "hydra.sweeper.dry_run=true"]
    assert dry_run_args(["-m", "model.d=16,32", "--dry-run"]) == ["-m", "model.d=16,32", "hydra.sweeper.dry_run=true"]
    from launch.command_line import check_single_dry_run

    with pytest.raises(ConfigError, match=r"\+experiment=lr_ucurve is a grid: run it with -m"):
        check_single_dry_run(["+experiment=lr_ucurve", f"out_dir={tmp_path}"])  # was: its 12 runs planned


LADDER = [o for o in TINY if not o.startswith("budget.tokens_per_param=")] + ["optim.schedule=wsd", "budget.branch=true"]


def test_a_branch_grid_becomes_per_ladder_one_trunk_and_a_branch_per_budget_whose_overrides_reproduce_them(tmp_path):
    grid = compose_grid([*LADDER, "model.d=16,32", "budget.tokens_per_param=1,2,4", f"out_dir={tmp_path}"])
    assert [(p.cfg.model.d, p.role, p.cfg.budget.tokens_per_param) for p in grid] == [
        (d, role, tpp) for d in (16, 32) for role, tpp in (("trunk", 4), ("branch", 1), ("branch", 2), ("branch", 4))]
    for point in grid:
        assert point.cfg.budget.ladder_tokens_per_param == 4 and point.cfg.budget.trunk == (point.role == "trunk")
        (again,) = compose_grid(point.overrides)  # the overrides recorded in its run folder make it again
        assert again.run.path == point.run.path and again.role == point.role
    assert len({p.run.path for p in grid}) == 8  # the trunk and the branch of the largest budget are two runs


def test_a_branch_whose_ended_trunk_lost_its_checkpoint_stops_the_launch_naming_the_remedy(tmp_path):
    """Was: the plan called the trunk's segment complete and the branch failed in its job, each time."""
    from launch.grid import data_problems

    grid = compose_grid([*LADDER, "budget.tokens_per_param=1,2", f"out_dir={tmp_path}"])
    trunk, *branches = grid
    assert data_problems(grid) == []
    trunk.run.path.mkdir(parents=True)
    trunk.run.write_result({"status": "complete", "role": "trunk"})  # ended; its kept checkpoints deleted
    problems = data_problems(grid)
    assert len(problems) == len(branches) == 2
    for problem, branch in zip(problems, branches):
        assert "does not exist, though its trunk has ended" in problem and f"{trunk.run.path} away" in problem
        assert f"cooldown branch {branch.run.path.name} starts from" in problem


def test_plain_points_stay_plain_runs_beside_the_ladders(tmp_path):
    grid = compose_grid([*LADDER, "budget.branch=false,true", "budget.tokens_per_param=1,2", f"out_dir={tmp_path}"])
    assert [p.role for p in grid] == [None, None, "trunk", "branch", "branch"]
    assert not any(p.cfg.budget.branch for p in grid[:2])


@pytest.mark.parametrize("overrides, message", [
    (["budget.tokens_per_param=2"], "budget.branch=true needs a grid over budget.tokens_per_param"),
    (["budget.tokens_per_param=1,2", "optim.schedule=cosine"], "cooldown branches need optim.schedule=wsd"),
    (["budget.tokens_per_param=1,2", "optim.cooldown_fraction=1.5"], "optim.cooldown_fraction=1.5: must be in"),
    (["budget.tokens_per_param=0.1,2", "optim.warmup_steps=20"], "the trunk cannot reach it"),
])
def test_a_bad_ladder_is_one_clear_error_before_anything_runs(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        compose_grid([*LADDER, *overrides, f"out_dir={tmp_path}"])
    assert not tmp_path.joinpath("runs").exists()


def test_a_dry_run_plans_the_trunk_segments_and_branches_with_the_saving_over_cosine_runs(tmp_path):
    out = dry_run(tmp_path, *[o for o in LADDER if o not in TINY], "budget.tokens_per_param=1,2,4",
                  "hydra/launcher=local", multirun=True)  # Hydra's basic launcher: the launch's one error (below)
    assert "plan: 6 jobs" in out and "total: 6 jobs (6 pending)" in out
    assert out.count("trunk tpp=4") == 3 and out.count("branch tpp=") == 3
    assert "the same grid as cosine runs from scratch" in out and "saving" in out


def test_a_ladder_is_refused_by_a_launcher_that_cannot_order_its_jobs(tmp_path, capsys):
    launcher = ThirdParty()
    with pytest.raises(SystemExit) as ended:
        sweep_with(launcher, tmp_path, *[o for o in LADDER if o not in TINY], "budget.tokens_per_param=1,2")
    assert ended.value.code == 2 and launcher.launched == []
    assert "add hydra/launcher=local (this machine) or hydra/launcher=slurm" in capsys.readouterr().err


def test_a_launcher_that_cannot_order_jobs_is_refused_before_the_data_is_checked(tmp_path, capsys):
    """Was: first `the grid's inputs are not ready ... sweep prepare`, and once prepared, the refusal."""
    launcher = ThirdParty()
    with pytest.raises(SystemExit) as ended:
        sweep_with(launcher, tmp_path, *[o for o in LADDER if o not in TINY], "budget.tokens_per_param=1,2",
                   "data=synthetic", f"data.cache_dir={tmp_path / 'cache'}")
    err = capsys.readouterr().err
    assert ended.value.code == 2 and "add hydra/launcher=local" in err and "not prepared" not in err


@pytest.mark.parametrize("sweep, one_by_one", [
    (["+experiment=lr_ucurve", "experiment.scale=cpu,paper"], "experiment.scale=cpu, then experiment.scale=paper"),
    (["+experiment=lr_ucurve,batch_ucurve"], "+experiment=lr_ucurve, then +experiment=batch_ucurve"),
])
def test_a_sweep_over_presets_or_scales_asks_for_one_command_per_value(tmp_path, sweep, one_by_one):
    """Was: points "that differ only in settings that do not change what is trained", in a 1,000-character line."""
    with pytest.raises(ConfigError, match=re.escape(f"a command runs one +experiment at one experiment.scale (the "
                                                    f"preset's scale gives the whole command its grid); run one "
                                                    f"command per value: {one_by_one}")):
        compose_grid([*sweep, "logger=none", f"out_dir={tmp_path}"])


def test_a_value_hydras_grammar_cannot_read_names_its_override_and_the_quoted_form(tmp_path):
    """Was `no viable alternative at input '[--cpu-bind='; None`: no key, a stray None."""
    with pytest.raises(ConfigError) as err:
        compose_grid([*TINY, "hydra/launcher=slurm", "hydra.launcher.srun_args=[--cpu-bind=none,-v]",
                      f"out_dir={tmp_path}"])
    assert str(err.value).startswith("hydra.launcher.srun_args=[--cpu-bind=none,-v]: Hydra's override grammar")
    assert str(err.value).endswith("""'hydra.launcher.srun_args=["--cpu-bind=none","-v"]'""")
    assert "None" not in str(err.value)


def test_a_mapping_given_whole_with_a_new_key_says_to_add_each_key_with_a_plus(tmp_path):
    """Was `Could not override ... Key 'exclusive' is not in struct`."""
    with pytest.raises(ConfigError, match=re.escape("+hydra.launcher.additional_parameters.exclusive=true "
                                                    "+hydra.launcher.additional_parameters.nice=5")):
        compose_grid([*TINY, "hydra/launcher=slurm", "hydra.launcher.additional_parameters={exclusive:true,nice:5}",
                      f"out_dir={tmp_path}"])
    compose_grid([*TINY, "hydra/launcher=slurm", "+hydra.launcher.additional_parameters.exclusive=true",
                  f"out_dir={tmp_path}"])  # the form it names is accepted


def test_a_sweep_of_hydras_own_settings_asks_for_one_command_per_value(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("hydra.launcher.parallelism=2,3: Hydra's own settings (hydra.*) take "
                                                    "one value per command")):
        compose_grid([*TINY, "hydra/launcher=local", "hydra.launcher.parallelism=2,3", f"out_dir={tmp_path}"])


def test_the_error_of_a_one_point_grid_does_not_echo_the_command_line_as_its_label(tmp_path):
    with pytest.raises(ConfigError) as err:
        compose_grid([*TINY, "budget.tokens_per_param=0", f"out_dir={tmp_path}"])
    assert str(err.value) == ("the grid's one point is invalid; nothing was run: budget.tokens_per_param=0.0: must "
                              "be > 0")


def test_an_error_every_point_shares_is_said_once(tmp_path):
    with pytest.raises(ConfigError) as err:
        compose_grid(["model.d=64,128", "optim.lr=1e-3,2e-3,4e-3", "early_stop.fraction=1.5", f"out_dir={tmp_path}"])
    lines = str(err.value).splitlines()
    assert lines[0] == "6 of 6 grid points are invalid; nothing was run:"
    assert lines[1:] == ["  every point: early_stop.fraction=1.5: accepted is a fraction of each run's steps in (0, 1)"]


def test_an_error_some_points_share_names_the_first_of_them(tmp_path):
    with pytest.raises(ConfigError) as err:
        compose_grid(["model.l=1,2,3,4", "model.d=64,100", f"out_dir={tmp_path}"])
    message = str(err.value)
    assert message.startswith("4 of 8 grid points are invalid")
    assert "\n  4 points (model.l=1 model.d=100; model.l=2 model.d=100; model.l=3 model.d=100; ...): model.d=100 " \
           "is not a multiple of model.head_dim=64" in message


def test_sweeper_params_that_are_not_a_mapping_are_one_error():
    from omegaconf import OmegaConf

    from launch.grid import config_grids

    with pytest.raises(ConfigError, match=r"hydra.sweeper.params=5: accepted is a mapping of override keys to their "
                                          r"values"):  # was: AttributeError: 'int' object has no attribute 'items'
        config_grids(OmegaConf.create({"hydra": {"sweeper": {"params": 5}}}))


def test_runs_that_failed_in_their_processes_end_the_sweep_in_one_line_each_naming_its_log(capsys, monkeypatch):
    from hydra.core.utils import JobReturn, JobStatus

    from hydra_plugins.sweep_launchers import raise_failures
    from launch.local import Outcome, run_failed

    point = SimpleNamespace(run=SimpleNamespace(path=Path("runs/d48-l1-lr1e-3")))
    trace = "Traceback (most recent call last):\n  ...\nRuntimeError: [gloo/pair.cc:537] Read error: Connection reset by peer"
    failed = run_failed(Outcome(point, None, RuntimeError(trace)), "runs/.submitit/7_0_log.out")
    results = [JobReturn(overrides=["model.d=48"], status=JobStatus.FAILED, _return_value=failed),
               JobReturn(overrides=["model.d=32"], status=JobStatus.COMPLETED, _return_value=3.1)]
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as stop:  # was: 75 lines of the run's traceback, from Hydra
        raise_failures(results)
    err = capsys.readouterr().err
    assert stop.value.code == 1 and "error: 1 of 2 runs failed (every other run went on" in err
    assert "  d48-l1-lr1e-3: RuntimeError: [gloo/pair.cc:537] Read error: Connection reset by peer; its log: " \
           "runs/.submitit/7_0_log.out" in err and "Traceback" not in err
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(RuntimeError, match="Connection reset by peer"):
        raise_failures(results)


def test_points_of_one_run_folder_are_one_run_and_points_differing_only_in_what_does_not_change_the_run_an_error():
    assert len(compose_grid(["model.d=64", "optim.lr=3e-3,0.003"])) == 1  # the same config twice: one run
    for sweep, differing in (("logger=none,wandb", "logger.kind='none' / 'wandb'"),
                             ("train.log_every=5,10", "train.log_every=5 / 10")):
        with pytest.raises(ConfigError, match="1 grid point\\(s\\) are the run of another point, differing only in "
                                              "settings that do not change what is trained") as err:
            compose_grid(["model.d=64", sweep])  # was: planned and counted twice, the second 'already complete'
        assert differing in str(err.value)


def test_every_run_a_local_sweep_will_train_is_listed_pending_from_its_start(tmp_path, monkeypatch):
    import launch.local
    from launch.local import SweepInterrupted
    from sweep.results import load_runs

    def interrupted_at_once(grid, options):  # Ctrl-C before the first run wrote anything
        raise SweepInterrupted("Ctrl-C")

    import hydra_plugins.sweep_launchers

    monkeypatch.setattr(hydra_plugins.sweep_launchers, "run_locally", interrupted_at_once)
    monkeypatch.setattr(launch.local, "run_locally", interrupted_at_once)  # where Hydra imports the plugin afresh
    with pytest.raises(SystemExit):
        sweep_with(local_launcher(LocalLauncher, tmp_path), tmp_path, "model.d=16,32", "seed=range(0,2)")
    rows = load_runs(tmp_path)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"pending"}  # was: folders of overrides.yaml, no row


def test_a_true_or_false_setting_given_a_number_is_refused_at_each_point(tmp_path):
    """Was: early_stop.enabled=2 planned as early stopping on (OmegaConf took it as true)."""
    with pytest.raises(ConfigError, match="early_stop.enabled=2: accepted is true or false"):
        compose_grid(["early_stop.enabled=true,2", "model.d=16", f"out_dir={tmp_path}"], "demo")
    with pytest.raises(ConfigError, match="early_stop.enabled=2: accepted is true or false"):
        compose_grid(["early_stop.enabled=2", "model.d=16", f"out_dir={tmp_path}"], "demo")
