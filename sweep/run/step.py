"""One optimizer step: the next-token loss (forward under the run's autocast, sweep/run/loss.py),
backward, gradient clipping, AdamW. The training loop and benchmarks/throughput.py (for our model
and for the `transformers` reference alike) time this same step.

Nothing here reads a value back to the host: the loss and the gradient norm stay on the device
until the loop's log step asks for them.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from sweep.config import OptimConfig
from sweep.run.optim import l2_penalty, set_lr

LossOfBatch = Callable[[torch.Tensor], torch.Tensor]  # batch_BxT1 -> 0-d mean next-token loss


class TrainStep:
    """`step(batch_BxT1, lr)` -> (loss, grad_norm), both 0-d device tensors."""

    def __init__(self, loss_of_batch: LossOfBatch, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 optim: OptimConfig):
        self.loss_of_batch, self.model, self.optimizer, self.optim = loss_of_batch, model, optimizer, optim
        self.max_grad_norm = optim.grad_clip or math.inf

    def __call__(self, batch_BxT1: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        set_lr(self.optimizer, lr)
        loss = self.loss_of_batch(batch_BxT1)
        penalty = l2_penalty(self.model, self.optim)
        (loss if penalty is None else loss + penalty).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach(), grad_norm
