"""model/arithmetic.py: the closed formulas match the real module."""

import pytest

from model import Transformer, TransformerShape, flops_per_token, param_counts
from model.arithmetic import device_key, peak_flops


@pytest.mark.parametrize("d,l,v,k", [(64, 1, 257, 64), (128, 3, 1000, 32), (96, 2, 50, 16)])
def test_formulas_count_exactly_the_module_parameters(d, l, v, k):
    shape = TransformerShape(d=d, l=l, vocab_size=v, seq_len=8, head_dim=k, mlp_ratio=4, rope_base=1e4)
    counts = param_counts(shape)
    model = Transformer(shape)
    assert counts.total == sum(p.numel() for p in model.parameters())
    assert counts.embedding == model.embed.weight.numel() == v * d
    assert counts.head == model.head.weight.numel() == d * v
    nonembedding = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("embed.", "head.")))
    assert counts.nonembedding == nonembedding


def test_nonembedding_is_12_d_squared_l_up_to_norms():
    shape = TransformerShape(d=512, l=8, vocab_size=32101, seq_len=512, head_dim=64, mlp_ratio=4, rope_base=1e4)
    counts = param_counts(shape)
    assert counts.blocks_matmul == 12 * 512**2 * 8
    assert counts.norms == 8 * (2 * 512 + 2 * 64) + 512


def test_flops_per_token_is_six_matmul_params_plus_attention():
    shape = TransformerShape(d=256, l=4, vocab_size=1000, seq_len=512, head_dim=64, mlp_ratio=4, rope_base=1e4)
    expected = 6 * (12 * 256**2 * 4 + 256 * 1000) + 12 * 4 * 256 * 512
    assert flops_per_token(shape) == expected
    assert flops_per_token(shape, seq_len=128) < expected


def test_device_peaks_are_dense_bf16_datasheet_figures():
    from model import peak_flops

    assert peak_flops("h100-sxm") == 989e12 and peak_flops("a100") == 312e12
    with pytest.raises(KeyError, match="unknown device 'v1'"):
        peak_flops("v1")


def test_cuda_device_names_map_to_their_bf16_peak():
    assert device_key("NVIDIA H100 80GB HBM3") == "h100-sxm"
    assert device_key("NVIDIA H100 PCIe") == "h100-pcie"
    assert device_key("NVIDIA H200") == "h200"
    assert device_key("NVIDIA A100-SXM4-80GB") == "a100"
    assert device_key("NVIDIA L40S") == "l40s"
    assert device_key("NVIDIA GeForce GTX 1080") is None  # no known peak: no MFU
    assert peak_flops(device_key("NVIDIA H100 80GB HBM3")) == 989e12
