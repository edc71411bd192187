"""sweep/data/local.py (+ store.py): a local corpus tokenized once into the shared, memory-mapped token store."""

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sweep.config import DataConfig, DataSource, TokenizerKind
from sweep.data import prepare_token_cache
from sweep.data.local import cache_entry_path
from sweep.data.tokenizer import BpeTokenizer
from sweep.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SEQ_LEN = 32


def write_corpus(folder: Path, n_docs=120, seed=0) -> Path:
    """A .jsonl of short documents of words from a fixed list (about 30 kB)."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(2, 8)))
             for _ in range(300)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    with open(path, "w") as f:
        for i in range(n_docs):
            doc = f"doc {i}: " + " ".join(rng.choice(words, size=int(rng.integers(20, 60))))
            f.write(json.dumps({"text": doc}) + "\n")
    return path


def config(tmp_path, paths, tokenizer="byte", vocab=320, eval_tokens=2000, **kw):
    return DataConfig(source=kw.get("source", DataSource.files),
                      tokenizer=TokenizerKind(tokenizer), vocab_size=vocab,
                      paths=[str(p) for p in paths], text_field="text",
                      eval_tokens=eval_tokens, cache_dir=str(tmp_path / "cache"), density_documents=1000)


def documents_of(stream_T: np.ndarray, eos_id: int) -> list[bytes]:
    """Split a byte-tokenizer stream at its EOS ids."""
    ends = np.flatnonzero(stream_T == eos_id)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [stream_T[s:e].astype(np.uint8).tobytes() for s, e in zip(starts, ends)]


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "data")


def test_prepared_once_then_reused(tmp_path, corpus, caplog):
    data = config(tmp_path, [corpus])
    with caplog.at_level(logging.INFO, logger="sweep.data"):
        first = prepare_token_cache(data, SEQ_LEN)
        mtime = (first.path / "train.bin").stat().st_mtime_ns
        second = prepare_token_cache(data, SEQ_LEN)
    assert second.path == first.path == cache_entry_path(data)
    assert (second.path / "train.bin").stat().st_mtime_ns == mtime
    assert sum("tokenizing files corpus with byte tokenizer" in r.message
               for r in caplog.records) == 1
    assert sorted(p.name for p in first.path.iterdir()) == ["eval.bin", "manifest.json",
                                                            "train.bin"]


def test_streams_hold_every_document_once_with_a_fixed_disjoint_eval_split(tmp_path, corpus):
    cache = prepare_token_cache(config(tmp_path, [corpus]), SEQ_LEN)
    m = cache.manifest
    train_T, eval_T = cache.train_tokens(), cache.eval_tokens()
    assert (cache.vocab_size, cache.eos_id, train_T.dtype, m["dtype"]) == (
        257, 256, np.uint16, "uint16")
    assert (len(train_T), len(eval_T)) == (m["n_train_tokens"], m["n_eval_tokens"])
    assert not train_T.flags.writeable and not eval_T.flags.writeable

    texts = [json.loads(line)["text"].encode() for line in corpus.read_text().splitlines()]
    train_docs, eval_docs = documents_of(train_T, 256), documents_of(eval_T, 256)
    assert len(eval_T) >= 2000 and len(eval_docs) == m["n_eval_documents"]
    assert set(train_docs).isdisjoint(eval_docs)
    assert train_docs == [t for t in texts if t not in eval_docs]  # corpus order
    by_hash = sorted(texts, key=lambda t: hashlib.sha1(t).digest())
    assert eval_docs == by_hash[: len(eval_docs)]  # the first documents in hash order
    assert sum(len(d) + 1 for d in eval_docs[:-1]) < 2000  # ... and no more than needed

    # Fixed: built again in another cache folder, the split is the same.
    again = prepare_token_cache(config(tmp_path / "other", [corpus]), SEQ_LEN)
    assert np.array_equal(again.eval_tokens(), eval_T)


def test_the_key_follows_tokenizer_vocab_files_and_eval_size(tmp_path, corpus):
    base = cache_entry_path(config(tmp_path, [corpus]))
    assert base.name.startswith("files-byte-v257-")
    assert cache_entry_path(config(tmp_path, [corpus], vocab=999)) == base  # byte ignores it
    others = {
        cache_entry_path(config(tmp_path, [corpus], tokenizer="bpe", vocab=320)),
        cache_entry_path(config(tmp_path, [corpus], tokenizer="bpe", vocab=384)),
        cache_entry_path(config(tmp_path, [corpus], eval_tokens=3000)),
    }
    assert len(others) == 3 and base not in others
    with open(corpus, "a") as f:
        f.write(json.dumps({"text": "one more document"}) + "\n")
    assert cache_entry_path(config(tmp_path, [corpus])) != base


def test_a_bpe_vocabulary_larger_than_the_corpus_supports_says_what_it_costs_and_what_fits(tmp_path, corpus, caplog):
    """A 280 KB corpus at data.vocab_size 8192 learned 375 entries: N counted 8192 embedding rows, 98% never seen."""
    import logging

    with caplog.at_level(logging.WARNING):
        cache = prepare_token_cache(config(tmp_path, [corpus], tokenizer="bpe", vocab=60000), SEQ_LEN)
    learned = cache.manifest["bpe_trained_size"]
    assert learned < 60000
    (warning,) = [r.getMessage() for r in caplog.records if "the BPE learned" in r.getMessage()]
    assert f"the BPE learned {learned} of the 60000 entries" in warning and "counted in N" in warning
    assert warning.endswith(f"data.vocab_size={learned} fits this corpus")


def test_bpe_entry_keeps_its_tokenizer(tmp_path, corpus):
    cache = prepare_token_cache(config(tmp_path, [corpus], tokenizer="bpe", vocab=320), SEQ_LEN)
    assert cache.path.name.startswith("files-bpe-v320-")
    assert (cache.path / "tokenizer.json").is_file()
    assert (cache.vocab_size, cache.eos_id, cache.manifest["bpe_trained_size"]) == (320, 0, 320)
    tok = cache.tokenizer()
    train_T, eval_T = cache.train_tokens(), cache.eval_tokens()
    assert len(eval_T) >= 2000 and train_T.max() < 320
    assert (train_T == 0).sum() == cache.manifest["n_train_documents"]
    first_doc = json.loads(corpus.read_text().splitlines()[0])["text"]
    eval_text = tok.decode(eval_T.tolist())
    assert (first_doc in tok.decode(train_T.tolist())) != (first_doc in eval_text)


def test_the_bpe_is_trained_on_train_documents_only(tmp_path, corpus, monkeypatch):
    trained_on = []
    train = BpeTokenizer.train

    def spy(documents, vocab_size):
        trained_on.extend(documents)
        return train(trained_on, vocab_size)

    monkeypatch.setattr(BpeTokenizer, "train", staticmethod(spy))
    cache = prepare_token_cache(config(tmp_path, [corpus], tokenizer="bpe"), SEQ_LEN)
    tok, eval_T = cache.tokenizer(), cache.eval_tokens()
    ends = np.flatnonzero(eval_T == 0)
    eval_docs = [tok.decode(eval_T[s:e].tolist()) for s, e in zip(np.r_[0, ends[:-1] + 1], ends)]
    assert len(eval_docs) == cache.manifest["n_eval_documents"] > 0
    assert set(eval_docs).isdisjoint(trained_on)
    assert len(trained_on) + len(eval_docs) <= 120


def test_a_truncated_bin_is_reported_with_its_folder_not_rebuilt(tmp_path, corpus):
    data = config(tmp_path, [corpus])
    entry = prepare_token_cache(data, SEQ_LEN).path
    other = prepare_token_cache(config(tmp_path, [corpus], eval_tokens=3000), SEQ_LEN).path
    with open(entry / "train.bin", "r+b") as f:
        f.truncate(100)
    with pytest.raises(ConfigError, match=rf"{entry.name} is unusable: train\.bin holds 100 "
                                          r"bytes.*delete that folder"):
        prepare_token_cache(data, SEQ_LEN)
    assert (entry / "train.bin").stat().st_size == 100  # the user's files are left alone
    assert prepare_token_cache(config(tmp_path, [corpus], eval_tokens=3000), SEQ_LEN).path == other


def test_a_changed_byte_fails_the_checksum(tmp_path, corpus):
    data = config(tmp_path, [corpus])
    entry = prepare_token_cache(data, SEQ_LEN).path
    with open(entry / "eval.bin", "r+b") as f:
        f.write(b"\x07\x00")
    with pytest.raises(ConfigError, match=r"eval\.bin does not match the sha256"):
        prepare_token_cache(data, SEQ_LEN)


def test_a_garbage_manifest_is_reported_with_its_folder(tmp_path, corpus):
    data = config(tmp_path, [corpus])
    entry = prepare_token_cache(data, SEQ_LEN).path
    (entry / "manifest.json").write_text("{ this is not json")
    with pytest.raises(ConfigError, match=rf"{entry.name} is unusable: manifest\.json .*delete"):
        prepare_token_cache(data, SEQ_LEN)


def test_a_corpus_too_small_for_the_eval_split_says_how_many_tokens(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("only a few words")  # 16 bytes + EOS = 17 tokens
    with pytest.raises(ConfigError, match=r"holds only 17 tokens.*data\.eval_tokens=2000"):
        prepare_token_cache(config(tmp_path, [path]), SEQ_LEN)
    # nothing half-made is kept: not its .files-byte-...lock (was: one per failed attempt), nor the
    # data.cache_dir this build made (was: an empty token_cache/ beside the run folders)
    assert not (tmp_path / "cache").exists()
    (tmp_path / "cache").mkdir()  # one that was there before stays
    with pytest.raises(ConfigError, match=r"holds only 17 tokens"):
        prepare_token_cache(config(tmp_path, [path]), SEQ_LEN)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_train_split_shorter_than_a_sequence_says_how_many_tokens(tmp_path, corpus):
    data = config(tmp_path, [corpus])
    n_train = prepare_token_cache(data, SEQ_LEN).manifest["n_train_tokens"]
    with pytest.raises(ConfigError, match=rf"leaves {n_train} train tokens.*"
                                          rf"model\.seq_len \+ 1 = {n_train + 1}"):
        prepare_token_cache(data, seq_len=n_train)


def test_embedded_corpus_byte_cache(tmp_path):
    data = config(tmp_path, [], eval_tokens=4096, source=DataSource.embedded)
    cache = prepare_token_cache(data, SEQ_LEN)
    assert cache.path.name.startswith("embedded-byte-v257-")
    assert cache.manifest["n_train_tokens"] > 1_000_000
    assert cache.manifest["n_train_documents"] > 1000
    assert 4096 <= cache.manifest["n_eval_tokens"] < 4096 + 50_000


CHILD = """
import hashlib, json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
from sweep.config import DataConfig, DataSource, TokenizerKind
from sweep.data.local import prepare_token_cache
fields = json.loads(sys.argv[1])
data = DataConfig(**{**fields, "source": DataSource.files, "tokenizer": TokenizerKind.byte})
print("ready", flush=True)
cache = prepare_token_cache(data, 32)
digest = hashlib.sha256(cache.train_tokens().tobytes() + cache.eval_tokens().tobytes())
print(cache.path, digest.hexdigest(), flush=True)
"""


def test_two_processes_preparing_at_once_build_one_entry(tmp_path, corpus):
    import fcntl

    data = config(tmp_path, [corpus])
    entry = cache_entry_path(data)
    entry.parent.mkdir(parents=True)
    fields = {"vocab_size": 320, "paths": data.paths, "text_field": "text",
              "eval_tokens": data.eval_tokens, "cache_dir": data.cache_dir, "density_documents": 1000}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # Hold the entry's lock while both start, so that both find no entry and must wait on it.
    with open(entry.parent / f".{entry.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        children = [subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(fields)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, cwd=REPO) for _ in range(2)]
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        fcntl.flock(lock, fcntl.LOCK_UN)
    outputs = [child.communicate(timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children), outputs
    (path_a, tokens_a), (path_b, tokens_b) = (out.split() for out, _ in outputs)
    assert path_a == path_b == str(entry) and tokens_a == tokens_b
    assert sum(err.count("tokenizing files corpus") for _, err in outputs) == 1
    assert [p.name for p in entry.parent.iterdir() if not p.name.endswith(".lock")] == [entry.name]


def test_tokenizing_shows_documents_done_of_all(tmp_path, corpus, caplog, monkeypatch):
    monkeypatch.setattr("sweep.data.local._PROGRESS_DELAY_S", 0.0)  # this small one shows nothing otherwise
    with caplog.at_level(logging.INFO, logger="sweep.progress"):
        built = prepare_token_cache(config(tmp_path, [corpus]), SEQ_LEN)
    last = caplog.records[-1].message
    n_docs = built.manifest["n_train_documents"] + built.manifest["n_eval_documents"]
    assert last == f"tokenize files corpus: {n_docs:,}/{n_docs:,} documents (100%), " \
                   f"{built.manifest['n_train_tokens']:,} train tokens"
