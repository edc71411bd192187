"""sweep/run/optim.py: AdamW groups, the three weight-decay modes, warmup + cosine, warmup-stable-decay."""

import math

import pytest
import torch

from model import Transformer, TransformerShape
from sweep.config import Schedule, WeightDecayMode
from sweep.run.optim import build_optimizer, cooldown_start, l2_penalty, lr_at, warmup_steps
from tests.helpers import optim_config as optim


def small_model():
    torch.manual_seed(0)
    return Transformer(TransformerShape(d=16, l=1, vocab_size=11, seq_len=8, head_dim=8, mlp_ratio=4, rope_base=1e4))


def test_norm_gains_are_never_decayed():
    model = small_model()
    opt = build_optimizer(model, optim())
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim == 1 for p in plain["params"]) and all(p.ndim == 2 for p in decayed["params"])
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["eps"] == 1e-20


def test_adamw_is_fused_on_cpu_and_cuda_and_matches_the_unfused_update():
    model = small_model()
    opt = build_optimizer(model, optim())
    assert opt.defaults["fused"] is True  # the CPU has torch's fused kernel too
    reference_model = small_model()
    reference = torch.optim.AdamW([{"params": g["params"], "weight_decay": g["weight_decay"]} for g in
                                   build_optimizer(reference_model, optim()).param_groups],
                                  lr=1e-3, betas=(0.9, 0.95), eps=1e-20, foreach=True)
    for m, o in ((model, opt), (reference_model, reference)):
        for g in o.param_groups:
            g["lr"] = 1e-3
        for _ in range(3):
            for p in m.parameters():
                p.grad = torch.ones_like(p)
            o.step()
    for a, b in zip(model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(a, b)


def decay_step(mode: WeightDecayMode, lr: float) -> float:
    """Shrink factor of a weight after one step with zero gradient."""
    model = small_model()
    opt = build_optimizer(model, optim(weight_decay_mode=mode, lr=1e-2))
    for group in opt.param_groups:
        group["lr"] = lr
    w = model.head.weight
    before = w.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    return (w.detach() / before).mean().item()


def test_coupled_decay_is_scaled_by_the_learning_rate():
    assert decay_step(WeightDecayMode.coupled, lr=1e-2) == pytest.approx(1 - 1e-2 * 0.1)


def test_independent_decay_follows_the_schedule_but_not_the_peak():
    assert decay_step(WeightDecayMode.independent, lr=1e-2) == pytest.approx(1 - 0.1)
    assert decay_step(WeightDecayMode.independent, lr=5e-3) == pytest.approx(1 - 0.05)


def test_l2_mode_puts_the_penalty_in_the_loss_instead():
    assert decay_step(WeightDecayMode.l2, lr=1e-2) == pytest.approx(1.0)
    model = small_model()
    penalty = l2_penalty(model, optim(weight_decay_mode=WeightDecayMode.l2))
    expected = 0.05 * sum(p.pow(2).sum() for p in model.parameters() if p.ndim == 2)
    torch.testing.assert_close(penalty, expected)
    assert l2_penalty(model, optim()) is None


def test_warmup_is_capped_by_a_fraction_of_the_run():
    assert warmup_steps(optim(warmup_steps=1000), total_steps=100_000) == 1000
    assert warmup_steps(optim(warmup_steps=1000), total_steps=200) == 20


def test_schedule_warms_up_linearly_then_cosine_decays_to_ten_percent():
    cfg, total = optim(warmup_steps=10, warmup_max_fraction=1.0), 110
    lrs = [lr_at(s, cfg, total) for s in range(total)]
    assert lrs[0] == pytest.approx(1e-3) and lrs[9] == pytest.approx(1e-2)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(1e-3)
    midpoint = 10 + (total - 1 - 10) / 2
    assert lr_at(math.ceil(midpoint), cfg, total) == pytest.approx(0.55e-2, rel=0.02)


def wsd(**overrides):
    """A wsd schedule: peak 1e-2, floor 1e-3, 10 warmup steps, the last 20% cooling down."""
    return optim(**{"schedule": Schedule.wsd, "warmup_max_fraction": 1.0, **overrides})


def test_the_wsd_cooldown_is_the_last_fraction_of_the_steps_and_at_least_one():
    assert cooldown_start(100, 0.2) == 80
    assert cooldown_start(85, 0.2) == 68  # round(17.0)
    assert cooldown_start(10, 0.01) == 9  # one step, not none
    assert cooldown_start(10, 1.0) == 0


def test_wsd_warms_up_as_cosine_does_then_holds_the_peak_until_its_cooldown_then_ends_at_the_floor():
    cfg, total = wsd(), 100
    lrs = [lr_at(s, cfg, total) for s in range(total)]
    assert lrs[:10] == [lr_at(s, optim(warmup_max_fraction=1.0), total) for s in range(10)]
    assert lrs[9] == 1e-2 and set(lrs[9:81]) == {1e-2}  # stable; step 80 is the cooldown's p = 0
    assert all(a > b for a, b in zip(lrs[80:], lrs[81:]))
    assert lrs[-1] == pytest.approx(1e-3)


@pytest.mark.parametrize("shape, at_quarter, at_half", [("linear", 7.75e-3, 5.5e-3), ("1-sqrt", 5.5e-3, 3.636e-3)])
def test_the_cooldown_shapes_at_known_steps(shape, at_quarter, at_half):
    cfg, total = wsd(cooldown_shape=shape), 85  # cooldown from step 68 to 84: p = (step - 68) / 16
    assert lr_at(68, cfg, total) == pytest.approx(1e-2)
    assert lr_at(72, cfg, total) == pytest.approx(at_quarter)  # p = 1/4: 1e-2 (0.1 + 0.9 f(p))
    assert lr_at(76, cfg, total) == pytest.approx(at_half, rel=1e-3)  # p = 1/2
    assert lr_at(84, cfg, total) == pytest.approx(1e-3)


def test_one_sqrt_decays_faster_than_linear_at_every_cooldown_step_between_its_ends():
    linear, one_sqrt = wsd(cooldown_shape="linear"), wsd(cooldown_shape="1-sqrt")
    assert all(lr_at(s, one_sqrt, 85) < lr_at(s, linear, 85) for s in range(69, 84))


def test_a_one_step_cooldown_is_at_the_floor_at_once():
    cfg = wsd(warmup_steps=2, cooldown_fraction=0.01)
    assert [lr_at(s, cfg, 10) for s in (8, 9)] == [1e-2, pytest.approx(1e-3)]


def test_a_ladder_members_warmup_is_computed_from_the_ladders_steps_not_its_own():
    cfg = wsd(warmup_steps=1000, warmup_max_fraction=0.1)  # 10% of S
    assert warmup_steps(cfg, 41) == 4 and warmup_steps(cfg, 81) == 8
    assert lr_at(3, cfg, 41) == 1e-2  # alone: warm after 4 steps
    assert lr_at(3, cfg, 41, warmup_of_steps=81) == pytest.approx(1e-2 * 4 / 8)  # in a ladder of S = 81
    assert [lr_at(s, cfg, 41, warmup_of_steps=81) for s in range(33)] == [lr_at(s, cfg, 81) for s in range(33)]


@pytest.mark.parametrize("floor", [0.1, 0.3, 0.0])
def test_a_trunk_is_at_the_peak_from_its_warmup_to_where_it_stops_its_cooldown_start(floor):
    cfg = wsd(warmup_steps=1000, warmup_max_fraction=0.1, final_lr_fraction=floor)
    stop = cooldown_start(81, cfg.cooldown_fraction)
    assert stop == 65
    assert {lr_at(s, cfg, 81) for s in range(7, stop)} == {1e-2}


def test_the_cosine_schedule_is_unchanged_by_the_wsd_settings():
    for shape in ("linear", "1-sqrt"):
        cfg = optim(cooldown_shape=shape, cooldown_fraction=0.5)
        assert [lr_at(s, cfg, 110) for s in range(110)] == [lr_at(s, optim(), 110) for s in range(110)]
