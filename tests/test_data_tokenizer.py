"""sweep/data/tokenizer.py: byte and BPE tokenizers, V from the config alone, one factory for every kind."""

import numpy as np
import pytest

from sweep.config import DataConfig, DataSource, TokenizerKind
from sweep.data.tokenizer import (
    ACCEPTED_KINDS,
    BpeTokenizer,
    ByteTokenizer,
    SyntheticIds,
    check_tokenizer,
    load_tokenizer,
    new_tokenizer,
    vocab_size,
)
from sweep.errors import ConfigError

TEXTS = ["plain ascii", "héllo wörld — ünïcode ✓ 日本語 🙂", "", "tabs\tand\nnewlines"]


def config(tokenizer, vocab=512, cache_dir="unused", source="embedded", hf_path=None, tokenizer_name=None):
    return DataConfig(source=DataSource(source), tokenizer=TokenizerKind(tokenizer),
                      vocab_size=vocab, paths=[], text_field="text", eval_tokens=2000,
                      cache_dir=cache_dir, density_documents=1000, hf_path=hf_path,
                      tokenizer_name=tokenizer_name, add_bos=False)


def small_corpus(n_docs=300, seed=0):
    """Documents of words drawn from a fixed list: plenty of merges for a small BPE."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzéö"))
    words = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(400)]
    zipf_W = 1.0 / np.arange(1, len(words) + 1)
    return [" ".join(rng.choice(words, size=60, p=zipf_W / zipf_W.sum())) + "."
            for _ in range(n_docs)]


def test_byte_tokenizer_is_utf8_with_eos_256():
    tok = ByteTokenizer()
    assert (tok.vocab_size, tok.eos_id) == (257, 256)
    ids = tok.encode_batch(TEXTS)
    assert ids[0] == list(b"plain ascii")
    assert [tok.decode(x) for x in ids] == TEXTS


def test_a_stream_is_each_document_then_eos():
    tok = ByteTokenizer()
    stream_T = tok.encode_stream(["ab", "", "é"])
    assert stream_T.tolist() == [97, 98, 256, 256, 0xC3, 0xA9, 256]
    assert tok.decode(stream_T.tolist()) == "abé"  # EOS ids are dropped


def test_vocab_size_comes_from_the_config_without_building(tmp_path):
    cache_dir = tmp_path / "cache"
    assert vocab_size(config("byte", vocab=4096, cache_dir=str(cache_dir))) == 257
    assert vocab_size(config("bpe", vocab=4096, cache_dir=str(cache_dir))) == 4096
    assert not cache_dir.exists()


def test_a_bpe_smaller_than_its_byte_alphabet_is_refused():
    with pytest.raises(ConfigError, match="data.vocab_size=200"):
        vocab_size(config("bpe", vocab=200))


def test_bpe_trains_to_the_requested_size_round_trips_and_reloads(tmp_path):
    tok = BpeTokenizer.train(small_corpus(), vocab_size=320)
    assert (tok.vocab_size, tok.trained_size, tok.eos_id) == (320, 320, 0)

    ids = tok.encode_batch(TEXTS)
    assert all(0 < i < 320 for doc in ids for i in doc)  # 0 is EOS, never produced by text
    assert [tok.decode(x) for x in ids] == TEXTS
    literal_ids = tok.encode_batch(["an <eos> in the text is text"])[0]
    assert 0 not in literal_ids
    unseen = small_corpus(n_docs=301)[-1]  # same words, a document it was not trained on
    assert len(tok.encode_batch([unseen])[0]) < 0.7 * len(unseen.encode("utf-8"))  # it merges

    tok.save(tmp_path)
    again = load_tokenizer(TokenizerKind.bpe, tmp_path, vocab_size=320)
    assert again.encode_batch(TEXTS + ["<eos>"]) == tok.encode_batch(TEXTS + ["<eos>"])
    stream_T = again.encode_stream(["ab", "cd"])
    assert stream_T[-1] == 0 and (stream_T == 0).sum() == 2


def test_a_t5_sentencepiece_folder_loads_with_bos_and_eos_around_each_document(tmp_path):
    from sweep.data.tokenizer import PretrainedTokenizer
    from sweep.errors import ConfigError
    from tests.c4_fixture import write_t5_tokenizer

    folder = write_t5_tokenizer(tmp_path / "t5", vocab=300)  # spiece.model alone, as T5's hub folder
    tok = PretrainedTokenizer.load(folder, add_bos=True, vocab_size=401)  # 300 + 100 extra ids + BOS
    assert (tok.eos_id, tok.bos_id) == (1, 400)
    stream_T = tok.encode_stream(["first document.", "second one."])
    ends = np.flatnonzero(stream_T == 1)
    assert len(ends) == 2 and stream_T[0] == 400 and stream_T[ends[0] + 1] == 400
    assert tok.decode(stream_T[: ends[0] + 1]) == "first document."
    with pytest.raises(ConfigError, match="data.vocab_size=400.*400 entries \\+ 1 BOS = 401: set data.vocab_size=401"):
        PretrainedTokenizer.load(folder, add_bos=True, vocab_size=400)
    assert PretrainedTokenizer.load(folder, add_bos=False, vocab_size=400).bos_id is None
    texts = ["Plain words.", "  leading spaces and ünïcode ✓", "<extra_id_0> and </s> as text", ""]
    assert tok.encode_batch(texts) == tok._hf(texts, add_special_tokens=False)["input_ids"]


class PublicOnlyTokenizer:
    """A transformers tokenizer as its public API shows it: a fast one's `backend_tokenizer`, no privates."""

    eos_token_id = 1

    def __init__(self, backend):
        self.backend_tokenizer = backend

    def __len__(self):
        return 300


def test_a_pretrained_tokenizer_encodes_through_its_public_backend_tokenizer(tmp_path):
    from sweep.data.tokenizer import PretrainedTokenizer
    from tests.c4_fixture import write_t5_tokenizer

    import transformers

    folder = write_t5_tokenizer(tmp_path / "t5", vocab=300)
    hf = transformers.T5Tokenizer.from_pretrained(str(folder))  # as PretrainedTokenizer.load reads a bare spiece.model
    texts = ["Plain words.", "  leading spaces and ünïcode ✓", ""]
    public = PretrainedTokenizer(PublicOnlyTokenizer(hf.backend_tokenizer), add_bos=False, vocab_size=300, name="t5")
    assert public.encode_batch(texts) == hf(texts, add_special_tokens=False)["input_ids"]


def test_one_factory_makes_the_tokenizer_of_each_kind(tmp_path):
    assert isinstance(new_tokenizer(config("byte")), ByteTokenizer)
    bpe = new_tokenizer(config("bpe", vocab=320), small_corpus())
    assert isinstance(bpe, BpeTokenizer) and bpe.trained_size == 320
    ids = new_tokenizer(config("none", vocab=64, source="synthetic"))
    assert isinstance(ids, SyntheticIds) and (ids.vocab_size, ids.eos_id) == (64, 63)
    bpe.save(tmp_path)  # what a token store holds, loaded back by the same module
    assert load_tokenizer(TokenizerKind.bpe, tmp_path, 320).encode_batch(TEXTS) == bpe.encode_batch(TEXTS)
    with pytest.raises(ConfigError, match="a data=synthetic corpus has no tokenizer"):
        load_tokenizer(TokenizerKind.none, tmp_path, 64)


@pytest.mark.parametrize("source, kind, message", [
    ("embedded", "none", "data.tokenizer=none only goes with data=synthetic"),
    ("files", "none", "data.tokenizer=none only goes with data=synthetic .*; with data=files accepted are byte, bpe, "
                      "pretrained"),
    ("synthetic", "byte", "data.tokenizer=byte does not go with data.source=synthetic: accepted are none"),
    ("hf", "bpe", "data.tokenizer=bpe does not go with data.source=hf: accepted are pretrained, byte"),
    ("hf", "none", "data.tokenizer=none does not go with data.source=hf: accepted are pretrained, byte"),
])
def test_each_source_names_the_tokenizers_it_accepts(source, kind, message):
    assert TokenizerKind(kind) not in ACCEPTED_KINDS[DataSource(source)]
    with pytest.raises(ConfigError, match=message):
        new_tokenizer(config(kind, source=source, hf_path="somewhere"))


def test_a_pretrained_tokenizer_needs_its_name_and_hf_data_its_path():
    with pytest.raises(ConfigError, match="data.tokenizer=pretrained needs data.tokenizer_name"):
        check_tokenizer(config("pretrained", source="hf", hf_path="somewhere"))
    with pytest.raises(ConfigError, match=r"data.tokenizer_name='/nonexistent/tok' is not a folder; accepted: a "
                                          r"local folder holding the tokenizer, or a hub name"):
        check_tokenizer(config("pretrained", tokenizer_name="/nonexistent/tok"))  # was: "the corpus is too small"
    check_tokenizer(config("pretrained", tokenizer_name="google-t5/t5-base"))  # a hub name: loaded later
    with pytest.raises(ConfigError, match="data=hf needs data.hf_path"):
        check_tokenizer(config("byte", source="hf"))
    with pytest.raises(ConfigError, match=r"data.vocab_size=512 with data.tokenizer=byte: the byte tokenizer has 257 "
                                          r"ids .*give data.vocab_size=257"):  # was: 512 ignored, silently
        check_tokenizer(config("byte", source="hf", hf_path="somewhere"))
