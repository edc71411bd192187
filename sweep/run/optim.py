"""AdamW with the three weight-decay modes, and the learning-rate schedules: warmup + cosine, and
warmup-stable-decay (wsd).

Where the learning rate is read: `build_optimizer` (peak `optim.lr`) and `lr_at` (schedule).

Schedules (`optim.schedule`), step s of S (0-based), W warmup steps:
- cosine: linear warmup to the peak, then cosine decay to final_lr_fraction x peak at step S - 1.
- wsd: the same warmup, the peak until the cooldown start c = cooldown_start(S, cooldown_fraction),
  then a decay to final_lr_fraction x peak at step S - 1, of shape linear (1 - p) or 1-sqrt
  (1 - sqrt(p)), p = (s - c) / (S - 1 - c) from 0 at the cooldown's first step to 1 at the last
  (Hägele et al. 2024, arXiv 2405.18392). The members of a cooldown-branch ladder (sweep/ladder.py)
  compute W from the ladder's S (`warmup_of_steps`), so every branch is step for step its trunk
  until its own cooldown; the trunk stops at its cooldown start and never decays.

Weight decay modes (never applied to norm gains):
- coupled: torch AdamW, w <- w - lr * wd * w (the decay is scaled by the learning rate)
- independent: w <- w - (lr / peak_lr) * wd * w, i.e. AdamW with weight_decay = wd / peak_lr,
  so the decay follows the schedule's shape but not the peak learning rate
- l2: no decoupled decay; 0.5 * wd * ||w||^2 is added to the loss (`l2_penalty`)
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from sweep.config import OptimConfig, Schedule, WeightDecayMode


def decayed_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(matrices and embeddings: decayed, norm gains: not decayed)."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim >= 2 else no_decay).append(p)
    return decay, no_decay


# Devices with torch's fused AdamW kernel: one kernel for all parameters, no host reads of the step
# count (the foreach path reads it back every step), about 4x faster than foreach on a CPU.
FUSED_ADAMW_DEVICES = ("cuda", "cpu")


def build_optimizer(model: nn.Module, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW over `model`'s parameters (already on their device), fused where torch has a
    fused kernel for that device."""
    device = next(model.parameters()).device
    decay, no_decay = decayed_parameters(model)
    if optim.weight_decay_mode is WeightDecayMode.coupled:
        wd = optim.weight_decay
    elif optim.weight_decay_mode is WeightDecayMode.independent:
        wd = optim.weight_decay / optim.lr
    else:  # l2: the penalty is in the loss
        wd = 0.0
    groups = [
        {"params": decay, "weight_decay": wd},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=optim.lr, betas=(optim.b1, optim.b2), eps=optim.eps,
        fused=device.type in FUSED_ADAMW_DEVICES or None,
    )


def l2_penalty(model: nn.Module, optim: OptimConfig) -> torch.Tensor | None:
    """0.5 * wd * sum ||w||^2 over decayed parameters, in `l2` mode; None otherwise."""
    if optim.weight_decay_mode is not WeightDecayMode.l2 or optim.weight_decay == 0:
        return None
    decay, _ = decayed_parameters(model)
    return 0.5 * optim.weight_decay * sum(p.float().pow(2).sum() for p in decay)


def warmup_steps(optim: OptimConfig, total_steps: int) -> int:
    return min(optim.warmup_steps, math.floor(optim.warmup_max_fraction * total_steps))


def cooldown_start(total_steps: int, cooldown_fraction: float) -> int:
    """The first step of a wsd run's cooldown: its last round(cooldown_fraction x S) steps (at
    least one) decay."""
    return total_steps - max(1, round(cooldown_fraction * total_steps))


def lr_at(step: int, optim: OptimConfig, total_steps: int, warmup_of_steps: int | None = None) -> float:
    """Learning rate for optimizer step `step` (0-based) of a run of `total_steps`: linear warmup
    from peak/warmup to the peak, then the schedule's decay to final_lr_fraction x peak at the
    last step. The warmup is computed from `warmup_of_steps` (a ladder's S) when given, else from
    `total_steps`."""
    peak = optim.lr
    warm = warmup_steps(optim, total_steps if warmup_of_steps is None else warmup_of_steps)
    if step < warm:
        return peak * (step + 1) / warm
    floor = optim.final_lr_fraction
    if optim.schedule is Schedule.wsd:
        if step < cooldown_start(total_steps, optim.cooldown_fraction):
            return peak  # stable: exactly the peak, whatever the floor
        return peak * (floor + (1 - floor) * cooldown_factor(step, optim, total_steps))
    decay_steps = max(1, total_steps - 1 - warm)
    progress = min(1.0, (step - warm) / decay_steps)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def cooldown_factor(step: int, optim: OptimConfig, total_steps: int) -> float:
    """wsd, a step of the cooldown: 1 - p (linear) or 1 - sqrt(p) (1-sqrt), p from 0 at the
    cooldown's first step to 1 at the last step (a one-step cooldown: p = 1 at once)."""
    start = cooldown_start(total_steps, optim.cooldown_fraction)
    last = total_steps - 1
    progress = 1.0 if last <= start else min(1.0, (step - start) / (last - start))
    return 1 - (math.sqrt(progress) if optim.cooldown_shape == "1-sqrt" else progress)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
