"""One optimizer step: forward under the run's autocast, next-token loss, backward, gradient
clipping, AdamW. The training loop and benchmarks/throughput.py (for our model and for the
`transformers` reference alike) time this same step.

Nothing here reads a value back to the host: the loss and the gradient norm stay on the device
until the loop's log step asks for them.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from sweep.config import OptimConfig
from sweep.run.device import Placement
from sweep.run.optim import l2_penalty, set_lr


def next_token_loss(logits_BxTxV: torch.Tensor, targets_BxT: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in fp32 (compiled, the cast fuses into the loss kernel)."""
    return F.cross_entropy(logits_BxTxV.float().flatten(0, 1), targets_BxT.flatten())


class TrainStep:
    """`step(batch_BxT1, lr)` -> (loss, grad_norm), both 0-d device tensors."""

    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], model: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, placement: Placement, optim: OptimConfig):
        self.forward, self.model, self.optimizer, self.placement, self.optim = (
            forward, model, optimizer, placement, optim)
        self.loss_fn = torch.compile(next_token_loss) if placement.compile else next_token_loss
        self.max_grad_norm = optim.grad_clip or math.inf

    def __call__(self, batch_BxT1: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        set_lr(self.optimizer, lr)
        with self.placement.autocast():
            logits_BxTxV = self.forward(batch_BxT1[:, :-1])
        loss = self.loss_fn(logits_BxTxV, batch_BxT1[:, 1:])
        penalty = l2_penalty(self.model, self.optim)
        (loss if penalty is None else loss + penalty).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach(), grad_norm
