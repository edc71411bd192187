"""The `sweep` command: plan a grid, prepare its data, show a sweep's status, run the demo.

    sweep plan model.d=64,128 model.l=1,2 optim.lr=1e-3,3e-3   # N, tokens, steps, FLOPs per point
    sweep prepare data=c4 model.d=256,512 model.l=4,8 --workers 16  # tokenize what the grid needs
    sweep status runs/                                          # table of runs in a sweep folder
    sweep status wandb:my-team/scaling-sweep/runs               # ... or in a W&B project's group
    sweep status runs/ --plot runs/scaling.png --csv runs.csv
    sweep fit runs/ --law chinchilla --bootstrap 1000 --json        # a scaling law fitted to a sweep
    sweep fit runs.csv --law chinchilla --json                      # ... or to your own table
    sweep report runs/                                          # every fit: report.md, figures, CSV
    sweep predict runs/ --at-fraction 0.25                      # each run's final loss from its first 25%
    sweep predict wandb:my-team/scaling-sweep/runs              # ... of the runs of a W&B group
    sweep suggest runs/ --target-compute 1e21 --count 4         # the next runs that most sharpen L*(C), N_opt(C)
    sweep suggest --replay runs.csv                             # ... replayed on a finished table
    sweep sync runs/ --jobs 8                                   # upload its offline W&B runs
    sweep demo                                                  # a small local scaling sweep
    sweep completion bash                                       # bash completion of this command
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import re
import sys
from typing import Any, Sequence

# each subcommand's work and output: launch/commands/NAME.py; here, only the command line
from launch.commands.conf_tree import experiment_presets
from launch.commands.demo import demo, experiment
from launch.commands.fit import fit
from launch.commands.plan import plan
from launch.commands.predict import predict
from launch.commands.prepare import SLURM_TIME_MIN, prepare
from launch.commands.printing import error_console, styled
from launch.commands.report import report
from launch.commands.status import status
from launch.commands.suggest import add_loop_options, suggest_command
from launch.commands.sync import sync
from launch.completion import SHELLS, bash_completion, path_value
from launch.queue import POLL_INTERVAL_S
from sweep.errors import ConfigError
from sweep.fit.defaults import FitDefaults, fit_defaults
from sweep.fit.law_bootstrap import BOOTSTRAP_METHODS
from sweep.fit.laws import LAWS
from sweep.storage import output_failed


TRAINING_HELP = """\
training (Hydra's command line, not a subcommand; `sweep-train` is the same command):
    python -m sweep.train model.d=128 model.l=2 optim.lr=3e-3           # one run, here
    python -m sweep.train -m hydra/launcher=local model.d=64,128 optim.lr=1e-3,3e-3   # a grid, here
    python -m sweep.train -m hydra/launcher=slurm model.d=256,512 model.l=4,8 --dry-run  # plan a Slurm grid
    python -m sweep.train --help          # its main keys and defaults, launchers, examples

`sweep SUBCOMMAND --help`: that subcommand's options and examples.
"""


COLUMN_HELP = ("read the runs file's COLUMN as NAME (n_params, tokens, loss, flops, recipe, lr, batch_size, "
               "weight_decay, seed, ...), before any name it is otherwise looked for under; repeatable")
SUBCOMMAND_EXAMPLES = {
    "plan": """\
    sweep plan model.d=64,128 model.l=1,2 optim.lr=1e-3,3e-3
    sweep plan --config-name demo                      # the demo's grid (conf/demo.yaml)""",
    "prepare": """\
    sweep prepare --config-name demo                   # the demo's synthetic corpus
    sweep prepare data=c4 model.d=256,512 model.l=4,8 --workers 16""",
    "status": """\
    sweep status runs/demo
    sweep status runs/demo --plot scaling.png --csv runs.csv
    sweep status runs/width-depth --wait               # until no run is queued or running
    sweep status wandb:my-team/scaling-sweep/demo      # the runs of a W&B group""",
    "fit": """\
    sweep fit runs/demo                                # loss(N, T) = E + A/N^alpha + B/T^beta
    sweep fit runs/demo --law chinchilla --bootstrap 200 --json
    sweep fit runs/demo --law compare                  # fit the smaller runs, predict the largest
    sweep fit --runs-table runs.csv --law isoflop
    sweep fit open_lm.csv --column loss=pile_val       # a runs file's own column read as the loss""",
    "report": """\
    sweep report runs/demo                             # runs/demo/report/report.md and figures
    sweep report runs/demo --out demo-report --bootstrap 200""",
    "predict": """\
    sweep predict runs/demo                            # every run, finished or training, from its curve so far
    sweep predict runs/demo --at-fraction 0.25         # replay: what it would have said at 25% of each run
    sweep predict runs/demo --json --bootstrap 500
    sweep predict runs/demo --at-fraction 0.25 --floor true   # ... from a finished smaller size where there is one
    sweep predict runs/demo --at-fraction 0.25 --floor auto   # ... E calibrated on the two sizes below each run
    sweep predict wandb:my-team/scaling-sweep/demo     # ... or the runs of a W&B group (sampled histories)""",
    "suggest": """\
    sweep suggest runs/demo --target-compute 1e15                 # 4 runs that most narrow L*(C), N_opt(C)
    sweep suggest runs/demo --target-compute 1e15 --budget 3e14   # the best set within 3e14 FLOPs
    sweep suggest runs/demo --target-compute 1e15 --candidates "model.d=64,96,128 budget.tokens_per_param=10,40"
    sweep suggest runs.csv --target-compute 1e21 --json           # a table file: candidates on N only
    sweep suggest --replay runs.csv --bootstrap 50                # active vs random / grid / spread on a table""",
    "sync": """\
    sweep sync runs/demo                               # every offline W&B run of the sweep, 8 at once
    sweep sync runs/width-depth --jobs 32              # again after an interruption: skips what was synced""",
    "demo": """\
    sweep demo
    sweep demo --out-dir runs/my-demo""",
    "experiment": """\
    sweep experiment lr_ucurve                          # conf/experiment/lr_ucurve.yaml at its CPU scale, here
    sweep experiment otr out_dir=runs/otr-again         # with Hydra overrides""",
    "completion": """\
    source <(sweep completion bash)""",
}


class SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: its examples (SUBCOMMAND_EXAMPLES) after its options, as written;
    options by their whole names only (`--round 1` was taken for `--rounds 1`, and trained)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        examples = SUBCOMMAND_EXAMPLES.get(str(kwargs.get("prog", "")).split()[-1])
        if examples and "epilog" not in kwargs:
            kwargs["epilog"] = "examples:\n" + examples
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def negative_values_joined(argv: list[str]) -> list[str]:
    """`--target-compute -1e21` as `--target-compute=-1e21`: argparse reads a negative number in
    scientific notation as an option, and would say the option has no value instead of checking it."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and re.fullmatch(r"-\d[\d.]*([eE][-+]?\d+)?", arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def build_parser(defaults: FitDefaults) -> tuple[argparse.ArgumentParser, Any]:
    """The `sweep` parser and its subparsers' action (each subcommand's options, `defaults` the
    fits' conf/fit.yaml values its --bootstrap and --seed show)."""
    parser = argparse.ArgumentParser(prog="sweep", description=__doc__, epilog=TRAINING_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=SubcommandParser)
    p = sub.add_parser("plan", help="list a grid's runs with N, tokens, steps and FLOPs, without training")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m sweep.train -m")
    p.add_argument("--config-name", default="train")
    r = sub.add_parser("prepare", help="tokenize, once, the data a grid needs (streamed corpora: up to the "
                                       "largest run's tokens)")
    r.add_argument("overrides", nargs="*", help="the sweep's Hydra overrides (data=c4 model.d=256,512 ...)")
    r.add_argument("--config-name", default="train")
    r.add_argument("--workers", type=int, default=1, help="tokenizer processes (one unit, a data file, each)")
    r.add_argument("--slurm", action="store_true",
                   help="run as one Slurm CPU job with the overrides' hydra/launcher=slurm settings")
    r.add_argument("--time-min", type=int, help=f"time limit of the --slurm job, minutes (default {SLURM_TIME_MIN})")
    r.add_argument("--wait", action="store_true", help="with --slurm: wait for the job and print its summary")
    s = sub.add_parser("status", help="table of the runs in a sweep folder or a W&B group")
    s.add_argument("sweep", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP")
    s.add_argument("--plot", type=path_value, help="write a PNG of final loss against N and FLOPs")
    s.add_argument("--csv", type=path_value, help="write the runs table as CSV")
    s.add_argument("--json", action="store_true",
                   help="print the runs table as JSON rows (nested fields dotted, as in the CSV) on stdout; the "
                        "rest goes to stderr")
    s.add_argument("--parquet", type=path_value, metavar="FILE", help="write the runs table as parquet")
    s.add_argument("--wait", action="store_true", help="follow the sweep until no run is queued or running")
    s.add_argument("--interval", type=float, default=POLL_INTERVAL_S, help="seconds between checks with --wait")
    s.add_argument("--upload", action="store_true",
                   help="log the runs table (and --plot's figure) to the sweep's W&B group")
    f = sub.add_parser("fit", help="fit a scaling law to a sweep's complete runs")
    f.add_argument("sweep", nargs="?", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP | RUNS.csv")
    f.add_argument("--runs-table", type=path_value,
                   help="a runs file (.csv, .tsv, .json, .jsonl, .parquet) with n_params, tokens, loss columns")
    f.add_argument("--law", default="chinchilla", choices=LAWS)
    f.add_argument("--json", action="store_true", help="print the estimates as JSON")
    f.add_argument("--bootstrap", type=int, help="resamples for confidence intervals (default: none; --law "
                                                  f"crossover: {defaults.bootstrap}, conf/fit.yaml)")
    f.add_argument("--bootstrap-method", choices=BOOTSTRAP_METHODS,
                   help="chinchilla / subscaling intervals: resample the fit's log residuals, the runs staying where "
                        f"the grid put them (residual), or the runs (case); default {defaults.bootstrap_method}, "
                        "conf/fit.yaml")
    f.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap")
    f.add_argument("--compute", type=float, help="C at which N_opt, T_opt, tokens/param are given (default: the "
                                                 "largest run's)")
    f.add_argument("--cutoff", type=float, help="--law compare: fit below this N (or C), predict above "
                                                "(default: the largest size is held out)")
    f.add_argument("--by", choices=("n_params", "flops", "cell"),
                   help="--law compare: what --cutoff cuts (n_params, default, or flops: the table's flops column where "
                        "given, else 6 N T); --law lr / batch: optimum "
                        "per compute budget (flops, default; a budget of several (N, tokens) cells takes its "
                        "lowest-loss cell's), per model size (n_params), or per (N, tokens) cell (cell: Step Law's "
                        "lr_opt = c N^a D^b, B_opt = c D^b required); each beside Step Law's form over the cells")
    f.add_argument("--recipe", help="fit the runs of this recipe (runs trained with recipe=NAME); 'all': every "
                                    "recipe fitted alone, side by side")
    f.add_argument("--min-tokens-per-param", type=float, metavar="X",
                   help="leave out runs with tokens / N < X from the fit (counted in excluded)")
    f.add_argument("--fix", action="append", metavar="NAME=VALUE",
                   help="hold a parameter of the chinchilla / subscaling fit at a value: E=VALUE (nats/token), "
                        "E=true (the runs' true_entropy_nats, data=synthetic), alpha=VALUE, beta=VALUE; repeatable")
    f.add_argument("--column", action="append", metavar="NAME=COLUMN", help=COLUMN_HELP)
    f.add_argument("--upload", action="store_true", help="log the runs with predictions and the fit to W&B")
    rp = sub.add_parser("report", help="write every fit the runs support as Markdown + figures + CSV")
    rp.add_argument("sweep", nargs="?", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP | RUNS.csv")
    rp.add_argument("--runs-table", type=path_value,
                    help="a runs file (.csv, .tsv, .json, .jsonl, .parquet) with n_params, tokens, loss columns")
    rp.add_argument("--out", type=path_value, help="report folder (default: SWEEP_DIR/report)")
    rp.add_argument("--bootstrap", type=int, default=defaults.bootstrap,
                    help="resamples for the confidence intervals (default: conf/fit.yaml)")
    rp.add_argument("--bootstrap-method", choices=BOOTSTRAP_METHODS,
                    help="section 1's intervals: resample the fit's log residuals (residual) or the runs (case); "
                         f"default {defaults.bootstrap_method}, conf/fit.yaml")
    rp.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap")
    rp.add_argument("--compute", type=float, help="C at which N_opt, T_opt, tokens/param are given")
    rp.add_argument("--cutoff", type=float, help="held-out comparison: fit below this N (default: the largest "
                                                "size is held out)")
    rp.add_argument("--recipe", help="the recipe sections 1-5 use (default: the first); crossover uses all")
    rp.add_argument("--fix", action="append", metavar="NAME=VALUE",
                    help="hold a parameter of the chinchilla / subscaling fit at a value: E=VALUE (nats/token), "
                         "E=true (the runs' true_entropy_nats, data=synthetic), alpha=VALUE, beta=VALUE; repeatable")
    rp.add_argument("--min-tokens-per-param", type=float, metavar="X",
                    help="leave out runs with tokens / N < X from every fit (counted in excluded)")
    rp.add_argument("--column", action="append", metavar="NAME=COLUMN", help=COLUMN_HELP)
    rp.add_argument("--upload", action="store_true", help="log the runs with predictions, the figures and the "
                                                         "fits to the sweep's W&B group")
    pr = sub.add_parser("predict", help="predict each run's final eval loss from its loss curve so far (the "
                                        "Tissue et al. 2024 curve law), with an interval")
    pr.add_argument("sweep", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP")
    pr.add_argument("--at-fraction", type=float, metavar="F",
                    help="cut each run's curve at this fraction (0, 1] of its steps first: what the prediction "
                         "would have been then (finished runs: against their actual final loss)")
    pr.add_argument("--json", action="store_true", help="print the predictions as JSON")
    pr.add_argument("--bootstrap", type=int, help=f"resamples of each run's interval (default {defaults.bootstrap}, "
                                                  "conf/fit.yaml)")
    pr.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap")
    pr.add_argument("--floor", metavar="E|true|auto",
                    help="predict each run that has finished runs of another size at its settings but the lr "
                         "(batch, weight decay, tokens per parameter, schedule, data, seed) from them, by the collapse "
                         "of loss curves above the irreducible loss E, matched by the summed learning rate: a number "
                         "(nats/token), 'true' for the corpus's true entropy rate (data=synthetic), or 'auto': E "
                         "calibrated on the finished runs of the two sizes below the run (at least 3 pairs at the "
                         "same settings)")
    pr.add_argument("--margin", type=float, default=0.0, metavar="M",
                    help="with --floor: the early_stop.margin in [0, 1) that the gaps between two runs' predictions "
                         "(--json 'gaps') are calibrated for (default 0)")
    sg = sub.add_parser("suggest", help="propose the next runs that most narrow the intervals of L*(C) and N_opt(C) "
                                        "at a target compute, with their cost and command line")
    sg.add_argument("sweep", nargs="?", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP | RUNS.csv")
    sg.add_argument("--target-compute", type=float, metavar="C",
                    help="FLOPs at which L* and N_opt are asked (e.g. 1e21); required unless --replay")
    sg.add_argument("--law", default="chinchilla", choices=("chinchilla", "subscaling"))
    sg.add_argument("--budget", type=float, metavar="FLOPS", help="total FLOPs of the runs proposed, chosen jointly")
    sg.add_argument("--count", type=int, metavar="K",
                    help=f"runs proposed (default {defaults.suggest_count} without --budget, conf/fit.yaml; with "
                         "--budget: no cap)")
    sg.add_argument("--candidates", metavar='"KEY=V1,V2 ..."',
                    help="the candidate axes' values (each replaces the sweep's; a table file: n_params, "
                         "budget.tokens_per_param)")
    sg.add_argument("--bootstrap", type=int, metavar="K",
                    help=f"bootstrap resamples (default {defaults.bootstrap}; --replay: each round's fits', default "
                         f"{defaults.replay_resamples}; conf/fit.yaml)")
    sg.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap (and of --replay's "
                                                                     "random design)")
    sg.add_argument("--json", action="store_true", help="print the proposals (or the replay) as JSON")
    sg.add_argument("--recipe", metavar="NAME", help="fit and follow this recipe's runs (required when the source "
                                                     "holds several recipes; a table's recipe or experiment column)")
    sg.add_argument("--replay", metavar="TABLE", help="replay the choice on a finished runs table (any source) "
                                                      "against random, grid and spread designs")
    sg.add_argument("--growth", type=float, metavar="G", help="--replay: each round's budget over the compute spent "
                                                              f"(default {defaults.replay_growth:g}, conf/fit.yaml)")
    sg.add_argument("--holdout", type=int, metavar="H", help="--replay: the largest sizes held out (default "
                                                             f"{defaults.replay_holdout}, conf/fit.yaml)")
    sg.add_argument("--column", action="append", metavar="NAME=COLUMN", help=COLUMN_HELP + " (a runs file or "
                                                                                        "--replay's)")
    add_loop_options(sg)  # closing the loop: --rounds, --until-width
    sy = sub.add_parser("sync", help="upload a sweep's offline W&B runs, several at once, skipping what was synced")
    sy.add_argument("sweep", type=path_value, metavar="SWEEP_DIR")
    sy.add_argument("--jobs", type=int, help="W&B runs uploaded at once (default: conf/sync.yaml)")
    d = sub.add_parser("demo", help="run the small local scaling sweep of conf/demo.yaml")
    d.add_argument("--out-dir", type=path_value, help="where the runs go (default: conf/demo.yaml's out_dir)")
    e = sub.add_parser("experiment", help="run a paper's finding (conf/experiment/NAME.yaml) here: prepare, "
                                          "train, report with its verdict")
    e.add_argument("name", nargs="?", choices=experiment_presets(), metavar="NAME",
                   help=f"the preset conf/experiment/NAME.yaml: {', '.join(experiment_presets())}")
    e.add_argument("overrides", nargs="*", help="Hydra overrides (e.g. out_dir=...)")
    c = sub.add_parser("completion", help="print the bash completion script of this command")
    c.add_argument("shell", choices=SHELLS)
    return parser, sub


def parse(parser: argparse.ArgumentParser, sub: Any, argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line as parsed: Hydra overrides given after an option joined to the others, an
    unknown option refused by its subcommand's usage with the option it likely meant."""
    args, extra = parser.parse_known_args(negative_values_joined(sys.argv[1:] if argv is None else list(argv)))
    if extra and getattr(args, "overrides", None) is not None and all("=" in x and not x.startswith("-") for x in extra):
        args.overrides += extra  # overrides after an option (`sweep prepare data=c4 --workers 8 out_dir=...`)
    elif extra:  # the subcommand's own usage, not the top level's, and the option meant where one is near
        command = sub.choices[args.command]
        options = sorted(set(re.findall(r"--[\w-]+", command.format_usage())))
        near = [m for x in extra if x.startswith("-") for m in difflib.get_close_matches(x.split("=")[0], options, 1)]
        command.error(f"unrecognized arguments: {' '.join(extra)}"
                      + (f"; did you mean {', '.join(near)}?" if near else ""))
    if args.command == "experiment" and args.name is None:
        parser.error(f"sweep experiment NAME: give a preset's NAME; accepted: {', '.join(experiment_presets())}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    defaults = fit_defaults()
    parser, sub = build_parser(defaults)
    args = parse(parser, sub, argv)
    if args.command == "completion":
        sys.stdout.write(bash_completion(parser))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        code = dispatch(args, defaults)
        sys.stdout.flush()  # a full disk under `> FILE` is met here, not after exit where it cannot be told
        return code
    except ConfigError as err:
        print_error(str(err))
        return 2
    except OSError as err:  # a full disk under a figure, a CSV, or stdout redirected to a file: one line
        line = output_failed(err)
        if line is None:
            raise
        print_error(line)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line, not the traceback of wherever it landed
        print("interrupted (Ctrl-C): what was written is kept (prepared shards, finished runs, checkpoints); "
              "re-run the same command to go on", file=sys.stderr)
        return 130


def print_error(text: str) -> None:
    """`error: TEXT` on stderr (stdout holds only the command's output: `--json` stays JSON), red on a
    terminal, a log's lines not cut. Where stdout is the full disk itself (`sweep fit --json > FILE`),
    what it still buffers is dropped, which at exit would be a second traceback."""
    with contextlib.suppress(OSError):  # stderr itself unwritable: nowhere left to tell it
        error_console.print(styled("red", "error:", f" {text}"), highlight=False, soft_wrap=True)
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def check_seed(args: argparse.Namespace) -> None:
    """Every subcommand's --seed, before any fit: a negative one was numpy's traceback in the bootstrap
    (`default_rng(-1)`), and was taken without a word where no bootstrap ran."""
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise ConfigError(f"--seed {seed}: accepted is a whole number >= 0")


LEAST_RESAMPLES = {"fit": 2, "report": 2, "predict": 1, "suggest": 2}  # each subcommand's least --bootstrap


def check_bootstrap(args: argparse.Namespace, defaults: FitDefaults) -> None:
    """Every subcommand's --bootstrap, before any table is read: past conf/fit.yaml's max_resamples the
    resamples' arrays were numpy's 67 GiB allocation traceback (or the OOM killer, no word) after the fits."""
    n_resamples = getattr(args, "bootstrap", None)
    if n_resamples is None or (args.command == "fit" and n_resamples == 0):  # fit's 0: no intervals
        return
    defaults.check_resamples(n_resamples, "--bootstrap", LEAST_RESAMPLES[args.command],
                             "0 (no intervals) or " if args.command == "fit" else "")


def dispatch(args: argparse.Namespace, defaults: FitDefaults) -> int:
    """Run the parsed subcommand; its exit code."""
    check_seed(args)
    check_bootstrap(args, defaults)
    if args.command == "plan":
        return plan(args.overrides, args.config_name)
    if args.command == "prepare":
        return prepare(args.overrides, args.config_name, args.workers, args.slurm, args.time_min, args.wait)
    if args.command == "fit":
        bootstrap = args.bootstrap if args.bootstrap is not None else \
            defaults.bootstrap if args.law == "crossover" else 0
        return fit(args.sweep, args.runs_table, args.law, args.json, bootstrap, args.seed, args.compute,
                   args.cutoff, args.by, args.upload, args.recipe, args.fix,
                   args.min_tokens_per_param, args.bootstrap_method, args.column)
    if args.command == "report":
        return report(args.sweep, args.runs_table, args.out, args.bootstrap, args.seed, args.compute,
                      args.cutoff, args.recipe, args.upload, args.fix,
                      args.min_tokens_per_param, args.bootstrap_method, args.column)
    if args.command == "predict":
        return predict(args.sweep, args.at_fraction, args.json, args.bootstrap, args.seed, args.floor, args.margin)
    if args.command == "status":
        return status(args.sweep, args.plot, args.csv, args.wait, args.interval, args.upload, args.json,
                      args.parquet)
    if args.command == "suggest":
        return suggest_command(args)
    if args.command == "sync":
        return sync(args.sweep, args.jobs)
    if args.command == "experiment":
        return experiment(args.name, args.overrides)
    return demo(args.out_dir)


if __name__ == "__main__":
    sys.exit(main())
