"""sweep/data/checks.py: the config checks that need the data package, before any data is read; each
refusal names the value and what is accepted."""

from dataclasses import replace

import pytest

from sweep.config import TokenizerKind
from sweep.data.checks import check_data, check_entry_inputs
from sweep.errors import ConfigError


@pytest.fixture
def synthetic(tiny_config):
    return tiny_config("data=synthetic", "data.vocab_size=64").data


@pytest.fixture
def embedded(tiny_config):
    return tiny_config().data


def test_configs_that_can_work_pass(synthetic, embedded):
    for data in (synthetic, embedded):
        assert check_data(data) is None and check_entry_inputs(data) is None


def test_a_synthetic_language_with_more_successors_than_its_vocabulary_holds_is_refused(synthetic):
    too_many = replace(synthetic, vocab_size=8, synthetic=replace(synthetic.synthetic, branching=8))
    with pytest.raises(ConfigError, match=r"data\.synthetic\.branching=8: must be in \[1, V - 1\] = \[1, 7\] \(V=8"):
        check_data(too_many)
    check_entry_inputs(too_many)  # an entry's inputs need no language: building it checks the rest


def test_a_tokenizer_that_does_not_go_with_the_source_is_refused_by_both(synthetic, embedded):
    for check in (check_data, check_entry_inputs):
        with pytest.raises(ConfigError, match="data.tokenizer=byte does not go with data.source=synthetic: "
                                              "accepted are none"):
            check(replace(synthetic, tokenizer=TokenizerKind.byte))
        with pytest.raises(ConfigError, match="data.tokenizer=none only goes with data=synthetic .*"
                                              "accepted are byte, bpe, pretrained"):
            check(replace(embedded, tokenizer=TokenizerKind.none))


@pytest.mark.parametrize("tokens", [0, -5])
def test_an_entry_without_a_held_out_token_is_refused_naming_the_value(embedded, tokens):
    with pytest.raises(ConfigError, match=f"data.eval_tokens={tokens}: must be >= 1"):
        check_entry_inputs(replace(embedded, eval_tokens=tokens))
