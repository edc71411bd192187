"""sweep/budget.py: N, tokens, steps and FLOPs of a grid point, from its config alone."""

import math

import pytest

from sweep.budget import compute_budget
from sweep.errors import ConfigError


def test_chinchilla_budget_with_embedding(tiny_config):
    cfg = tiny_config("model.d=64", "model.l=2", "model.head_dim=64", "budget.tokens_per_param=20",
                      "model.seq_len=128", "train.batch_size=8")
    b = compute_budget(cfg)
    n = 12 * 64**2 * 2 + 64 * 257  # byte tokenizer: V = 257
    assert b.n_params == n
    assert b.tokens_target == 20 * n
    assert b.tokens_per_step == 8 * 128
    assert b.steps == math.ceil(20 * n / (8 * 128))
    assert b.tokens == b.steps * 8 * 128 >= 20 * n
    assert b.flops == 6 * n * b.tokens


def test_n_without_embedding(tiny_config):
    b = compute_budget(tiny_config("model.d=64", "model.l=2", "model.head_dim=64", "budget.count_embedding=false"))
    assert b.n_params == 12 * 64**2 * 2
    assert b.n_params_total == b.n_params_nonembedding + 2 * 64 * 257


def test_vocab_follows_the_tokenizer(tiny_config):
    b = compute_budget(tiny_config("data.tokenizer=bpe", "data.vocab_size=1000"))
    assert b.n_params_embedding == 1000 * 32


def test_a_budget_below_one_step_is_refused(tiny_config):
    cfg = tiny_config("budget.tokens_per_param=0.001", "train.batch_size=64")
    with pytest.raises(ConfigError, match="smaller than one step of train.batch_size=64"):
        compute_budget(cfg)
