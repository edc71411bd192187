"""sweep/run/step.py: one optimizer step, with nothing read back to the host."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from model import Transformer, TransformerShape
from sweep.config import WeightDecayMode
from sweep.run.device import Placement
from sweep.run.optim import build_optimizer
from sweep.run.loss import LogitsLoss
from sweep.run.step import TrainStep
from tests.helpers import HostReads, optim_config

EAGER = Placement(device=torch.device("cpu"), bf16=False, compile=False)


def model_and_batch() -> tuple[Transformer, torch.Tensor]:
    torch.manual_seed(0)
    shape = TransformerShape(d=32, l=2, vocab_size=50, seq_len=16, head_dim=16, mlp_ratio=4, rope_base=1e4)
    return Transformer(shape), torch.randint(0, 50, (4, 17))


def test_a_step_is_forward_loss_backward_clip_and_adamw_at_the_given_lr():
    model, batch_BxT1 = model_and_batch()
    by_hand = copy.deepcopy(model)
    step = TrainStep(LogitsLoss(model, EAGER.autocast, compile_loss=False), model,
                     build_optimizer(model, optim_config()), optim_config())
    loss, grad_norm = step(batch_BxT1, lr=5e-3)

    optimizer = build_optimizer(by_hand, optim_config())
    for group in optimizer.param_groups:
        group["lr"] = 5e-3
    expected = F.cross_entropy(by_hand(batch_BxT1[:, :-1]).flatten(0, 1), batch_BxT1[:, 1:].flatten())
    expected.backward()
    expected_norm = torch.nn.utils.clip_grad_norm_(by_hand.parameters(), 1.0)
    optimizer.step()
    torch.testing.assert_close(loss, expected.detach())
    torch.testing.assert_close(grad_norm, expected_norm)
    for a, b in zip(model.parameters(), by_hand.parameters()):
        torch.testing.assert_close(a, b)
    assert all(p.grad is None for p in model.parameters())


def test_a_step_reads_nothing_back_to_the_host():
    for config in (optim_config(), optim_config(grad_clip=0.0), optim_config(weight_decay_mode=WeightDecayMode.l2)):
        model, batch_BxT1 = model_and_batch()
        step = TrainStep(LogitsLoss(model, EAGER.autocast, compile_loss=False), model, build_optimizer(model, config),
                         config)
        with HostReads() as reads:
            step(batch_BxT1, lr=1e-3)
            step(batch_BxT1, lr=1e-3)
        assert reads.reads == [], config

