"""The installed config tree (the `conf` package), read as plain YAML: a file of it, the experiment presets."""

from __future__ import annotations

from typing import Any


def conf_file(name: str) -> dict[str, Any]:
    """A file of the config tree (the installed `conf` package), as plain YAML."""
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("conf").joinpath(name).read_text())


def experiment_presets() -> list[str]:
    """The experiment presets of the installed config tree (conf/experiment/NAME.yaml)."""
    from importlib.resources import files

    return sorted(p.name.removesuffix(".yaml") for p in files("conf").joinpath("experiment").iterdir()
                  if p.name.endswith(".yaml"))

