"""sweep/config.py: the config tree composes into typed dataclasses; mistakes fail early."""

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from sweep.config import DataSource, TrainConfig, WeightDecayMode, to_typed, validate
from sweep.errors import ConfigError
from tests.helpers import compose_config


def test_defaults_are_the_nanodo_recipe():
    cfg = to_typed(compose_config())
    assert isinstance(cfg, TrainConfig)
    assert (cfg.model.d, cfg.model.l, cfg.model.head_dim, cfg.model.seq_len) == (512, 6, 64, 512)
    assert cfg.model.mlp_ratio == 4
    assert (cfg.optim.b1, cfg.optim.b2, cfg.optim.eps) == (0.9, 0.95, 1e-20)
    assert cfg.optim.weight_decay == 0.1 and cfg.optim.weight_decay_mode is WeightDecayMode.coupled
    assert cfg.optim.final_lr_fraction == 0.1
    assert cfg.budget.tokens_per_param == 20 and cfg.budget.count_embedding
    assert cfg.data.source is DataSource.embedded
    validate(cfg)


def test_overrides_use_the_documented_names():
    cfg = to_typed(compose_config("model.d=128", "model.l=3", "train.batch_size=8", "optim.lr=1e-3",
                                  "optim.weight_decay=0", "budget.tokens_per_param=40", "seed=7",
                                  "data=files", "data.paths=[a.txt]", "out_dir=/tmp/x"))
    assert (cfg.model.d, cfg.model.l, cfg.train.batch_size, cfg.seed) == (128, 3, 8, 7)
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.budget.tokens_per_param) == (1e-3, 0.0, 40)
    assert cfg.data.source is DataSource.files and cfg.data.paths == ["a.txt"]
    assert cfg.data.cache_dir == "/tmp/x/token_cache"


def test_a_typo_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="modle"):
        compose_config("modle.d=64")


def test_a_wrong_type_fails_at_compose_time():
    with pytest.raises((ConfigCompositionException, ValidationError), match="model.d"):
        compose_config("model.d=wide")


def test_a_value_a_config_leaves_unset_is_named_with_what_it_takes():
    cfg = compose_config("data=hf", "data.hf_path=/tmp/corpus", "data.tokenizer_name=google-t5/t5-base")
    with pytest.raises(ConfigError, match=r"^data.vocab_size has no value \(\?\?\? in its config\): give "
                                          r"data.vocab_size=VALUE; the tokenizer's vocabulary size, \+ 1 with "
                                          r"data.add_bos=true"):
        to_typed(cfg)  # was: OmegaConf's "Missing mandatory value: vocab_size / full_key: ... object_type=DataConfig"


def test_a_tokenizer_that_fixes_its_size_needs_no_vocab_size_given():
    """data=hf data.tokenizer=byte: V is the byte tokenizer's 257 (was: data.vocab_size=257 by hand)."""
    cfg = compose_config("data=hf", "data.hf_path=/tmp/corpus", "data.tokenizer=byte")
    assert to_typed(cfg).data.vocab_size == 257
    assert OmegaConf.is_missing(cfg.data, "vocab_size")  # the composed config is left as it is
    assert to_typed(compose_config("data=hf", "data.hf_path=/tmp/corpus", "data.tokenizer=byte",
                                   "data.vocab_size=300")).data.vocab_size == 300  # given: check_tokenizer refuses it


def test_an_unknown_choice_names_the_accepted_ones():
    with pytest.raises(ConfigCompositionException) as err:
        compose_config("optim.weight_decay_mode=decoupled")
    assert "expected one of [coupled, independent, l2]" in str(err.value.__cause__)


def test_an_unknown_data_source_names_the_options():
    with pytest.raises(ConfigCompositionException, match="embedded"):
        compose_config("data=c5")


@pytest.mark.parametrize("override,message", [
    ("model.d=100", "model.d=100 is not a multiple of model.head_dim=64"),
    ("model.l=0", "model.l=0"),
    ("optim.lr=0", "optim.lr=0.0"),
    ("optim.lr=-1e-3", "optim.lr=-0.001"),
    ("train.batch_size=0", "train.batch_size=0"),
    ("train.batch_size=-4", "train.batch_size=-4"),
    ("optim.weight_decay=-0.1", "optim.weight_decay=-0.1"),
    ("optim.b2=1.0", "optim.b2=1.0"),
    ("optim.grad_clip=0", "optim.grad_clip=0.0"),
    ("train.divergence_factor=1", "train.divergence_factor=1.0"),
])
def test_impossible_values_are_refused_with_the_value(override, message):
    cfg = to_typed(compose_config(override))
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("+", r"\+")):
        validate(cfg)


def test_a_missing_file_is_named():
    cfg = to_typed(compose_config("data=files", "data.paths=[/nonexistent/corpus.txt]"))
    with pytest.raises(ConfigError, match="/nonexistent/corpus.txt"):
        validate(cfg)


def test_a_key_inside_a_value_is_refused_and_a_preset_s_scales_say_what_to_give_instead():
    from sweep.config import check_key

    with pytest.raises(ConfigError, match=r"optim.lr.x: optim.lr is a value, not a section"):
        check_key("optim.lr.x")
    with pytest.raises(ConfigError, match=r"experiment.scales is the preset's own table of scales, applied before "
                                          r"the command line"):  # was: "experiment.scales is a value"
        check_key("experiment.scales.cpu.overrides")


@pytest.mark.parametrize("override, message", [
    ("logger.project=my/proj", r"logger.project='my/proj' contains /: W&B accepts a name of 1 to 128 characters "
                               r"without any of / \\ # \? % :"),
    ("logger.project=a:b?c", r"logger.project='a:b\?c' contains \? :"),
    ("logger.project=", r"logger.project='' is empty: W&B accepts a name of 1 to 128"),
    (f"logger.project={'p' * 129}", r"has 129 characters: W&B accepts a name of 1 to 128"),
    ("logger.entity=", r"logger.entity='' is empty: .* or null: the API key's default entity"),
    ("logger.entity=team/x", r"logger.entity='team/x' contains /"),
    ("logger.group=", r"logger.group='' is empty: .* or null: the sweep's name"),
    ("logger.group=a/b", r"logger.group='a/b' contains /: W&B accepts a name of 1 to 128 characters without any of /"),
])
def test_a_wandb_name_wandb_refuses_is_refused_before_any_run(override, message):
    """wandb.init refused the name when each run started, and the run trained untracked: a whole
    sweep without tracking, for a mistake in the config."""
    cfg = to_typed(compose_config(override))
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


def test_wandb_names_are_not_checked_without_wandb_and_the_accepted_ones_pass():
    validate(to_typed(compose_config("logger=none", "logger.project=my/proj", "logger.group=")))
    validate(to_typed(compose_config("logger.project='my-proj_2.0 (test)'", "logger.entity=my-team",
                                     "logger.group='lr:grid#1'")))
    validate(to_typed(compose_config(f"logger.project={'p' * 128}")))


def test_early_stop_resamples_past_max_resamples_is_refused_before_any_run():
    """Was: accepted by the dry run; the probes trained, then a 67 GiB allocation failed both runs."""
    cfg = to_typed(compose_config("early_stop.resamples=1000000000"))
    with pytest.raises(ConfigError, match=r"^early_stop.resamples=1000000000: accepted is a whole number >= 1, "
                                          r"at most 10000"):
        validate(cfg)
    validate(to_typed(compose_config("early_stop.resamples=10000")))


@pytest.mark.parametrize("key, value, accepted", [
    ("early_stop.enabled", "2", "true or false"), ("budget.count_embedding", "yes", "true or false"),
    ("train.compile", "1", "true or false, or null")])
def test_a_true_or_false_setting_takes_only_true_or_false(key, value, accepted):
    """Was: early_stop.enabled=2 taken as true (OmegaConf: any whole number but 0), where maybe was refused."""
    from sweep.config import check_bool

    with pytest.raises(ConfigError, match=f"^{key}={value}: accepted is {accepted}$"):
        check_bool(key, value)
    for fine in ("true", "False", "true,false"):
        check_bool(key, fine)
    check_bool("model.d", "2")
