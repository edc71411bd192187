"""Tokenizers: text <-> token ids, with one end-of-document id (EOS) between documents.

- `byte`: ids 0..255 are the UTF-8 bytes, 256 is EOS: V = 257. Nothing to train.
- `bpe`: a byte-level BPE (HF `tokenizers`) trained on the train documents to V =
  `data.vocab_size` entries, `<eos>` being id 0; saved as `tokenizer.json` in the token cache
  entry and loaded from there by every run.
- `pretrained`: a `transformers` tokenizer, `data.tokenizer_name` being a hub name (read from the
  local HF cache when offline) or a local folder (e.g. one holding T5's `spiece.model`). Its EOS
  ends each document; with `data.add_bos` a BOS id equal to the tokenizer's size starts each
  document, so T5's 32,100 entries + BOS give V = 32,101. Saved into the cache entry.
- `none`: the source emits ids itself (data=synthetic); V = `data.vocab_size`, nothing to encode.

`vocab_size(data)` gives V from the config alone, so the model and the token budget can use it
before any data is prepared. This module is the one place that maps a kind to its tokenizer:
`ACCEPTED_KINDS` / `check_tokenizer` (which kinds a source takes), `new_tokenizer` (the
tokenizer a new token store is made with, trained when it needs training) and `load_tokenizer`
(the one saved in a store).
"""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from sweep.config import OWN_VOCAB_SIZES, DataConfig, DataSource, TokenizerKind
from sweep.errors import ConfigError

BYTE_VOCAB_SIZE = OWN_VOCAB_SIZES[TokenizerKind.byte]  # 256 byte values + EOS
BYTE_EOS_ID = 256
BPE_EOS = "<eos>"
BPE_EOS_ID = 0  # the first special token the trainer adds
BPE_FILE = "tokenizer.json"
PRETRAINED_DIR = "tokenizer"  # save_pretrained folder inside a cache entry

# The tokenizer kinds each source can be tokenized with.
_TEXT_KINDS = (TokenizerKind.byte, TokenizerKind.bpe, TokenizerKind.pretrained)
ACCEPTED_KINDS = {DataSource.embedded: _TEXT_KINDS, DataSource.files: _TEXT_KINDS,
                  DataSource.hf: (TokenizerKind.pretrained, TokenizerKind.byte),
                  DataSource.synthetic: (TokenizerKind.none,)}


def check_tokenizer(data: DataConfig) -> None:
    """The source/tokenizer pair must be one that can work (no data is read)."""
    source, kind = DataSource(data.source), TokenizerKind(data.tokenizer)
    if kind not in ACCEPTED_KINDS[source]:
        if ACCEPTED_KINDS[source] == _TEXT_KINDS and kind is TokenizerKind.none:
            raise ConfigError(f"data.tokenizer=none only goes with data=synthetic (whose ids are its tokens); with "
                              f"data={source.value} accepted are {', '.join(k.value for k in _TEXT_KINDS)}")
        raise ConfigError(f"data.tokenizer={kind.value} does not go with data.source={source.value}: "
                          f"accepted are {', '.join(k.value for k in ACCEPTED_KINDS[source])}")
    if kind is TokenizerKind.pretrained and not data.tokenizer_name:
        raise ConfigError("data.tokenizer=pretrained needs data.tokenizer_name: a hub name "
                          "(google-t5/t5-base) or a local tokenizer folder")
    name = str(data.tokenizer_name or "")
    if kind is TokenizerKind.pretrained and name.startswith(("/", "./", "../", "~")) and \
            not Path(os.path.expanduser(name)).is_dir():  # a path, not a hub name: it was refused later, for
        raise ConfigError(f"data.tokenizer_name={name!r} is not a folder; accepted: a local folder holding the "
                          "tokenizer, or a hub name (google-t5/t5-base)")  # another reason (a corpus too small)
    if source is DataSource.hf and not data.hf_path:
        raise ConfigError("data=hf needs data.hf_path: a dataset name on the hub or a local dataset folder")
    if source is DataSource.hf and kind is TokenizerKind.byte and data.vocab_size != BYTE_VOCAB_SIZE:
        raise ConfigError(f"data.vocab_size={data.vocab_size} with data.tokenizer=byte: the byte tokenizer has "
                          f"{BYTE_VOCAB_SIZE} ids (256 bytes and EOS, no BOS: data.add_bos is not used with it); "
                          f"give data.vocab_size={BYTE_VOCAB_SIZE}")


def vocab_size(data: DataConfig) -> int:
    """V for this config, without building anything: 257 for `byte`, data.vocab_size for `bpe`."""
    kind = TokenizerKind(data.tokenizer)
    if kind is TokenizerKind.byte:
        return BYTE_VOCAB_SIZE
    if kind in (TokenizerKind.pretrained, TokenizerKind.none):
        if data.vocab_size < 2:
            raise ConfigError(f"data.vocab_size={data.vocab_size}: must be >= 2")
        return data.vocab_size
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
    bos_id: int | None = None  # when set, starts every document of a stream

    @abc.abstractmethod
    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (no EOS added)."""

    @abc.abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`; EOS ids are dropped."""

    def encode_stream(self, texts: list[str]) -> np.ndarray:
        """One flat uint32 array: each text's ids followed by EOS (preceded by BOS when the
        tokenizer has one), texts in order."""
        ids = self.encode_batch(texts)
        bos = int(self.bos_id is not None)
        stream_T = np.empty(sum(len(x) + 1 + bos for x in ids), dtype=np.uint32)
        pos = 0
        for doc in ids:
            if bos:
                stream_T[pos] = self.bos_id
            stream_T[pos + bos : pos + bos + len(doc)] = doc
            stream_T[pos + bos + len(doc)] = self.eos_id
            pos += len(doc) + 1 + bos
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


class PretrainedTokenizer(Tokenizer):
    """A `transformers` tokenizer (T5's SentencePiece for C4), EOS after each document and,
    with `add_bos`, a BOS id = the tokenizer's size before it."""

    kind = TokenizerKind.pretrained

    def __init__(self, hf_tokenizer, add_bos: bool, vocab_size: int, name: str):
        self._hf = hf_tokenizer
        if hf_tokenizer.eos_token_id is None:
            raise ConfigError(f"data.tokenizer_name={name!r} has no EOS token to end documents with")
        self.eos_id = int(hf_tokenizer.eos_token_id)
        size = len(hf_tokenizer)
        self.bos_id = size if add_bos else None
        needed = size + int(add_bos)
        if vocab_size != needed:
            raise ConfigError(
                f"data.vocab_size={vocab_size}, but tokenizer {name!r} has {size} entries"
                f"{' + 1 BOS' if add_bos else ''} = {needed}: set data.vocab_size={needed}"
            )
        self.vocab_size = vocab_size

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        # The `tokenizers` backend of the same tokenizer, without offsets: about 1.4x faster than
        # calling the transformers tokenizer, the same ids (tests/test_data_tokenizer.py).
        backend = getattr(self._hf, "backend_tokenizer", None)  # a fast tokenizer's (a slow one has none)
        if backend is not None and hasattr(backend, "encode_batch_fast"):
            return [e.ids for e in backend.encode_batch_fast(texts, add_special_tokens=False)]
        return self._hf(texts, add_special_tokens=False, return_attention_mask=False,
                        verbose=False)["input_ids"]

    def decode(self, ids: Iterable[int]) -> str:
        return self._hf.decode([i for i in ids if i != self.bos_id], skip_special_tokens=True)

    def save(self, folder: Path) -> None:
        self._hf.save_pretrained(str(Path(folder) / PRETRAINED_DIR))

    @classmethod
    def load(cls, name: str | Path, add_bos: bool, vocab_size: int) -> "PretrainedTokenizer":
        """From a hub name (the local HF cache when offline) or a local folder."""
        import transformers

        transformers.logging.set_verbosity_error()
        folder = Path(os.path.expanduser(str(name)))
        # T5's own files: a folder holding spiece.model alone (no tokenizer_config.json)
        bare_sentencepiece = (folder / "spiece.model").is_file() and not (folder / "tokenizer_config.json").exists()
        cls_ = transformers.T5Tokenizer if bare_sentencepiece else transformers.AutoTokenizer
        try:
            hf = cls_.from_pretrained(str(folder) if folder.exists() else str(name))
        except Exception as err:  # OSError for a missing name, ValueError for a bad folder, ...
            raise ConfigError(
                f"data.tokenizer_name={str(name)!r} cannot be loaded ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}); give a hub name available "
                "offline in the HF cache or a local folder holding the tokenizer (e.g. T5's "
                "spiece.model)"
            ) from err
        return cls(hf, add_bos, vocab_size, str(name))


class SyntheticIds(Tokenizer):
    """The synthetic source's ids (`none`): EOS is the last id, no text."""

    kind = TokenizerKind.none

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size
        self.eos_id = vocab_size - 1

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        raise ConfigError("a data=synthetic corpus has no text to encode")

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(str(int(i)) for i in ids if i != self.eos_id)


def new_tokenizer(data: DataConfig, train_documents: Iterable[str] = ()) -> Tokenizer:
    """The tokenizer a new token store of `data` is made with: trained on `train_documents`
    (bpe), loaded (pretrained), or nothing to make (byte, none). `train_documents` is read only
    by a tokenizer that trains."""
    check_tokenizer(data)
    kind = TokenizerKind(data.tokenizer)
    if kind is TokenizerKind.byte:
        return ByteTokenizer()
    if kind is TokenizerKind.pretrained:
        return PretrainedTokenizer.load(data.tokenizer_name, data.add_bos, vocab_size(data))
    if kind is TokenizerKind.none:
        return SyntheticIds(vocab_size(data))
    return BpeTokenizer.train(train_documents, vocab_size(data))


def load_tokenizer(kind: TokenizerKind, folder: Path, vocab_size: int, add_bos: bool = False) -> Tokenizer:
    """The tokenizer saved in a token store `folder` (what `Tokenizer.save` wrote there)."""
    kind = TokenizerKind(kind)
    if kind is TokenizerKind.byte:
        return ByteTokenizer()
    if kind is TokenizerKind.pretrained:
        return PretrainedTokenizer.load(Path(folder) / PRETRAINED_DIR, add_bos, vocab_size)
    if kind is TokenizerKind.none:
        raise ConfigError("a data=synthetic corpus has no tokenizer: its ids are its tokens")
    return BpeTokenizer.load(folder, vocab_size)
