"""What a run opens, and the check that it holds enough tokens for the run.

- embedded / files corpora: their token store entry (sweep/data/local.py), built by the first
  run that needs it (or by `sweep prepare`).
- hf / c4 / synthetic corpora: the shards `sweep prepare` made (sweep/data/streamed.py); a run
  never tokenizes them, and fails before training when they are missing.

`check_epochs` compares the tokens a run reads with the prepared train tokens: a run that would
pass over them more than `data.max_epochs` times fails before training, with both numbers.
"""

from __future__ import annotations

from sweep.config import DataConfig
from sweep.data.local import prepare_token_cache
from sweep.data.store import TokenStore
from sweep.data.streamed import is_streamed, open_prepared, tokens_needed
from sweep.data.tokenizer import check_tokenizer
from sweep.errors import ConfigError


def open_corpus(data: DataConfig, seq_len: int) -> TokenStore:
    check_tokenizer(data)
    if is_streamed(data):
        return open_prepared(data, seq_len)
    return prepare_token_cache(data, seq_len)


def check_epochs(data: DataConfig, n_train_tokens: int, tokens_read: int, seq_len: int, run: str) -> float:
    """Passes over the train tokens that reading `tokens_read` makes; ConfigError above
    data.max_epochs."""
    epochs = tokens_read / max(n_train_tokens, 1)
    if data.max_epochs is not None and epochs > data.max_epochs:
        hint = ("run `sweep prepare` with the sweep's overrides to prepare more"
                if is_streamed(data) else "add documents")
        raise ConfigError(
            f"{run}: reads {tokens_read:,} train tokens but the corpus holds {n_train_tokens:,} "
            f"({epochs:.3g} epochs, more than data.max_epochs={data.max_epochs:g}); needs "
            f"{tokens_needed(tokens_read, seq_len, data.max_epochs):,} prepared tokens: {hint}, "
            "or allow repetition with data.max_epochs=N (or null)"
        )
    return epochs


DENSITY_FIELDS = ("documents_examined", "mean_document_tokens", "exact_duplicate_rate", "near_duplicate_rate",
                  "near_or_exact_duplicate_rate", "unique_token_fraction")


def corpus_facts(corpus: TokenStore, tokens_read: int, n_train_tokens: int | None = None) -> dict:
    """What a run's result records of its data: epochs over the train tokens (and over their
    estimated unique tokens), the density report's headline numbers, and the synthetic
    source's true entropy rate (the loss no model can beat)."""
    from sweep.data.density import epochs

    n_train = len(corpus.train_tokens()) if n_train_tokens is None else n_train_tokens
    manifest = corpus.manifest
    facts: dict = {"epochs": tokens_read / max(n_train, 1), "train_tokens_available": n_train}
    density = manifest.get("density")
    if density:
        facts["data_density"] = {k: density[k] for k in DENSITY_FIELDS if k in density}
        if density.get("unique_token_fraction", 0) > 0:
            facts["unique_epochs"] = epochs(tokens_read, max(n_train, 1), density["unique_token_fraction"])["unique_epochs"]
    if manifest.get("true_entropy_nats") is not None:
        facts["true_entropy_nats"] = manifest["true_entropy_nats"]
    return facts
