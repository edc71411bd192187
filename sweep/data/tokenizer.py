"""Tokenizers: text <-> token ids, with one end-of-document id (EOS) between documents.

- `byte`: ids 0..255 are the UTF-8 bytes, 256 is EOS: V = 257. Nothing to train.
- `bpe`: a byte-level BPE (HF `tokenizers`) trained on the train documents to V =
  `data.vocab_size` entries, `<eos>` being id 0; saved as `tokenizer.json` in the token cache
  entry and loaded from there by every run.

`vocab_size(data)` gives V from the config alone, so the model and the token budget can use it
before any data is prepared.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Iterable

import numpy as np

from sweep.config import DataConfig, TokenizerKind
from sweep.errors import ConfigError

BYTE_VOCAB_SIZE = 257  # 256 byte values + EOS
BYTE_EOS_ID = 256
BPE_EOS = "<eos>"
BPE_EOS_ID = 0  # the first special token the trainer adds
BPE_FILE = "tokenizer.json"


def vocab_size(data: DataConfig) -> int:
    """V for this config, without building anything: 257 for `byte`, data.vocab_size for `bpe`."""
    kind = TokenizerKind(data.tokenizer)
    if kind is TokenizerKind.byte:
        return BYTE_VOCAB_SIZE
    if data.vocab_size < BYTE_VOCAB_SIZE + 1:
        raise ConfigError(
            f"data.vocab_size={data.vocab_size}: a byte-level BPE needs at least "
            f"{BYTE_VOCAB_SIZE + 1} entries (256 bytes + end-of-document + merges)"
        )
    return data.vocab_size


class Tokenizer(abc.ABC):
    """What every tokenizer offers: V, the EOS id, batch encoding, decoding."""

    kind: TokenizerKind
    vocab_size: int  # V: every id is in [0, V)
    eos_id: int

    @abc.abstractmethod
    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (no EOS added)."""

    @abc.abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`; EOS ids are dropped."""

    def encode_stream(self, texts: list[str]) -> np.ndarray:
        """One flat uint32 array: each text's ids followed by EOS, texts in order."""
        ids = self.encode_batch(texts)
        stream_T = np.empty(sum(len(x) + 1 for x in ids), dtype=np.uint32)
        pos = 0
        for doc in ids:
            stream_T[pos : pos + len(doc)] = doc
            stream_T[pos + len(doc)] = self.eos_id
            pos += len(doc) + 1
        return stream_T

    def save(self, folder: Path) -> None:
        """Write what `load_tokenizer` needs into `folder` (nothing for the byte tokenizer)."""


class ByteTokenizer(Tokenizer):
    """UTF-8 bytes as ids 0..255, EOS = 256."""

    kind = TokenizerKind.byte
    vocab_size = BYTE_VOCAB_SIZE
    eos_id = BYTE_EOS_ID

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [list(t.encode("utf-8")) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        return bytes(i for i in ids if i != BYTE_EOS_ID).decode("utf-8", errors="replace")

    def encode_stream(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty(0, dtype=np.uint32)
        encoded = [t.encode("utf-8") for t in texts]
        # Join with a placeholder byte after each text, then overwrite the placeholders by EOS.
        stream_T = np.frombuffer(b"\0".join(encoded) + b"\0", dtype=np.uint8).astype(np.uint32)
        stream_T[np.cumsum([len(b) + 1 for b in encoded]) - 1] = BYTE_EOS_ID
        return stream_T


class BpeTokenizer(Tokenizer):
    """A byte-level BPE of the HF `tokenizers` library; `<eos>` is id 0."""

    kind = TokenizerKind.bpe
    eos_id = BPE_EOS_ID

    def __init__(self, hf_tokenizer, vocab_size: int):
        self._hf = hf_tokenizer
        # A literal "<eos>" in a document is text, not the end of the document.
        self._hf.encode_special_tokens = True
        self.vocab_size = vocab_size  # V of the config; the trained table may hold fewer entries
        self._encode = getattr(hf_tokenizer, "encode_batch_fast", hf_tokenizer.encode_batch)

    @property
    def trained_size(self) -> int:
        """Entries the trainer produced (fewer than V when the corpus has too few merges)."""
        return self._hf.get_vocab_size()

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._encode(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self._hf.decode(list(ids), skip_special_tokens=True)

    def save(self, folder: Path) -> None:
        self._hf.save(str(Path(folder) / BPE_FILE))

    @classmethod
    def train(cls, documents: Iterable[str], vocab_size: int) -> "BpeTokenizer":
        """Learn merges from `documents` until the table holds `vocab_size` entries."""
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[BPE_EOS],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        hf.train_from_iterator(documents, trainer)
        if hf.token_to_id(BPE_EOS) != BPE_EOS_ID:
            raise RuntimeError(f"BPE trainer gave {BPE_EOS} id {hf.token_to_id(BPE_EOS)}")
        return cls(hf, vocab_size)

    @classmethod
    def load(cls, folder: Path, vocab_size: int) -> "BpeTokenizer":
        from tokenizers import Tokenizer as HFTokenizer

        return cls(HFTokenizer.from_file(str(Path(folder) / BPE_FILE)), vocab_size)


def train_tokenizer(data: DataConfig, train_documents: Iterable[str]) -> Tokenizer:
    """The tokenizer of `data`, trained on `train_documents` when it needs training."""
    if TokenizerKind(data.tokenizer) is TokenizerKind.byte:
        return ByteTokenizer()
    return BpeTokenizer.train(train_documents, vocab_size(data))


def load_tokenizer(kind: TokenizerKind, folder: Path, vocab_size: int) -> Tokenizer:
    """The tokenizer saved in a token cache entry `folder`."""
    if TokenizerKind(kind) is TokenizerKind.byte:
        return ByteTokenizer()
    return BpeTokenizer.load(folder, vocab_size)
