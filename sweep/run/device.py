"""Which device a run uses, in which precision, and whether it is compiled."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch

from sweep.config import Device, Precision, TrainLoopConfig
from sweep.errors import ConfigError

# Under bf16 autocast an eager nn.RMSNorm gets bf16 activations and its fp32 gain: torch warns once
# that it cannot use its fused kernel and takes the composite one, which computes in fp32 and returns
# bf16, as intended here. The warning tells a user nothing to act on.
warnings.filterwarnings("ignore", message="Mismatch dtype between input and weight", category=UserWarning)


@dataclass(frozen=True)
class Placement:
    device: torch.device
    bf16: bool  # bf16 autocast for matmuls; weights, optimizer and loss stay fp32
    compile: bool

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def describe(self) -> str:
        return f"{self.device.type} {'bf16 autocast' if self.bf16 else 'fp32'}{' compiled' if self.compile else ''}"


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 autocast pays off on CUDA with bf16 support and on CPUs with native bf16 (AVX512-BF16,
    AMX); on other CPUs it is emulated and several times slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def check_device(train: TrainLoopConfig) -> None:
    """The device asked for is there (cheap: no device is initialised)."""
    if train.device is Device.cuda and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is visible: use auto or cpu")


def resolve_placement(train: TrainLoopConfig, local_rank: int = 0) -> Placement:
    check_device(train)
    use_cuda = train.device is Device.cuda or (train.device is Device.auto and torch.cuda.is_available())
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    bf16 = {Precision.bf16: True, Precision.fp32: False}.get(train.precision, None)
    if bf16 is None:
        bf16 = bf16_is_fast(device)
    compile_ = device.type == "cuda" if train.compile is None else train.compile
    return Placement(device=device, bf16=bf16, compile=compile_)
