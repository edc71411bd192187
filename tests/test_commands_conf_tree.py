"""launch/commands/conf_tree.py: the installed config tree read as plain YAML (a file of it, the
experiment presets), the same files Hydra composes from."""

from pathlib import Path

import yaml

import conf
from launch.commands.conf_tree import conf_file, experiment_presets

CONF = Path(conf.__file__).parent


def test_a_file_of_the_tree_reads_as_its_yaml():
    assert conf_file("sync.yaml") == yaml.safe_load((CONF / "sync.yaml").read_text())
    assert set(conf_file("sync.yaml")) == {"jobs", "timeout_s"}  # what `sweep sync` reads from it


def test_the_presets_are_the_experiment_folders_yaml_files_by_name_in_order(tmp_path):
    expected = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
    presets = experiment_presets()
    assert presets == expected and {"lr_ucurve", "otr"} <= set(presets)
    assert all(not name.endswith(".yaml") and not name.startswith("_") for name in presets)
