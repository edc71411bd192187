"""launch/launcher_names.py: which launcher options a command line sets, and an alias against ours."""

from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir

from launch.grid import CONF_DIR
from launch.launcher_names import aliased_value, given_options
from sweep.errors import ConfigError


def launcher(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose("train", overrides=["hydra/launcher=slurm", *overrides], return_hydra_config=True).hydra.launcher


def test_options_count_as_given_when_they_differ_from_the_launcher_s_yaml():
    assert given_options(launcher(), "slurm") == set()
    assert given_options(launcher("out_dir=elsewhere"), "slurm") == set()  # folder is still ${out_dir}/.submitit
    assert given_options(launcher("hydra.launcher.max_requeues=2", "hydra.launcher.folder=/logs",
                                  "hydra.launcher.max_num_timeout=2"), "slurm") \
        == {"max_requeues", "folder", "max_num_timeout"}


def test_an_alias_replaces_ours_and_refuses_a_different_value_of_ours_given_with_it():
    options = SimpleNamespace(max_num_timeout=5, max_requeues=3)
    assert aliased_value(options, "max_num_timeout", "max_requeues", set()) == 5
    assert aliased_value(SimpleNamespace(max_num_timeout=None, max_requeues=3), "max_num_timeout", "max_requeues",
                         {"max_requeues"}) == 3
    with pytest.raises(ConfigError, match="max_num_timeout=5 and hydra.launcher.max_requeues=3 disagree"):
        aliased_value(options, "max_num_timeout", "max_requeues", {"max_requeues"})
