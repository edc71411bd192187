"""AdamW with the three weight-decay modes, and the warmup + cosine learning-rate schedule.

Where the learning rate is read: `build_optimizer` (peak `optim.lr`) and `lr_at` (schedule).

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

from sweep.config import OptimConfig, WeightDecayMode


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


def lr_at(step: int, optim: OptimConfig, total_steps: int) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warmup from peak/warmup to the
    peak, then cosine decay to final_lr_fraction x peak at the last step."""
    peak, warm = optim.lr, warmup_steps(optim, total_steps)
    if step < warm:
        return peak * (step + 1) / warm
    decay_steps = max(1, total_steps - 1 - warm)
    progress = min(1.0, (step - warm) / decay_steps)
    floor = optim.final_lr_fraction
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
