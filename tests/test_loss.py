"""sweep/run/loss.py: the whole-logits loss and the chunked head + loss give the same loss and
gradients; the chunked one never makes the whole logits."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from model import Transformer, TransformerShape
from sweep.run.device import Placement
from sweep.run.loss import ChunkedHeadLoss, LogitsLoss, linear_cross_entropy, next_token_loss, step_loss
from sweep.run.optim import build_optimizer
from sweep.run.step import TrainStep
from tests.helpers import HostReads, optim_config

FP32 = Placement(device=torch.device("cpu"), bf16=False, compile=False)
BF16 = Placement(device=torch.device("cpu"), bf16=True, compile=False)
V = 97


def model_and_batch(batch: int = 3, seq: int = 11) -> tuple[Transformer, torch.Tensor]:
    torch.manual_seed(0)
    shape = TransformerShape(d=32, l=2, vocab_size=V, seq_len=16, head_dim=16, mlp_ratio=4, rope_base=1e4)
    return Transformer(shape), torch.randint(0, V, (batch, seq + 1))


def loss_and_grads(loss_of_batch, model, batch_BxT1):
    model.zero_grad(set_to_none=True)
    loss = loss_of_batch(batch_BxT1)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("chunk", [1, 7, 33, 1000])  # one token; not dividing N = 33; exactly N; more than N
def test_the_chunked_head_loss_gives_the_whole_logits_loss_and_gradients_in_fp32(chunk):
    model, batch_BxT1 = model_and_batch()
    twin = copy.deepcopy(model)
    expected_loss, expected_grads = loss_and_grads(LogitsLoss(model, FP32.autocast, compile_loss=False), model,
                                                   batch_BxT1)
    loss, grads = loss_and_grads(ChunkedHeadLoss(twin, chunk, FP32.autocast), twin, batch_BxT1)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-6, atol=1e-6)
    for name, grad in expected_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-5, atol=1e-6, msg=name)


def test_under_bf16_autocast_the_chunked_loss_matches_the_whole_logits_loss_to_bf16_precision():
    model, batch_BxT1 = model_and_batch()
    twin = copy.deepcopy(model)
    expected_loss, expected_grads = loss_and_grads(LogitsLoss(model, BF16.autocast, compile_loss=False), model,
                                                   batch_BxT1)
    loss, grads = loss_and_grads(ChunkedHeadLoss(twin, 8, BF16.autocast), twin, batch_BxT1)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected_loss, rtol=1e-3, atol=1e-3)
    for name, grad in expected_grads.items():  # bf16 matmuls: about 3 significant digits
        assert grads[name].dtype == grad.dtype, name
        torch.testing.assert_close(grads[name], grad, rtol=2e-2, atol=2e-2 * grad.abs().max().item(), msg=name)


def test_linear_cross_entropy_is_the_cross_entropy_of_the_product_and_scales_with_the_upstream_gradient():
    torch.manual_seed(1)
    hidden_NxD = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    weight_VxD = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    targets_N = torch.randint(0, 5, (10,))
    (3 * linear_cross_entropy(hidden_NxD, weight_VxD, targets_N, chunk=4)).backward()
    got = hidden_NxD.grad.clone(), weight_VxD.grad.clone()
    hidden_NxD.grad = weight_VxD.grad = None
    (3 * F.cross_entropy(hidden_NxD @ weight_VxD.T, targets_N)).backward()
    torch.testing.assert_close(got, (hidden_NxD.grad, weight_VxD.grad))


def test_a_chunk_of_no_tokens_is_refused():
    with pytest.raises(ValueError, match="chunk=0"):
        linear_cross_entropy(torch.zeros(2, 3), torch.zeros(4, 3), torch.zeros(2, dtype=torch.long), chunk=0)


class LogitsRows(TorchFunctionMode):
    """The most rows of any tensor made with V columns (logits, or their gradient)."""

    def __init__(self):
        super().__init__()
        self.most = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.dim() >= 2 and out.shape[-1] == V:
            self.most = max(self.most, out.numel() // V)
        return out


def test_the_chunked_loss_never_makes_the_whole_logits_nor_their_gradient():
    model, batch_BxT1 = model_and_batch(batch=4, seq=15)  # N = 60 tokens; D = 32
    with LogitsRows() as whole:
        loss_and_grads(LogitsLoss(model, FP32.autocast, compile_loss=False), model, batch_BxT1)
    with LogitsRows() as chunked:
        loss_and_grads(ChunkedHeadLoss(model, 40, FP32.autocast), model, batch_BxT1)
    assert whole.most == 60
    assert chunked.most == 40  # a chunk's logits (the head weight's transpose has D = 32 rows)


def test_a_training_step_with_the_chunked_loss_is_the_step_with_the_whole_logits():
    model, batch_BxT1 = model_and_batch()
    twin = copy.deepcopy(model)
    config = optim_config()
    plain = TrainStep(step_loss(model, FP32, None), model, build_optimizer(model, config), config)
    chunked = TrainStep(step_loss(twin, FP32, 16), twin, build_optimizer(twin, config), config)
    for _ in range(3):
        (loss, norm), (chunked_loss, chunked_norm) = plain(batch_BxT1, 1e-3), chunked(batch_BxT1, 1e-3)
        torch.testing.assert_close(chunked_loss, loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(chunked_norm, norm, rtol=1e-5, atol=1e-6)
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_the_chunked_step_reads_nothing_back_to_the_host():
    model, batch_BxT1 = model_and_batch()
    step = TrainStep(step_loss(model, FP32, 8), model, build_optimizer(model, optim_config()), optim_config())
    with HostReads() as reads:
        step(batch_BxT1, lr=1e-3)
        step(batch_BxT1, lr=1e-3)
    assert reads.reads == []


def test_the_compiled_losses_are_the_eager_losses():
    logits_BxTxV = torch.randn(3, 5, 7, dtype=torch.bfloat16)
    targets_BxT = torch.randint(0, 7, (3, 5))
    torch.testing.assert_close(torch.compile(next_token_loss)(logits_BxTxV, targets_BxT),
                               next_token_loss(logits_BxTxV, targets_BxT))
    hidden_NxD, weight_VxD = torch.randn(15, 4, requires_grad=True), torch.randn(7, 4, requires_grad=True)
    eager = loss_and_grads_of(hidden_NxD, weight_VxD, targets_BxT.flatten(), compiled=False)
    compiled = loss_and_grads_of(hidden_NxD, weight_VxD, targets_BxT.flatten(), compiled=True)
    torch.testing.assert_close(compiled, eager)


def loss_and_grads_of(hidden_NxD, weight_VxD, targets_N, compiled):
    hidden_NxD.grad = weight_VxD.grad = None
    loss = linear_cross_entropy(hidden_NxD, weight_VxD, targets_N, chunk=6, compiled=compiled)
    loss.backward()
    return loss.detach(), hidden_NxD.grad.clone(), weight_VxD.grad.clone()
