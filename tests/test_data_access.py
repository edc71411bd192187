"""sweep/data/access.py: what a run opens, whether it holds the run's tokens, and what the run's
result records of its data."""

import dataclasses

import pytest

from sweep.data.access import check_epochs, corpus_facts, open_corpus
from sweep.errors import ConfigError


def test_a_run_reading_more_than_max_epochs_fails_with_both_numbers(tiny_config):
    data = dataclasses.replace(tiny_config().data, max_epochs=1.0)
    assert check_epochs(data, 1000, 500, 16, "run-a") == pytest.approx(0.5)
    with pytest.raises(ConfigError, match=r"run-b: reads 3,000 train tokens but the corpus holds 1,000 \(3 "
                                          r"epochs, more than data.max_epochs=1\); needs 3,017 .*add documents.*"
                                          r"data.max_epochs=N"):
        check_epochs(data, 1000, 3000, 16, "run-b")
    assert check_epochs(dataclasses.replace(data, max_epochs=None), 1000, 3000, 16, "run-b") == pytest.approx(3.0)


def test_a_result_records_epochs_and_the_corpus_density(tiny_config):
    cfg = tiny_config()
    corpus = open_corpus(cfg.data, cfg.model.seq_len)
    n = len(corpus.train_tokens())
    facts = corpus_facts(corpus, 2 * n)
    assert facts["epochs"] == pytest.approx(2.0) and facts["train_tokens_available"] == n
    density = facts["data_density"]
    assert density["documents_examined"] > 100 and 0 < density["unique_token_fraction"] <= 1
    assert facts["unique_epochs"] == pytest.approx(2.0 / density["unique_token_fraction"])
    assert "true_entropy_nats" not in facts  # known for the synthetic source only
