"""Cooldown branches against cosine runs from scratch: the same grid both ways, side by side
(issue 17; goal: at most 0.65x the compute, every branch's final eval loss within 1% of the
cosine run's, or better).

    python benchmarks/cooldown_ladder.py [--out-dir DIR] [--widths 32,48,64] [--budgets 5,10,20,40] [--seed 0]

The grid is the README demo's (conf/demo.yaml: data=synthetic with a known entropy rate, local
launcher, one run after another on the CPU) over the given widths and tokens per parameter:
  - cosine: `python -m sweep.train -m --config-name demo model.d=W budget.tokens_per_param=B`
    (every budget a run from scratch, the default schedule);
  - wsd: the same with `optim.schedule=wsd budget.branch=true` (per width one trunk at constant
    learning rate, one cooldown branch per budget; optim.cooldown_fraction and cooldown_shape at
    their defaults).
Prints, per sweep, the FLOPs actually trained (cosine: the runs' 6 N T; wsd: the trunk's FLOPs
plus each branch's own) and the wall time of its command; per point, each way's final eval loss
and its standard error and the branch's relative difference; then the Chinchilla fit of each
sweep (E, A, B, alpha, beta) and its N_opt at the compute of the largest run x 10.
Record the figures, with the machine, date and command, in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_sweep(out: Path, cache: Path, widths: str, budgets: str, extra: list[str]) -> float:
    """Train the grid into `out` (the corpus prepared in `cache`); returns the command's wall seconds."""
    cmd = [sys.executable, "-m", "sweep.train", "-m", "--config-name", "demo", f"model.d={widths}",
           f"budget.tokens_per_param={budgets}", f"out_dir={out}", f"data.cache_dir={cache}", "logger=none", *extra]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}\nexit code {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return time.perf_counter() - started


def results(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]


def trained_flops(result: dict) -> float:
    """What the run itself spent: a branch its own part; a trunk or a plain run its whole FLOPs."""
    return result["own_flops"] if result.get("role") == "branch" else result["flops"]


def chinchilla(out: Path, compute: float) -> dict:
    """The Chinchilla law fitted to a sweep's runs (trunks are not points of it): its constants
    and N_opt at `compute`."""
    from launch import api

    law = api.fit(str(out), "chinchilla").fit.law
    return {**{k: getattr(law, k) for k in ("E", "A", "B", "alpha", "beta")}, "n_opt": float(law.n_opt(compute))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--widths", default="32,48,64")
    parser.add_argument("--budgets", default="5,10,20,40")
    parser.add_argument("--seed", type=int, default=0, help="the runs' seed (initialisation and data order)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="ladder-bench-"))
    prepare = subprocess.run([sys.executable, "-m", "launch.cli", "prepare", "--config-name", "demo",
                              f"model.d={args.widths}", f"budget.tokens_per_param={args.budgets}",
                              f"data.cache_dir={out / 'token_cache'}"], cwd=REPO, capture_output=True, text=True)
    if prepare.returncode != 0:
        raise SystemExit(f"sweep prepare failed:\n{prepare.stdout[-4000:]}\n{prepare.stderr[-4000:]}")
    cache = out / "token_cache"  # one corpus for both sweeps
    seed = [f"seed={args.seed}"]
    walls = {"cosine": run_sweep(out / "cosine", cache, args.widths, args.budgets, seed),
             "wsd": run_sweep(out / "wsd", cache, args.widths, args.budgets,
                              [*seed, "optim.schedule=wsd", "budget.branch=true"])}
    runs = {way: results(out / way) for way in walls}
    flops = {way: sum(trained_flops(r) for r in runs[way]) for way in walls}
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}; "
          f"widths {args.widths}, budgets {args.budgets}, seed {args.seed}; folders {out}")
    for way in walls:
        print(f"{way:7s} {len(runs[way]):3d} runs  FLOPs {flops[way]:.3e}  wall {walls[way] / 60:5.1f} min")
    print(f"wsd / cosine: FLOPs {flops['wsd'] / flops['cosine']:.3f}x, wall {walls['wsd'] / walls['cosine']:.3f}x")

    cosine = {(r["d"], r["tokens_per_param"]): r for r in runs["cosine"]}
    branches = {(r["d"], r["tokens_per_param"]): r for r in runs["wsd"] if r.get("role") == "branch"}
    print(f"\n{'d':>4s} {'tpp':>5s} {'cosine eval loss':>22s} {'branch eval loss':>22s} {'branch/cosine-1':>16s}")
    worst = 0.0
    for key in sorted(cosine):
        c, b = cosine[key], branches.get(key)
        if b is None:
            print(f"{key[0]:4d} {key[1]:5g}  no branch result")
            continue
        rel = b["final_eval_loss"] / c["final_eval_loss"] - 1
        worst = max(worst, rel)
        print(f"{key[0]:4d} {key[1]:5g} {c['final_eval_loss']:.4f} +- {c['final_eval_loss_stderr']:.4f}     "
              f"{b['final_eval_loss']:.4f} +- {b['final_eval_loss_stderr']:.4f}     {rel:+.2%}")
    print(f"worst branch/cosine - 1: {worst:+.2%} (goal: at most +1%)")

    compute = 10 * max(r["flops"] for r in runs["cosine"])
    print(f"\nChinchilla fit of each sweep; N_opt at C = {compute:.3e} FLOPs")
    for way in walls:
        f = chinchilla(out / way, compute)
        print(f"{way:7s} E {f['E']:.3f}  A {f['A']:.4g}  B {f['B']:.4g}  alpha {f['alpha']:.3f}  "
              f"beta {f['beta']:.3f}  N_opt {f['n_opt']:.3e}")


if __name__ == "__main__":
    main()
