"""The GPU path checked in one command: packages, CUDA tests, throughput, a real training run.

    bash benchmarks/gpu_check.sh [--cpu] [--out DIR] [--budget SECONDS] [--skip CHECK ...]

Made for a GPU lent for a few minutes and started bare (an H100/H200 image with CUDA, torch,
transformers, tokenizers, sentencepiece, pyarrow, scipy, matplotlib, rich and pytest), so that
the GPU time goes to one call. In order, each check bounded in time so that the whole stays
within `--budget` (default 470 s):

1. packages: what the image lacks of hydra-core, omegaconf, submitit, wandb and datasets is
   installed from the wheels in benchmarks/gpu_wheels/ (benchmarks/fetch_gpu_wheels.sh fetches
   them where pip's index is reachable) into a folder put on PYTHONPATH; no network is used.
2. cuda tests: `pytest -m cuda tests/test_cuda.py` (a compiled bf16 run with a SIGUSR2 resume,
   the datasheet peak, no host-device sync inside a step, pinned non-blocking batch copies).
3. throughput D=1024 L=8: benchmarks/throughput.py, compiled bf16, V = 32,101, T = 512, at the
   batch that fits: ours, ours with the chunked head + loss, ours with V padded to a multiple of
   128, and the `transformers` GPT-2 reference; then 3 steps of ours profiled: where the step's
   time goes.
4. training run: `sweep prepare`, then `python -m sweep.train` at D=1024, L=8 on C4-shaped
   synthetic data (V = 32,101, documents of about 400 tokens, T = 512), about 300 steps at the
   batch check 3 found, compiled bf16: tokens/s, MFU against the datasheet, first step and
   compile time (its result.json).
5. throughput D=2048 L=16: ours and the reference.

Everything it measures goes to `--out` (default: $OUT when set, else ./gpu_check_out):
gpu_check.log (all output), summary.md and summary.json (rewritten after every check),
throughput_1024x8.json, profile_1024x8.txt, throughput_2048x16.json, train_result.json,
train_metrics.jsonl (8 files: the device tool brings 8 back). The
summary table is printed last. Exit status 0 when every check passed (in `--cpu` mode the CUDA
tests count as passed when all of them were skipped for want of CUDA).

`--cpu` runs the same steps on this machine's CPU at tiny sizes (D=64, eager fp32), skipping what
needs CUDA: tests/test_gpu_check.py runs it, so the GPU run is not the script's first run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
WHEELS = REPO / "benchmarks" / "gpu_wheels"
NEEDED = ("hydra", "omegaconf", "submitit", "wandb", "datasets")  # modules of the packages the image lacks
V, T = 32101, 512  # C4 tokenized by T5: vocabulary and sequence length
DOC_TOKENS = 400  # about C4's mean document length in T5 tokens


@dataclass
class Check:
    name: str
    status: str = "not run"  # passed, failed, timed out, not run
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass
class Settings:
    cpu: bool
    out: Path
    work: Path  # scratch: installed packages, run folders, token cache
    deadline: float  # time.monotonic() by which every check has ended
    env: dict[str, str]
    log: Any  # the open gpu_check.log


def say(settings: Settings, text: str) -> None:
    print(text, flush=True)
    settings.log.write(text + "\n")
    settings.log.flush()


def run(settings: Settings, cmd: list[str], timeout: float) -> tuple[int | None, str]:
    """Run `cmd` in the repo, its output streamed to the console and the log; (exit status, or
    None when it ran past `timeout` and was killed with its children; the output)."""
    say(settings, "$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, cwd=REPO, env=settings.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    lines: list[str] = []

    def pump() -> None:
        for line in proc.stdout:
            lines.append(line)
            say(settings, line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc: int | None = proc.wait(timeout=max(timeout, 1.0))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = None
        say(settings, f"(killed after {timeout:.0f} s)")
    reader.join(timeout=5)
    return rc, "".join(lines)


def check_packages(settings: Settings, check: Check, timeout: float) -> None:
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if not missing:
        check.status, check.note = "passed", f"already installed: {', '.join(NEEDED)}"
        return
    wheels = sorted(WHEELS.glob("*.whl"))
    if not wheels:
        check.status = "failed"
        folder = WHEELS.relative_to(REPO) if WHEELS.is_relative_to(REPO) else WHEELS
        check.note = (f"{', '.join(missing)} missing and {folder}/ holds no wheels: run "
                      "bash benchmarks/fetch_gpu_wheels.sh where pip's index is reachable, and carry the folder")
        return
    site = settings.work / "site"
    rc, _ = run(settings, [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                           "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, wheels)], timeout)
    settings.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), str(REPO), settings.env.get("PYTHONPATH")]))
    if rc == 0:
        rc, _ = run(settings, [sys.executable, "-c", f"import {', '.join(NEEDED)}"], 60)
    check.status = "passed" if rc == 0 else "failed"
    check.note = f"installed {len(wheels)} wheels for {', '.join(missing)}"


def check_cuda_tests(settings: Settings, check: Check, timeout: float) -> None:
    rc, output = run(settings, [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-rs", "-p", "no:cacheprovider",
                                "tests/test_cuda.py"], timeout)
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", output.splitlines()[-1]
                                                     if output.strip() else "")}
    check.figures = counts
    if rc is None:
        check.status = "timed out"
    elif settings.cpu and rc == 0 and set(counts) == {"skipped"}:
        check.status, check.note = "passed", "all skipped: no CUDA device (as expected in --cpu mode)"
    elif rc == 0 and set(counts) == {"passed"}:
        check.status = "passed"
    else:
        check.status = "failed"


def throughput_rows(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else []


def check_throughput(settings: Settings, check: Check, timeout: float, shape: str, cpu_shape: str,
                     extras: list[str]) -> None:
    """benchmarks/throughput.py at `shape` (`cpu_shape` in --cpu mode), ours and the reference, with
    `extras`: "chunked", "padded V", "one graph" (more variants) and "profile" (3 of our steps
    profiled). One H200 call also timed `--one-graph` (1.00x ours) and `--autotune` (its compile ran
    past 3 minutes, and cuBLAS won every matmul it tuned): benchmarks/RESULTS.md; they are left out
    of the default checks."""
    out = settings.out / f"throughput_{shape}.json"
    if settings.cpu:
        args = ["--shapes", cpu_shape, "--modes", "eager", "--precisions", "fp32", "--steps", "1", "--warmup", "1",
                "--batch", "2"]
    else:
        args = ["--shapes", shape, "--modes", "compiled", "--precisions", "bf16", "--steps", "8", "--warmup", "3"]
    if "chunked" in extras:
        args += ["--chunk-tokens", "256" if settings.cpu else "8192"]
    if "padded V" in extras:
        args += ["--pad-vocab", "128"]
    if "one graph" in extras:
        args += ["--one-graph"]
    if "profile" in extras:
        args += ["--profile", str(settings.out / f"profile_{shape}.txt")]
    rc, _ = run(settings, [sys.executable, "benchmarks/throughput.py", *args, "--json", str(out)], timeout)
    rows = throughput_rows(out)
    for row in rows:
        check.figures[row["variant"]] = {k: row.get(k) for k in ("batch", "tokens_per_second", "ratio_to_ref",
                                                                 "mfu_datasheet", "mfu_measured_peak",
                                                                 "first_step_seconds", "peak_memory_gb", "error")}
    check.status = "timed out" if rc is None else "passed" if rc == 0 and rows else "failed"
    if settings.cpu:
        check.note = f"CPU stand-in: D x L = {cpu_shape}, eager fp32"


def check_training_run(settings: Settings, check: Check, timeout: float) -> None:
    runs = settings.work / "runs"
    if settings.cpu:
        d, l, head_dim, seq, batch, steps = 64, 2, 16, 128, 4, 20
        placement = ["train.device=cpu", "train.precision=fp32", "train.compile=false", "data.eval_tokens=4096",
                     "data.synthetic.documents_per_shard=1000"]  # shards of 0.4 M tokens, not 40 M
    else:
        fitted = [r["batch"] for r in throughput_rows(settings.out / "throughput_1024x8.json")]
        d, l, head_dim, seq, batch, steps = 1024, 8, 64, T, (fitted[0] if fitted else 32), 300
        placement = ["train.device=cuda", "train.precision=bf16", "train.compile=true", "data.eval_tokens=65536",
                     "data.synthetic.documents_per_shard=10000"]  # shards of 4 M tokens, as many as the run reads
    n_params = 12 * d * d * l + d * V  # N with the embedding (conf: budget.count_embedding=true)
    tokens_per_param = steps * batch * seq / n_params
    overrides = [f"model.d={d}", f"model.l={l}", f"model.head_dim={head_dim}", f"model.seq_len={seq}",
                 "data=synthetic", f"data.vocab_size={V}", f"data.synthetic.eos_prob={1 / DOC_TOKENS:g}",
                 f"train.batch_size={batch}", f"budget.tokens_per_param={tokens_per_param:.6g}", *placement,
                 "train.log_every=25", "train.eval_every=100000", "logger=none", f"out_dir={runs}",
                 "data.density_documents=1000",  # prepare's duplicate report: a sample is enough here
                 f"data.cache_dir={settings.work / 'token_cache'}"]
    began = time.monotonic()
    rc, _ = run(settings, [sys.executable, "-m", "launch.cli", "prepare", *overrides], timeout)
    check.figures["prepare_seconds"] = time.monotonic() - began
    if rc == 0:
        rc, _ = run(settings, [sys.executable, "-m", "sweep.train", *overrides], timeout - check.figures["prepare_seconds"])
    results = sorted(runs.glob("*/result.json"))
    if results:
        result = json.loads(results[0].read_text())
        shutil.copy(results[0], settings.out / "train_result.json")
        metrics = results[0].with_name("metrics.jsonl")
        if metrics.exists():
            shutil.copy(metrics, settings.out / "train_metrics.jsonl")
        check.figures |= {k: result.get(k) for k in (
            "status", "steps", "train_tokens_per_second", "mfu", "peak_flops_source", "first_step_seconds",
            "compile_seconds", "startup_seconds", "final_train_loss", "final_eval_loss")}
    check.status = ("timed out" if rc is None else
                    "passed" if rc == 0 and results and check.figures.get("status") == "complete" else "failed")
    check.note = f"D={d} L={l} T={seq} batch {batch} V={V}" + (" (CPU stand-in, eager fp32)" if settings.cpu else "")


# (name, function, most seconds on a GPU, seconds kept back for it while earlier checks run)
CHECKS: list[tuple[str, Callable[..., None], float, float]] = [
    ("packages", check_packages, 60, 10),
    ("cuda tests", check_cuda_tests, 150, 60),
    ("throughput D=1024 L=8", lambda s, c, t: check_throughput(
        s, c, t, "1024x8", "64x2", ["chunked", "padded V", "profile"]), 180, 90),
    ("training run D=1024 L=8", check_training_run, 150, 60),
    # measured at 171 s on an H200 (two variants compiled, L = 16): bound past it
    ("throughput D=2048 L=16", lambda s, c, t: check_throughput(s, c, t, "2048x16", "128x2", []), 200, 90),
]
SKIPPABLE = {"cuda": "cuda tests", "throughput1024": "throughput D=1024 L=8", "train": "training run D=1024 L=8",
             "throughput2048": "throughput D=2048 L=16"}  # --skip KEY: a second call spends its minutes elsewhere


def figures_text(check: Check) -> str:
    f = check.figures
    if check.name.startswith("throughput") and f:
        parts = []
        for variant, row in f.items():
            if row["error"]:
                parts.append(f"{variant} failed ({row['error'][:120]})")
                continue
            mfu = row["mfu_datasheet"] if row["mfu_datasheet"] is not None else row["mfu_measured_peak"]
            memory = f", {row['peak_memory_gb']:.0f} GB" if row["peak_memory_gb"] else ""
            ratio = f"{row['ratio_to_ref']:.2f}x ref, " if row["ratio_to_ref"] is not None else ""
            parts.append(f"{variant} {row['tokens_per_second']:,.0f} tok/s ({ratio}MFU {mfu:.1%}{memory})")
        return f"batch {next(iter(f.values()))['batch']}: " + "; ".join(parts)
    if check.name.startswith("training") and "status" in f:
        def num(key: str, fmt: str) -> str:
            return format(f[key], fmt) if isinstance(f.get(key), (int, float)) else "-"
        return (f"{f['status']}, {f['steps']} steps, {num('train_tokens_per_second', ',.0f')} tok/s, "
                f"MFU {num('mfu', '.1%')} ({f['peak_flops_source']}), first step {num('first_step_seconds', '.1f')} s, "
                f"compile {num('compile_seconds', '.1f')} s, start to first step {num('startup_seconds', '.1f')} s")
    return ", ".join(f"{v} {k}" for k, v in f.items())


def write_summary(settings: Settings, checks: list[Check], header: str) -> str:
    rows = [f"| {c.name} | {c.status} | {c.seconds:.0f} | {'; '.join(filter(None, [figures_text(c), c.note]))} |"
            for c in checks]
    table = "\n".join([header, "", "| check | status | seconds | figures |", "|---|---|---:|---|", *rows])
    (settings.out / "summary.md").write_text(table + "\n")
    (settings.out / "summary.json").write_text(json.dumps(
        {"header": header, "checks": [asdict(c) for c in checks]}, indent=1) + "\n")
    return table


def machine_header(cpu: bool) -> str:
    import platform

    text = f"gpu_check{' --cpu' if cpu else ''} on {platform.node()}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; "
    text += f"Python {platform.python_version()}"
    try:
        import torch

        text += f", torch {torch.__version__}"
        if torch.cuda.is_available():
            text += f", {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
        else:
            text += f", CPU ({os.cpu_count()} cores)"
    except ImportError:
        text += ", no torch"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU at tiny sizes, skipping what needs CUDA")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu_check_out"),
                        help="folder for everything measured (default: $OUT, else ./gpu_check_out)")
    parser.add_argument("--budget", type=float, default=470, help="seconds for all the checks together")
    parser.add_argument("--skip", nargs="+", default=[], choices=sorted(SKIPPABLE), metavar="CHECK",
                        help=f"checks not run: {', '.join(sorted(SKIPPABLE))}")
    args = parser.parse_args(argv)
    skipped = {SKIPPABLE[key] for key in args.skip}
    chosen = [entry for entry in CHECKS if entry[0] not in skipped]
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if args.cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""  # what needs CUDA is skipped even on a GPU machine
    started = time.monotonic()
    with open(args.out / "gpu_check.log", "w") as log:
        settings = Settings(cpu=args.cpu, out=args.out, work=work, deadline=started + args.budget, env=env, log=log)
        header = machine_header(args.cpu)
        say(settings, header)
        checks = [Check(name) for name, *_ in chosen]
        for i, (check, (name, function, most, _)) in enumerate(zip(checks, chosen)):
            kept_back = sum(reserve for *_, reserve in chosen[i + 1:])
            timeout = min(most * (3 if args.cpu else 1), settings.deadline - time.monotonic() - kept_back)
            say(settings, f"\n== {name} (at most {timeout:.0f} s)")
            if timeout < 10:
                check.status, check.note = "not run", "no time left in --budget"
            else:
                began = time.monotonic()
                function(settings, check, timeout)
                check.seconds = time.monotonic() - began
            write_summary(settings, checks, header)
            if check.name == "packages" and check.status != "passed":
                break  # nothing after it can import the project
        table = write_summary(settings, checks, header)
        say(settings, f"\nwhole check: {time.monotonic() - started:.0f} s; figures in {args.out}\n\n{table}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(c.status == "passed" for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
