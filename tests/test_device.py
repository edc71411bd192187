"""sweep/run/device.py: device, precision and compile choices."""

import pytest
import torch

from sweep.run.device import bf16_is_fast, resolve_placement
from sweep.errors import ConfigError


def loop(tiny_config, *overrides):
    return tiny_config(*overrides).train


def test_auto_picks_cuda_only_when_present_and_compiles_only_there(tiny_config):
    placement = resolve_placement(loop(tiny_config, "train.device=auto", "train.compile=null"))
    assert placement.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert placement.compile == torch.cuda.is_available()


def test_compile_is_selectable_on_cpu(tiny_config):
    assert resolve_placement(loop(tiny_config, "train.device=cpu", "train.compile=true")).compile


def test_auto_precision_uses_bf16_only_where_it_is_fast(tiny_config):
    placement = resolve_placement(loop(tiny_config, "train.device=cpu", "train.precision=auto"))
    assert placement.bf16 == bf16_is_fast(torch.device("cpu"))
    assert resolve_placement(loop(tiny_config, "train.precision=bf16")).bf16
    assert not resolve_placement(loop(tiny_config, "train.precision=fp32")).bf16


def test_bf16_autocast_runs_matmuls_in_bf16(tiny_config):
    placement = resolve_placement(loop(tiny_config, "train.device=cpu", "train.precision=bf16"))
    with placement.autocast():
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_one_is_a_clear_error(tiny_config):
    with pytest.raises(ConfigError, match="train.device=cuda"):
        resolve_placement(loop(tiny_config, "train.device=cuda"))
