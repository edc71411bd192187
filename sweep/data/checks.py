"""The config checks that need the data package: cheap, no data is read.

`sweep.config.validate` checks what the config alone decides and imports nothing from
sweep/data; `check_data` adds what only the data package knows: a tokenizer kind that goes
with the source (sweep/data/tokenizer.py) and a synthetic language that fits its vocabulary
(sweep/data/synthetic.py). Every caller of `validate` calls it right after, before any compute.
"""

from __future__ import annotations

from sweep.config import DataConfig, DataSource
from sweep.errors import ConfigError
from sweep.data.synthetic import check_vocab, synthetic_spec
from sweep.data.tokenizer import check_tokenizer


def check_data(data: DataConfig) -> None:
    """Raise ConfigError when the source, its tokenizer and its language cannot work together."""
    check_tokenizer(data)
    if DataSource(data.source) is DataSource.synthetic:
        check_vocab(synthetic_spec(data), data.vocab_size, data.vocab_size - 1)  # EOS is the last id


def check_entry_inputs(data: DataConfig) -> None:
    """What building any token store entry needs, local or streamed: a tokenizer that goes with
    the source and a held-out split of at least one token."""
    check_tokenizer(data)
    if data.eval_tokens < 1:
        raise ConfigError(f"data.eval_tokens={data.eval_tokens}: must be >= 1")
