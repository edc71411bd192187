"""The next-token loss of a training step, two ways that give the same loss and gradients.

- `LogitsLoss`: the model's logits (B x T x V, in bf16 under autocast), cast to fp32, then
  cross-entropy. At V = 32,101 the fp32 logits and their gradient are the largest tensors of the
  step (B = 32, T = 512: 2.1 GB each).
- `ChunkedHeadLoss` (`train.loss_chunk_tokens`): the output head and the cross-entropy fused,
  U tokens at a time. Each chunk's logits (U x V) are made, turned into the chunk's loss and the
  gradients of the hidden states and of the head weight, and dropped, all in the forward pass, so
  neither the whole logits nor their gradient ever exist (the "fused linear cross-entropy" of
  Liger Kernel and Apple's cut-cross-entropy, here in plain PyTorch; in a compiled run each
  chunk's softmax, loss and gradient are one torch.compile'd function). The backward pass only
  scales the stored gradients.

Letters: B batch, T sequence length, D width, V vocabulary, W = B x T tokens, U tokens per chunk,
Vp = V rounded up to a multiple of HEAD_ALIGN (model/transformer.py, which pads its head the same way).
Both run inside the step's autocast (the head's matmuls in bf16 where it is on), softmax and loss
in fp32. The training loop and benchmarks/throughput.py build theirs with `step_loss`.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.transformer import HEAD_ALIGN
from sweep.run.device import Placement


def next_token_loss(logits_BxTxV: torch.Tensor, targets_BxT: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in fp32 (compiled, the cast fuses into the loss kernel)."""
    return F.cross_entropy(logits_BxTxV.float().flatten(0, 1), targets_BxT.flatten())


class LogitsLoss:
    """`loss(batch_BxT1)`: the forward's whole logits under autocast, then the fp32 loss."""

    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], autocast: Callable, compile_loss: bool):
        self.forward, self.autocast = forward, autocast
        self.loss_fn = torch.compile(next_token_loss) if compile_loss else next_token_loss

    def __call__(self, batch_BxT1: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            logits_BxTxV = self.forward(batch_BxT1[:, :-1])
        return self.loss_fn(logits_BxTxV, batch_BxT1[:, 1:])


def matmul_dtype(device_type: str, dtype: torch.dtype) -> torch.dtype:
    """The dtype autocast would run a matmul of `dtype` inputs in here (its own when autocast is off)."""
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return dtype


def chunk_loss_and_grad(logits_UxVp: torch.Tensor, targets_U: torch.Tensor, n_tokens: int, vocab: int,
                        grad_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """A chunk's summed cross-entropy over the first `vocab` (V) of its Vp logit columns (fp32 at
    least) and d(mean loss)/d(logits) = (softmax - one_hot) / W in `grad_dtype`, Vp columns wide
    with the padding's zero (compiled: one or two kernels)."""
    logits_UxV = logits_UxVp[:, :vocab].to(torch.promote_types(logits_UxVp.dtype, torch.float32))
    lse_U = torch.logsumexp(logits_UxV, dim=1)
    loss = (lse_U - logits_UxV.gather(1, targets_U[:, None]).squeeze(1)).sum()
    grad_UxV = logits_UxV.sub_(lse_U[:, None]).exp_()
    grad_UxV.scatter_add_(1, targets_U[:, None], torch.full_like(lse_U[:, None], -1.0))
    return loss, F.pad(grad_UxV.div_(n_tokens).to(grad_dtype), (0, logits_UxVp.shape[1] - vocab))


compiled_chunk_loss_and_grad = torch.compile(chunk_loss_and_grad)


class LinearCrossEntropy(torch.autograd.Function):
    """mean_n CE(hidden_WxD[n] @ weight_VxD^T, targets_W[n]), U rows at a time, with both
    gradients computed in the forward pass (see the module docstring). The head weight is
    padded with zero rows to Vp, a multiple of HEAD_ALIGN, for the matmuls: U x V logits at
    V = 32,101 have an odd row stride, which keeps cuBLAS off its aligned tensor-core kernels
    (RESULTS "The GPU path on an H200"); the padded columns are left out of the loss."""

    @staticmethod
    def forward(ctx, hidden_WxD: torch.Tensor, weight_VxD: torch.Tensor, targets_W: torch.Tensor,
                chunk: int, compiled: bool) -> torch.Tensor:
        device_type = hidden_WxD.device.type
        dtype = matmul_dtype(device_type, weight_VxD.dtype)
        acc = torch.promote_types(dtype, torch.float32)  # the loss and the head's gradient: fp32 at least
        loss_and_grad = compiled_chunk_loss_and_grad if compiled else chunk_loss_and_grad
        W, (V, D) = hidden_WxD.shape[0], weight_VxD.shape
        Vp = -(-V // HEAD_ALIGN) * HEAD_ALIGN
        with torch.autocast(device_type, enabled=False):
            w_VpxD = F.pad(weight_VxD.to(dtype), (0, 0, 0, Vp - V))
            h_WxD = hidden_WxD.to(dtype)
            loss_sum = torch.zeros((), dtype=acc, device=hidden_WxD.device)
            grad_h_WxD = torch.empty_like(hidden_WxD)
            grad_w_VpxD = torch.zeros((Vp, D), dtype=acc, device=weight_VxD.device)
            for start in range(0, W, chunk):
                h_UxD = h_WxD[start:start + chunk]
                loss, grad_UxVp = loss_and_grad(h_UxD @ w_VpxD.T, targets_W[start:start + chunk], W, V, dtype)
                loss_sum += loss
                grad_h_WxD[start:start + chunk] = grad_UxVp @ w_VpxD
                grad_w_VpxD += (grad_UxVp.T @ h_UxD).to(acc)  # summed over the chunks in fp32
        ctx.save_for_backward(grad_h_WxD, grad_w_VpxD[:V].to(weight_VxD.dtype))
        return loss_sum / W

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grad_h_WxD, grad_w_VxD = ctx.saved_tensors
        return (grad_h_WxD * grad_loss.to(grad_h_WxD.dtype), grad_w_VxD * grad_loss.to(grad_w_VxD.dtype),
                None, None, None)


def linear_cross_entropy(hidden_WxD: torch.Tensor, weight_VxD: torch.Tensor, targets_W: torch.Tensor,
                         chunk: int, compiled: bool = False) -> torch.Tensor:
    """Mean cross-entropy of the logits hidden_WxD @ weight_VxD^T, U = `chunk` rows at a time
    (`compiled`: each chunk's softmax, loss and gradient in torch.compile'd kernels)."""
    if chunk < 1:
        raise ValueError(f"chunk={chunk}: a chunk holds at least one token")
    return LinearCrossEntropy.apply(hidden_WxD, weight_VxD, targets_W, chunk, compiled)


class ChunkedHeadLoss(nn.Module):
    """`loss(batch_BxT1)` for a model with `hidden(tokens_BxT)` (the final normed hidden states)
    and an output `head` (nn.Linear, no bias): the head and the loss fused, `chunk` tokens at a
    time. A module, so that DistributedDataParallel can wrap the whole loss. `compiled`: `hidden`
    is one torch.compile'd graph and so is each chunk's softmax, loss and gradient."""

    def __init__(self, model: nn.Module, chunk: int, autocast: Callable, compiled: bool = False):
        super().__init__()
        self.model, self.chunk, self.autocast, self.compiled = model, chunk, autocast, compiled
        self.hidden = torch.compile(model.hidden) if compiled else model.hidden

    def forward(self, batch_BxT1: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            hidden_BxTxD = self.hidden(batch_BxT1[:, :-1])
            return linear_cross_entropy(hidden_BxTxD.flatten(0, 1), self.model.head.weight,
                                        batch_BxT1[:, 1:].flatten(), self.chunk, self.compiled)


def step_loss(model: nn.Module, placement: Placement, chunk_tokens: int | None,
              ddp: Callable[[nn.Module], nn.Module] | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The training step's loss of a batch (`train.loss_chunk_tokens`: None for `LogitsLoss`, else
    `ChunkedHeadLoss`); `ddp` wraps the module that runs the forward in DistributedDataParallel."""
    wrap = ddp or (lambda module: module)
    if chunk_tokens is None:
        return LogitsLoss(wrap(model), placement.autocast, compile_loss=placement.compile)
    return wrap(ChunkedHeadLoss(model, chunk_tokens, placement.autocast, compiled=placement.compile))
