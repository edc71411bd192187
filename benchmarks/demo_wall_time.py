"""Wall time of the README demo (target: under 10 minutes on 2 CPU cores).

    python benchmarks/demo_wall_time.py [--out-dir DIR]

Runs `sweep demo` into a fresh folder and prints the total wall time and, per run, its size,
steps, wall seconds and training tokens/s (from result.json). Record the figures, with the
machine, date and command, in benchmarks/RESULTS.md.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=None, help="default: a new temporary folder")
    args = parser.parse_args()
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="demo-bench-")) / "demo"
    start = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "launch.cli", "demo", "--out-dir", str(out)],
                           stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"{'run':50s} {'N':>9s} {'steps':>6s} {'wall s':>7s} {'tok/s':>8s}  eval loss")
    for result_file in sorted(out.glob("*/result.json")):
        r = json.loads(result_file.read_text())
        print(f"{r['run']:50s} {r['n_params']:9,d} {r['steps']:6d} {r['wall_seconds']:7.1f} "
              f"{r['tokens_per_second']:8,.0f}  {r['final_eval_loss']:.4f}")
    print(f"demo exit code {code}; total wall time {wall / 60:.1f} min (target < 10 min)")


if __name__ == "__main__":
    main()
