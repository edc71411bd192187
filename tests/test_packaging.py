"""The installed project (pyproject.toml): both console scripts, Hydra's own discovery of the
project's sweeper and launchers, and shell completion work from any directory, under an editable
install (the README's `pip install -e`) and a regular one (`pip install .`).

Each install goes into a fresh virtualenv, made once per test session, that sees this
environment's packages (torch, hydra, ...) through a .pth file: pip installs only the project,
without dependencies, without build isolation and without an index, so nothing is downloaded.
It installs a copy of the project's files, so no build output lands in the checkout (and none
left there from an earlier build can slip into the wheel). Every command runs in an empty
folder outside the project."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import site
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTED = ("pyproject.toml", "README.md", "sweep", "model", "launch", "conf")  # what a build reads


def installed(distribution: str) -> bool:
    """Asked of its metadata, not by finding its module: finding pip's module spec switches
    setuptools' distutils shim off for this whole process, and torch.compile then fails."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


MISSING = [name for name in ("pip", "setuptools") if not installed(name)]
if MISSING or shutil.which("bash") is None:  # pip installs, setuptools builds (offline)
    pytest.skip(f"installing the project needs {', '.join(MISSING) or 'bash'} in this environment",
                allow_module_level=True)

DISCOVER = """
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
for kind in (Sweeper, Launcher):
    for plugin in Plugins.instance().discover(kind):
        print(plugin.__module__, plugin.__name__)
import hydra_plugins.sweep_launchers as mine
print("from", mine.__file__)
"""

# Tab after `sweep-train ` with Hydra's completion installed as its README line says.
HYDRA_TAB = """
eval "$(sweep-train --shell-completion install=bash)"
COMP_LINE="sweep-train "; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(sweep-train ""); COMP_CWORD=1
hydra_bash_completion
printf '%s\\n' "${COMPREPLY[@]}"
"""

# Tab after `sweep ` with the completion of the `sweep` command installed as the README says.
SWEEP_TAB = """
script=$(sweep completion bash) && bash -n <<<"$script" && eval "$script"
COMP_WORDS=(sweep ""); COMP_CWORD=1
_sweep_completion
printf '%s\\n' "${COMPREPLY[@]}"
"""


def copy_of_project(dest: Path) -> Path:
    dest.mkdir()
    for name in DISTRIBUTED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, dest / name)
    return dest


def fresh_venv(path: Path) -> Path:
    """A virtualenv whose own site-packages comes first, then this environment's."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    (own,) = path.glob("lib/python*/site-packages")
    (own / "this_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return path


def pip_install(venv: Path, *args: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                           "--no-build-isolation", "-q", *args], capture_output=True, text=True, env=env,
                          cwd=venv)
    assert proc.returncode == 0, proc.stdout + proc.stderr


COMMANDS = {
    "sweep --help": (["sweep", "--help"], {}),
    "sweep plan": (["sweep", "plan", "model.d=64", "model.l=1"], {}),
    "sweep-train --help": (["sweep-train", "--help"], {}),
    "sweep-train --cfg job": (["sweep-train", "--cfg", "job"], {}),
    "discover": (["python", "-c", DISCOVER], {}),
    "hydra tab": (["bash", "--norc", "--noprofile", "-c", HYDRA_TAB], {}),
    "sweep tab": (["bash", "--norc", "--noprofile", "-c", SWEEP_TAB], {}),
}


@pytest.fixture(scope="module", params=[  # editable is slow: CI and the README install editable
    pytest.param("editable", marks=pytest.mark.slow), "regular"])
def installed(request, tmp_path_factory) -> tuple[str, Path, dict[str, subprocess.CompletedProcess]]:
    """(kind, the installed project's folder, every command of COMMANDS run from an empty folder),
    the commands run side by side to keep the module fast."""
    base = tmp_path_factory.mktemp(request.param)
    source = copy_of_project(base / "source")
    venv = fresh_venv(base / "venv")
    pip_install(venv, *(["-e", str(source)] if request.param == "editable" else [str(source)]))
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    for variable in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(variable, None)

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(len(COMMANDS)) as pool:
        results = dict(zip(COMMANDS, pool.map(run, [argv for argv, _ in COMMANDS.values()])))
    assert list(elsewhere.iterdir()) == []  # no command wrote into the folder it was started in
    site_packages = next(venv.glob("lib/python*/site-packages"))
    return request.param, source if request.param == "editable" else site_packages, results


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_sweep_starts_from_any_directory(installed):
    _, _, results = installed
    assert "{plan,prepare,status,fit,report,predict,suggest,sync,demo,experiment,completion}" in ok(results["sweep --help"])
    assert "total: 1 runs (1 pending)" in ok(results["sweep plan"])


def test_sweep_train_starts_from_any_directory(installed):
    _, _, results = installed
    help_text = ok(results["sweep-train --help"])
    assert "data: c4, embedded, files, hf, synthetic" in help_text
    job = yaml.safe_load(ok(results["sweep-train --cfg job"]))
    assert {"model", "optim", "train", "budget", "data", "logger"} <= set(job)


def test_hydra_discovers_the_projects_sweeper_and_launchers_by_itself(installed):
    """No registration by hand: Hydra's own scan of the `hydra_plugins` namespace finds them, in
    the installed copy."""
    kind, installed_at, results = installed
    lines = ok(results["discover"]).splitlines()
    for name in ("GridSweeper", "LocalLauncher", "SlurmLauncher"):
        assert f"hydra_plugins.sweep_launchers {name}" in lines
    origin = Path(lines[-1].removeprefix("from "))
    assert origin.is_relative_to(installed_at), origin


def test_hydra_completion_of_sweep_train_offers_config_groups_and_keys(installed):
    _, _, results = installed
    offered = ok(results["hydra tab"]).split()
    assert {"data=", "logger=", "model.", "optim.", "train."} <= set(offered)


def test_completion_of_sweep_offers_its_subcommands(installed):
    _, _, results = installed
    assert ok(results["sweep tab"]).split() == ["plan", "prepare", "status", "fit", "report", "predict", "suggest",
                                                "sync", "demo", "experiment", "completion", "-h", "--help"]


def test_a_regular_install_holds_every_module_and_config_of_the_project(tmp_path):
    """A built wheel has every .py and .yaml of sweep/, model/, launch/ and conf/ (the Hydra
    plugins as the `hydra_plugins` namespace), so a new module or config folder cannot be left
    out of pyproject.toml."""
    source = copy_of_project(tmp_path / "source")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
                           "-q", "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    in_wheel = {name for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name}
    expected = set()
    for package in ("sweep", "model", "launch", "conf"):
        for path in (source / package).rglob("*"):
            if path.suffix in (".py", ".yaml"):
                name = path.relative_to(source).as_posix()
                expected.add(name.replace("launch/hydra_plugins/", "hydra_plugins/", 1))
    assert in_wheel == expected


# declared for a module the project does not import itself: transformers' T5 tokenizer loads it
RUNTIME_ONLY = {"sentencepiece": "transformers' T5 tokenizer reads spiece.model with it"}


def test_the_dependencies_are_what_the_project_imports():
    """Every third-party module sweep/, launch/ and model/ import (at the top or in a function)
    comes from a declared dependency, and every dependency is imported (or RUNTIME_ONLY says by
    whom); test and benchmark tools are extras."""
    import ast
    import re

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
                for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    modules = set()
    for package in ("sweep", "launch", "model"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules.add(node.module.split(".")[0])
    own = {"sweep", "launch", "model", "conf", "hydra_plugins"}
    third_party = {m for m in modules - own if m not in sys.stdlib_module_names}
    distributions = importlib.metadata.packages_distributions()
    imported = {distributions[m][0].lower().replace("_", "-") for m in third_party}
    assert imported <= declared, f"imported, not declared: {sorted(imported - declared)}"
    assert declared - imported == set(RUNTIME_ONLY), f"declared, not imported: {sorted(declared - imported)}"
