"""`sweep suggest`: the next runs that most narrow the fitted law's intervals, with their cost and
command line; `--replay TABLE`, the choice replayed on a finished table; `--rounds`, the loop closed
(launch/suggest_loop.py)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Sequence

from rich.table import Table

from launch.commands.conf_tree import conf_file
from launch.commands.fit import given_columns, load_table
from launch.commands.printing import console, num
from sweep.errors import ConfigError


TARGET_NAMES = {"loss": "L*(C)", "n_opt": "N_opt(C)"}


def suggest_command(args: argparse.Namespace) -> int:
    """`sweep suggest`'s arguments to `suggest` or `replay` (one source: SOURCE or --replay TABLE)."""
    if (args.sweep is None) == (args.replay is None):
        raise ConfigError("give a SOURCE to suggest runs for, or --replay TABLE (one of them)")
    if args.replay is not None:
        loose = [f"--{k.replace('_', '-')}" for k in ("target_compute", "budget", "candidates")
                 if getattr(args, k) is not None]
        if loose:
            raise ConfigError(f"{', '.join(loose)}: not taken by --replay (its target compute is the held-out runs' "
                              "median; accepted: --law, --growth, --count, --holdout, --bootstrap, --seed, --recipe, "
                              "--column, --json)")
        return replay(args.replay, args.law, args.growth, args.count, args.holdout, args.bootstrap, args.seed,
                      args.json, args.recipe, given_columns(args.column))
    loose = [f"--{k}" for k in ("growth", "holdout") if getattr(args, k) is not None]
    if loose:
        raise ConfigError(f"{', '.join(loose)}: taken only with --replay TABLE")
    if loop_requested(args):
        if args.column:
            raise ConfigError("--column: not taken with --rounds / --until-width (the loop reads a sweep folder, "
                              "whose columns are its own)")
        if args.recipe is not None:
            raise ConfigError("--recipe: not taken with --rounds / --until-width (the loop trains with the sweep's "
                              "own settings and fits all its runs); suggest for a recipe without them")
        from launch.suggest_loop import run_from_args  # hydra and the launchers: only when the loop runs
        from sweep.fit.candidates import candidate_set

        return run_from_args(args, lambda table: candidate_set(args.sweep, args.candidates).candidates)
    return suggest(args.sweep, args.target_compute, args.law, args.budget, args.count, args.candidates,
                   args.bootstrap, args.seed, args.json, args.recipe, given_columns(args.column))


def add_loop_options(parser: argparse.ArgumentParser) -> None:
    """`sweep suggest`'s options that close the loop (launch/suggest_loop.py runs it)."""
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="close the loop on a sweep folder: train the proposals with the sweep's own launcher and "
                             "settings, wait, refit, suggest again, until the folder holds N rounds "
                             "(recorded in SWEEP_DIR/suggest/rounds.jsonl; the same command again resumes)")
    parser.add_argument("--until-width", type=float, metavar="W",
                        help="with --rounds: stop earlier once L*(C)'s interval is narrower than W x L*(C) "
                             "(0 < W < 1)")


def loop_requested(args: argparse.Namespace) -> bool:
    return getattr(args, "rounds", None) is not None or getattr(args, "until_width", None) is not None


def suggest(source: str, target_compute: float | None, law: str, budget: float | None, count: int | None,
            candidates_text: str | None, bootstrap: int | None, seed: int, as_json: bool,
            recipe: str | None = None, columns: dict[str, str] | None = None) -> int:
    """`sweep suggest`: the runs that most narrow the bootstrap intervals of L*(C) and N_opt(C) at
    the target compute (sweep/fit/suggest.py), each with its cost and the command that trains it;
    `recipe`: whose runs are fitted and followed (required when the source has several); `columns`:
    a runs file's {name: its column} (`--column`)."""
    from sweep.fit.candidates import candidate_set
    from sweep.fit.suggest import suggest as propose
    from sweep.fit.runs_file import is_table_file
    from sweep.jsonable import jsonable

    if target_compute is None:
        raise ConfigError("--target-compute C is required (FLOPs, e.g. 1e21), unless --replay TABLE is given")
    if count is not None and count < 1:
        raise ConfigError(f"--count {count}: accepted is a whole number >= 1")
    table = load_table(source, None, columns=columns)[0].only_recipe(recipe, "a suggestion fits")  # as sweep fit reads it
    cands = candidate_set(source, candidates_text, table=table if is_table_file(source) else None, recipe=recipe)
    if not cands.candidates:
        raise ConfigError(f"no candidate left: each of the {cands.left_out} points was left out, e.g. "
                          f"{cands.left_out_reason}; give other values with --candidates")
    result = propose(table, cands.candidates, target_compute=target_compute, law=law, count=count, budget=budget,
                     resamples=bootstrap, seed=seed)
    launcher = conf_file("hydra/launcher/slurm.yaml")
    mfu, device = launcher["assumed_mfu"], launcher["device"]
    hours = [proposal_gpu_hours(p.candidate, cands.configs.get(p.candidate.label), mfu, device)
             for p in result.proposals]
    commands = [train_command(in_sweep_folder(p.candidate.overrides, source), p.candidate.config_name)
                if cands.why_no_command is None else None for p in result.proposals]
    if as_json:
        out = result.to_dict()
        for proposal, h, command in zip(out["proposals"], hours, commands):
            proposal.update(gpu_hours=h, command=command)
        out.update(source=str(source), base_run=cands.base.name if cands.base else None,
                   invalid_points=cands.left_out, invalid_point_reason=cands.left_out_reason,
                   no_command=cands.why_no_command, gpu_hours=float(sum(hours)),
                   gpu_hours_assumed={"assumed_mfu": mfu, "device": device})
        print(json.dumps(jsonable(out), indent=2))
        return 0
    print_suggestion(result, cands, hours, commands, f"{source} (recipe {recipe})" if recipe else source, mfu, device)
    return 0


def proposal_gpu_hours(candidate, cfg, mfu: float, device: str) -> float:
    """launch/resources.py's estimate for a candidate with a config; a table file's (no config): its
    6 N T FLOPs over the same assumed MFU x peak."""
    from launch.resources import estimate_gpu_hours
    from model import peak_flops
    from sweep.budget import compute_budget

    if cfg is not None:
        return estimate_gpu_hours(cfg, compute_budget(cfg), mfu, device)
    return candidate.flops / (mfu * peak_flops(device)) / 3600


def in_sweep_folder(overrides: Sequence[str], source: str) -> list[str]:
    """A sweep folder's proposal trains into that folder wherever the command is pasted: its
    out_dir the folder's absolute path (the base run's was often relative, `out_dir=runs/demo`,
    which from another directory trains a new sweep). A W&B source's overrides as they are."""
    from launch.grid import with_override

    if not Path(source).is_dir():
        return list(overrides)
    return with_override(overrides, f"out_dir={Path(source).resolve()}")


def train_command(overrides: Sequence[str], config_name: str = "train") -> str:
    """`python -m sweep.train [--config-name NAME] OVERRIDES`, quoted for a shell."""
    import shlex

    from launch.grid import config_name_argument

    return " ".join(["python -m sweep.train", *(shlex.quote(a) for a in config_name_argument(config_name)),
                     *(shlex.quote(o) for o in overrides)])


def print_suggestion(result, cands, hours: Sequence[float], commands: Sequence[str | None], source: str,
                     mfu: float, device: str) -> None:
    from sweep.fit.expected import LINEAR, REFIT

    level = f"{result.level:.0%}"
    console.print(f"{source}: {result.law} law fitted to {result.n_points} (N, tokens) points, {result.resamples} "
                  f"bootstrap resamples (seed {result.seed}); target compute C = {result.target_compute:.3g} FLOPs",
                  highlight=False)
    console.print(f"criterion: {result.criterion}; targets: "
                  + ", ".join(f"log {TARGET_NAMES[t]}" for t in result.targets), highlight=False)
    intervals = Table(title=f"at C: the fit's value, its {level} interval now and the one expected after the runs")
    for column in ("", "fit", f"{level} interval now", "expected after", "width after / now (N_opt's in log)"):
        intervals.add_column(column, justify="left" if not column else "right")
    for t in result.targets:
        value, lo, hi = result.now[t]
        new_lo, new_hi = result.expected[t]
        if t == "n_opt" and lo > 0 and new_lo > 0:  # shrunk in log, as the criterion's variance is of log N_opt
            ratio = math.log(new_hi / new_lo) / math.log(hi / lo) if hi > lo else float("nan")
        else:
            ratio = (new_hi - new_lo) / (hi - lo) if hi > lo else float("nan")
        intervals.add_row(TARGET_NAMES[t], num(value, ".4g"), f"{num(lo, '.4g')} .. {num(hi, '.4g')}",
                          f"{num(new_lo, '.4g')} .. {num(new_hi, '.4g')}", f"x {num(ratio, '.2f')}")
    console.print(intervals)
    for how, said in ((REFIT, "the fit redone with the proposed runs added at the law's loss and its scatter (the "
                              "median width of a few such refits)"),
                      (LINEAR, "the criterion's linear-Gaussian update, as every refit with the runs added failed "
                               "(replays find it optimistic)")):
        names = [TARGET_NAMES[t] for t, basis in result.expected_from.items() if basis == how]
        if names:
            console.print(f"expected after ({', '.join(names)}): {said}", highlight=False)
    for warning in result.warnings:
        console.print(f"warning: {warning}", highlight=False)
    if result.n_opt_edge is not None:
        console.print(f"warning: {result.n_opt_edge}", highlight=False)
    if result.misfit is not None and result.misfit.beyond_seeds:
        console.print(f"warning: {result.misfit.warning()}: these intervals assume the law's form, which the runs "
                      "contradict", highlight=False)
    configs = bool(cands.configs)
    left_out = "".join(f"; {n} left out: {why}" for why, n in result.left_out.items())
    table = Table(title=f"{len(result.proposals)} runs proposed ({result.flops:.3g} FLOPs, {sum(hours):.3g} "
                        f"GPU-hours*) of {result.n_candidates} candidates{left_out}")
    columns = ("run", *(("d", "l") if configs else ()), "tokens/param", "N", "tokens", "steps", "FLOPs",
               "GPU-hours*", "gain")
    for column in columns:
        table.add_column(column, justify="left" if column == "run" else "right")
    for p, h in zip(result.proposals, hours):
        c = p.candidate
        cfg = cands.configs.get(c.label)
        shape = (str(cfg.model.d), str(cfg.model.l)) if configs else ()
        table.add_row(c.label, *shape, num(c.tokens_per_param, ".3g"), f"{c.n_params:,.0f}", f"{c.tokens:,.0f}",
                      "-" if c.steps is None else f"{c.steps:,}", f"{c.flops:.3g}", num(h, ".3g"),
                      f"{p.gain:.1%}")
    console.print(table)
    if not result.proposals:  # an empty table, and nothing said why (CS336's noise-free table)
        console.print("no run is proposed: none removes any of the targets' variance (the bootstrap laws agree at "
                      "the target compute: intervals of zero width, as a table without noise gives)", highlight=False)
    how = ("FLOPs per token (attention included) x tokens" if configs else "6 N T (a table file: no shape, attention "
           "left out)")
    console.print(f"* GPU-hours: {how} / (assumed MFU {mfu:g} x the {device} bf16 peak): conf/hydra/launcher/"
                  "slurm.yaml's assumed_mfu and device. gain: the fraction of the targets' variance (mean over "
                  "them) each run removes, given the runs above it.", highlight=False)
    left = (f"; {cands.left_out} point{'s' * (cands.left_out != 1)} left out (first: {cands.left_out_reason})"
            if cands.left_out else "")
    axes = ", ".join(f"{k}={','.join(f'{v:g}' for v in vs)}" for k, vs in cands.axes.items())
    if cands.base is not None:
        console.print(f"candidates: the config of {cands.base.name} (the best complete run of the largest N) with "
                      + axes + left, highlight=False)
    else:
        console.print(f"candidates: {axes}{left}", highlight=False)
    if cands.why_no_command is not None:
        console.print(f"no command line: {cands.why_no_command}", highlight=False)
        return
    console.print("commands:", highlight=False)
    for command in commands:
        console.print(f"  {command}", highlight=False, soft_wrap=True, markup=False)  # data.paths=[...] is no markup


def replay(source: str, law: str, growth: float | None, count: int | None, holdout: int | None,
           bootstrap: int | None, seed: int, as_json: bool, recipe: str | None = None,
           columns: dict[str, str] | None = None) -> int:
    """`sweep suggest --replay TABLE`: would the active choice have reached the table's answer for
    less compute than random, bottom-up grid and spread designs (sweep/fit/replay.py)?"""
    from sweep.fit.replay import DESIGNS, ORACLE, replay as replay_choice
    from sweep.jsonable import jsonable

    runs = load_table(source, None, columns=columns)[0]  # as sweep fit reads it: Slurm's cancelled, not "pending"
    result = replay_choice(runs, law=law, growth=growth, count=count, holdout=holdout, seed=seed,
                           resamples=bootstrap, recipe=recipe)  # None: conf/fit.yaml's replay_* defaults
    if as_json:
        print(json.dumps(jsonable(result.to_dict()), indent=2))
        return 0
    console.print(f"{source}: replay of the active choice, {result.law} law, {result.resamples} bootstrap "
                  f"resamples (seed {result.seed}); each round's budget {result.growth:g} x the compute spent"
                  + (f", at most {result.count} runs a round" if result.count else ""), highlight=False)
    console.print(f"seed design ({len(result.seed_design)} runs): {', '.join(result.seed_design)}", highlight=False)
    console.print(f"held out ({len(result.heldout)} runs): {', '.join(result.heldout)}", highlight=False)
    console.print(f"target compute: {result.target_compute:.3g} FLOPs (the held-out runs' median); pool: "
                  f"{result.pool_flops:.3g} FLOPs", highlight=False)
    table = Table(title="each round: the active design and the others at the same compute")
    for column in ("round", "design", "picked", "compute", "held-out error", "expected / whole", "L* width",
                   "N_opt factor"):
        table.add_column(column, justify="left" if column in ("design", "picked") else "right")
    for r in result.rounds:
        shown = [s for s in DESIGNS if s in r.evaluations]
        for s in shown:
            e = r.evaluations[s]
            table.add_row(str(r.round) if s == "active" else "", s, ", ".join(r.picked) if s == "active" else "",
                          f"{e.fraction:.1%}", num(e.heldout_error, ".2%"), num(e.expected_vs_full, ".2f"),
                          num(e.width_loss, ".2%"), num(e.width_n_opt, ".3g"), end_section=(s == shown[-1]))
    console.print(table)
    if result.oracle_within is not None:
        console.print("expected / whole: a design's expected held-out error over the whole pool's, linearised at the "
                      f"whole pool's fit; {ORACLE}: the design of the round's compute the whole pool's fit expects to "
                      "err least (it knows every run: what no design can expect to beat)", highlight=False)
    console.print(f"the whole pool: held-out error {num(result.full.heldout_error, '.2%')}, L* width "
                  f"{num(result.full.width_loss, '.2%')}, N_opt factor {num(result.full.width_n_opt, '.3g')}",
                  highlight=False)
    if result.exact:
        console.print(f"the whole pool's law errs {result.full.heldout_error:.2g} on the held-out runs: the table is "
                      "noise-free (or the law fits it exactly), so every design that pins the law's parameters reaches "
                      "it, and the designs cannot be told apart by their errors here", highlight=False)
        return 0
    reached = {s: result.reached(s) for s in DESIGNS if s in result.rounds[0].evaluations}
    console.print("within 10% of the whole pool's held-out error from then on, from: " + ", ".join(
        f"{s} {'never' if f is None else f'{f:.1%} of the pool' + chr(39) + 's compute'}" for s, f in reached.items()),
        highlight=False)
    for n in result.narrowing():
        width = "interval" if n.target == "loss" else "interval (in log)"
        console.print(f"{TARGET_NAMES[n.target]}'s {width}, after each round's picks over before them (median over "
                      f"{n.rounds} rounds): x {n.expected:.2f} expected ('expected after'), x {n.realised:.2f} realised; "
                      f"realised at most the expected in {n.at_most_expected:.0%} of them", highlight=False)
    if result.oracle_within is not None:
        console.print(f"the {ORACLE} expects to be within 10% of the whole pool's error from "
                      f"{result.oracle_within:.0%} of its compute: no design can expect it for less", highlight=False)
    else:
        console.print("no expected errors: the whole pool's fit failed, or cannot be linearised", highlight=False)
    return 0

