"""pytest plugin: a real single-node Slurm for the tests that need one.

`slurm_cluster` (session): a Slurm that answers, in this order of preference
  1. one already running with a usable node (started by the user, by .ci/run, or by another test
     session through this fixture): used as it is;
  2. as root with apt-get: launch/slurm_testbed/up.sh installs and starts the project's testbed
     (about 10 s on a bare Debian 12, 3 s when installed); the last test session using it runs
     down.sh at its end;
  3. otherwise the tests are skipped, with the reason. Under CI (CI=true) they fail instead.

Every call to a Slurm tool has a timeout: on a drained node `srun` waits forever.
Enable it with `pytest_plugins = ["tests.slurm_cluster"]` in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTBED = REPO / "launch" / "slurm_testbed"
STATE = Path(os.environ.get("SWEEP_SLURM_STATE", "/run/sweep-slurm-testbed"))
UP_TIMEOUT_S = float(os.environ.get("SWEEP_SLURM_UP_TIMEOUT", "900"))  # apt on a slow mirror
USABLE = {"idle", "mix", "mixed", "alloc", "allocated", "comp", "completing"}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def slurm(*cmd: str, timeout: float = 30, check: bool = True) -> str:
    """Run a Slurm command line tool with a timeout; its stdout."""
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(cmd)} did not answer in {timeout} s") from e
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class SlurmCluster:
    partition: str  # the default partition
    node: str
    max_array_size: int  # MaxArraySize: an array has at most this many tasks
    gpus: int  # GPUs on the node (the testbed's one is fake: CUDA_VISIBLE_DEVICES set, no CUDA)
    cpus: int
    started_here: bool  # this test session started it (and the last session using it stops it)

    def sacct(self, job_id: str | int) -> dict[str, str]:
        """{job id (or array task id "123_4"): state} of the allocations, latest attempt each."""
        out = slurm("sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", str(job_id), timeout=20)
        states = {}
        for line in out.splitlines():
            jid, state = line.split("|")
            states[jid] = state.split()[0]  # "CANCELLED by 0" -> CANCELLED
        return states

    def state(self, job_id: str | int) -> str | None:
        return self.sacct(job_id).get(str(job_id))

    def final_state(self, job_id: str | int, timeout: float = 60) -> str:
        """The job's state once it has ended (a run's result.json is written a moment before its
        job process exits)."""
        deadline = time.monotonic() + timeout
        while (state := self.state(job_id)) in (None, "PENDING", "RUNNING", "COMPLETING", "REQUEUED"):
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {state} after {timeout} s\n{self.diagnose()}")
            time.sleep(1)
        return state

    def diagnose(self) -> str:
        """What to look at when a job does not run: the node's state and reason, the queue."""
        parts = []
        for cmd in (["sinfo", "-N", "-o", "%N %t %E %G"], ["squeue", "-o", "%i %T %r %M %l %j"]):
            try:
                parts.append(slurm(*cmd, timeout=10, check=False))
            except AssertionError as e:
                parts.append(str(e))
        return "".join(parts)


def probe() -> SlurmCluster | None:
    """The running Slurm if one answers with a usable node in its default partition, else None."""
    if shutil.which("sinfo") is None:
        return None
    try:
        out = slurm("sinfo", "-h", "-N", "-o", "%P|%N|%t|%G|%c", timeout=10)
    except AssertionError:
        return None
    rows = [line.split("|") for line in out.splitlines() if line.count("|") == 4]
    default = [r for r in rows if r[0].endswith("*")] or rows
    usable = [r for r in default if r[2].rstrip("*~#%$@^-") in USABLE and not r[2].endswith("*")]
    if not usable:
        return None
    partition, node, _, gres, cpus = usable[0]
    gpus = sum(int(n) for n in re.findall(r"gpu(?::[^:,(]+)?:(\d+)", gres))
    config = slurm("scontrol", "show", "config", timeout=10)
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", config, re.M)
    return SlurmCluster(partition=partition.rstrip("*"), node=node,
                        max_array_size=int(match.group(1)) if match else 1001,
                        gpus=gpus, cpus=int(cpus), started_here=False)


def describe_running() -> str:
    try:
        return slurm("sinfo", "-N", "-o", "%P %N %t %E", timeout=10, check=False).strip() or "no nodes"
    except AssertionError as e:
        return str(e)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Test sessions on one machine start, join and stop the testbed one at a time."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_script(name: str, timeout: float) -> str:
    script = TESTBED / name
    try:
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise RuntimeError(f"{script} did not finish in {timeout:.0f} s; its output:\n{out}") from e
    if done.returncode != 0:
        raise RuntimeError(f"{script} exited {done.returncode}; its output:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def live_users(users: Path) -> list[Path]:
    alive = []
    for entry in users.glob("*"):
        try:
            os.kill(int(entry.name), 0)
            alive.append(entry)
        except (ValueError, ProcessLookupError):
            entry.unlink(missing_ok=True)
        except PermissionError:
            alive.append(entry)
    return alive


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true and no Slurm: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    can_start = os.geteuid() == 0 and shutil.which("apt-get") is not None and (TESTBED / "up.sh").exists()
    if not can_start:
        cluster = probe()
        if cluster is None:
            unavailable("needs root to install and start Slurm (launch/slurm_testbed/up.sh), or a running "
                        f"Slurm with an idle node (sinfo: {describe_running() if shutil.which('sinfo') else 'not installed'})")
        yield cluster
        return

    STATE.mkdir(parents=True, exist_ok=True)
    users = STATE / "users"
    me = users / str(os.getpid())
    with locked(STATE / "fixture.lock"):
        cluster = probe()
        if cluster is not None:
            managed = (STATE / "fixture-started").exists()  # another test session started it
        else:
            started = time.monotonic()
            try:
                log = run_script("up.sh", UP_TIMEOUT_S)
            except RuntimeError as e:
                pytest.fail(f"could not start the test Slurm: {e}", pytrace=False)
            cluster = probe()
            if cluster is None:
                pytest.fail(f"up.sh succeeded but no usable node: {describe_running()}\n{log}", pytrace=False)
            (STATE / "fixture-started").touch()
            managed = True
            print(f"\nslurm testbed started in {time.monotonic() - started:.1f} s:\n{log}")
        if managed:
            users.mkdir(exist_ok=True)
            me.touch()
            cluster.started_here = True
    # submitit pickles test functions by reference (tests.<module>.<name>); the job runs
    # `python -m submitit.core._submit` in the submitting cwd with the submitting environment
    # (sbatch exports it): the repository on PYTHONPATH makes `tests` importable from any cwd.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
        yield cluster
    if managed:
        with locked(STATE / "fixture.lock"):
            me.unlink(missing_ok=True)
            if not live_users(users) and (STATE / "fixture-started").exists():
                try:
                    run_script("down.sh", 120)
                except RuntimeError as e:
                    print(f"slurm testbed: {e}")

