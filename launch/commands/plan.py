"""`sweep plan`: a grid's runs (or jobs) with N, tokens, steps, FLOPs and state, without training."""

from __future__ import annotations

from typing import Sequence

from rich.table import Table

from launch.commands.printing import console


def plan(overrides: Sequence[str], config_name: str) -> int:
    from launch.grid import compose_grid
    from launch.jobs import RUN
    from launch.submit import plan_local, plan_notes, print_not_ready

    grid = compose_grid(overrides, config_name)
    planned = plan_local(grid)  # a ladder's trunk segments and branches, early stopping's probes and rests: jobs
    ladders = any(p.job.kind != RUN for p in planned)
    unit = "jobs" if ladders else "runs"
    table = Table(title=f"plan: {len(planned)} {unit}", show_lines=False)
    for col in ("d", "l", "batch", "lr", "wd", "N", *(("job",) if ladders else ()), "tokens", "steps", "FLOPs",
                "state", "run folder"):
        table.add_column(col, justify="left" if col in ("job", "state", "run folder") else "right")
    states: dict[str, int] = {}
    for p in planned:
        job, cfg, b, state = p.job, p.point.cfg, p.point.budget, p.state
        states[state] = states.get(state, 0) + 1
        kind = (job.role,) if ladders else ()
        steps = f"{job.first_step:,} -> {job.last_step:,}" if job.kind != RUN else f"{b.steps:,}"
        table.add_row(str(cfg.model.d), str(cfg.model.l), str(cfg.train.batch_size), f"{cfg.optim.lr:.2e}",
                      f"{cfg.optim.weight_decay:g}", f"{b.n_params:,}", *kind, f"{b.tokens:,}", steps,
                      f"{job.flops:.2e}", state, str(p.point.run.path))
    console.print(table)
    total_flops = sum(p.job.flops for p in planned)
    total_tokens = sum((p.job.last_step - p.job.first_step) * p.point.budget.tokens_per_step for p in planned)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    console.print(f"total: {len(planned)} {unit} ({counts}), {total_tokens:,} tokens, {total_flops:.3e} FLOPs")
    for line in plan_notes(planned):
        console.print(line, highlight=False)
    for point in grid:
        damage = point.damage()
        if damage is not None:
            console.print(f"damaged: {damage}", highlight=False, soft_wrap=True)  # one line, for grep
    print_not_ready(grid, False, console)  # the device is checked where the runs start, as on Slurm
    return 0

