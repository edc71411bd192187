"""sweep/data/streamed.py (+ hf_source.py, store.py): streamed corpora tokenized once into shards.

C4 is stood in for by a local folder in C4's own layout and format, read through the same
`datasets.load_dataset(..., streaming=True)` call as the hub's, with a SentencePiece tokenizer
the tests train (tests/c4_fixture.py)."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from sweep.config import DataConfig, DataSource, SyntheticConfig, TokenizerKind
from sweep.data import streamed as prep
from sweep.data.access import open_corpus
from sweep.data.streamed import open_prepared, prepare_streamed, prepared_path
from sweep.data.tokenizer import PretrainedTokenizer
from sweep.errors import ConfigError
from tests.c4_fixture import train_texts, write_c4, write_t5_tokenizer

T5_SIZE = 300 + 100  # pieces + T5's extra ids


@pytest.fixture(scope="module")
def c4_dir(tmp_path_factory):
    return write_c4(tmp_path_factory.mktemp("c4"), train_files=3, docs_per_file=40, validation_docs=60)


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    return write_t5_tokenizer(tmp_path_factory.mktemp("t5"))


def c4_config(c4_dir, t5_dir, cache_dir, **kw) -> DataConfig:
    fields = dict(source=DataSource.hf, tokenizer=TokenizerKind.pretrained, vocab_size=T5_SIZE + 1, paths=[],
                  text_field="text", eval_tokens=2000, cache_dir=str(cache_dir), tokenizer_name=str(t5_dir),
                  add_bos=True, hf_path=str(c4_dir), hf_name="en", split="train", eval_split="validation",
                  max_epochs=1.0, density_documents=1000,
                  synthetic=SyntheticConfig(0, 1, 8, 0.01, 1.0, 0.0, None, 100))
    fields.update(kw)
    return DataConfig(**fields)


def shard_tokens(corpus, i: int) -> np.ndarray:
    shard = corpus.manifest["shards"][i]
    return np.fromfile(corpus.path / shard["file"], dtype=corpus.manifest["dtype"])


def split_at(stream_T: np.ndarray, eos_id: int) -> list[np.ndarray]:
    ends = np.flatnonzero(stream_T == eos_id)
    return np.split(stream_T, ends[:-1] + 1)


def test_c4_units_are_tokenized_with_bos_and_eos_in_file_order(c4_dir, t5_dir, tmp_path):
    data = c4_config(c4_dir, t5_dir, tmp_path)
    corpus = prepare_streamed(data, train_tokens=10**9)  # more than there is: every unit
    m = corpus.manifest
    assert [s["unit"] for s in m["shards"]] == [0, 1, 2] and m["exhausted"]
    assert m["vocab_size"] == T5_SIZE + 1 and m["bos_id"] == T5_SIZE and m["eos_id"] == 1
    tokenizer = PretrainedTokenizer.load(t5_dir, add_bos=True, vocab_size=T5_SIZE + 1)
    expected = tokenizer.encode_stream(train_texts(c4_dir, 1))
    np.testing.assert_array_equal(shard_tokens(corpus, 1), expected)
    docs = split_at(shard_tokens(corpus, 1), eos_id=1)
    assert len(docs) == 40 and all(d[0] == T5_SIZE and d[-1] == 1 for d in docs)
    assert tokenizer.decode(docs[0]) == train_texts(c4_dir, 1)[0]
    assert corpus.n_train_tokens == sum(s["n_tokens"] for s in m["shards"]) == len(corpus.train_tokens())
    assert m["n_train_documents"] == 120 and m["eval"]["n_tokens"] >= 2000
    assert m["density"]["documents_examined"] == 120 and m["density"]["exact_duplicate_rate"] == 0


def test_prepare_stops_when_enough_and_extends_later_to_what_two_workers_make_at_once(c4_dir, t5_dir, tmp_path):
    small = prepare_streamed(c4_config(c4_dir, t5_dir, tmp_path / "a"), train_tokens=100)
    assert len(small.manifest["shards"]) == 1 and not small.manifest["exhausted"]
    grown = prepare_streamed(c4_config(c4_dir, t5_dir, tmp_path / "a"), train_tokens=10**9)
    at_once = prepare_streamed(c4_config(c4_dir, t5_dir, tmp_path / "b"), train_tokens=10**9, workers=2)
    for a, b in zip(grown.manifest["shards"], at_once.manifest["shards"], strict=True):
        assert (a["unit"], a["n_tokens"], a["sha256"]) == (b["unit"], b["n_tokens"], b["sha256"])


def test_an_interrupted_prepare_keeps_its_shards_and_resumes(c4_dir, t5_dir, tmp_path, monkeypatch):
    data = c4_config(c4_dir, t5_dir, tmp_path)
    real = prep._tokenize_unit

    def crash_on_unit_2(data, entry, unit, skip):
        if unit == 2:
            raise KeyboardInterrupt
        return real(data, entry, unit, skip)

    monkeypatch.setattr(prep, "_tokenize_unit", crash_on_unit_2)
    with pytest.raises(KeyboardInterrupt):
        prepare_streamed(data, train_tokens=10**9)
    entry = prepared_path(data)
    kept = json.loads((entry / "manifest.json").read_text())
    assert [s["unit"] for s in kept["shards"]] == [0, 1]
    assert not list(entry.glob("*.tmp-*"))
    monkeypatch.setattr(prep, "_tokenize_unit", real)
    resumed = prepare_streamed(data, train_tokens=10**9)
    assert resumed.manifest["shards"][:2] == kept["shards"] and len(resumed.manifest["shards"]) == 3


def test_without_an_eval_split_the_first_train_documents_are_held_out(c4_dir, t5_dir, tmp_path):
    corpus = prepare_streamed(c4_config(c4_dir, t5_dir, tmp_path, eval_split=None, eval_tokens=500),
                              train_tokens=10**9)
    held = corpus.manifest["eval"]["records_from_unit0"]
    assert 0 < held < 40
    tokenizer = corpus.tokenizer()
    np.testing.assert_array_equal(corpus.eval_tokens(), tokenizer.encode_stream(train_texts(c4_dir, 0)[:held]))
    np.testing.assert_array_equal(shard_tokens(corpus, 0), tokenizer.encode_stream(train_texts(c4_dir, 0)[held:]))


def test_runs_find_the_shards_as_one_stream_and_need_them_prepared(c4_dir, t5_dir, tmp_path):
    data = c4_config(c4_dir, t5_dir, tmp_path)
    with pytest.raises(ConfigError, match=f"data.hf_path={data.hf_path} is not prepared .*does not exist.*sweep prepare"):
        open_corpus(data, seq_len=16)
    prepared_path(data).mkdir(parents=True)  # a prepare that failed before its manifest (no network)
    with pytest.raises(ConfigError, match="holds no manifest.json: a `sweep prepare` did not finish there"):
        open_corpus(data, seq_len=16)
    prepared_path(data).rmdir()
    prepare_streamed(data, train_tokens=10**9)
    corpus = open_corpus(data, seq_len=16)
    tokens = corpus.train_tokens()
    joined = np.concatenate([shard_tokens(corpus, i) for i in range(3)])
    across = np.arange(len(joined) - 40, len(joined))
    np.testing.assert_array_equal(tokens[across], joined[across])
    boundary = corpus.manifest["shards"][0]["n_tokens"]
    window = np.arange(boundary - 5, boundary + 5)[None, :].repeat(2, axis=0)
    np.testing.assert_array_equal(tokens[window], joined[window])


def test_a_damaged_shard_is_reported_not_read(c4_dir, t5_dir, tmp_path):
    data = c4_config(c4_dir, t5_dir, tmp_path)
    corpus = prepare_streamed(data, train_tokens=100)
    shard = corpus.path / corpus.manifest["shards"][0]["file"]
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(ConfigError, match="train-00000.bin holds .* bytes.*delete that folder"):
        open_prepared(data, seq_len=16)


@pytest.mark.parametrize("damage", ["truncated", "altered", "deleted", "eval deleted"])
def test_sweep_prepare_makes_a_damaged_shard_again_from_its_unit_and_keeps_the_others(c4_dir, t5_dir, tmp_path, damage,
                                                                                    caplog):
    """Was: 'delete that folder and run sweep prepare again', every shard re-tokenized (hours for C4)."""
    data = c4_config(c4_dir, t5_dir, tmp_path)
    corpus = prepare_streamed(data, train_tokens=10**9)
    first, second = (corpus.path / s["file"] for s in corpus.manifest["shards"][:2])
    if damage == "eval deleted":
        first = corpus.path / "eval.bin"
    whole, kept = first.read_bytes(), second.stat().st_mtime_ns
    if damage == "truncated":
        first.write_bytes(whole[:-2])
    elif damage == "altered":
        first.write_bytes(bytes([whole[0] ^ 1]) + whole[1:])
    else:
        first.unlink()
    if damage != "altered":  # a run checks sizes only; an altered byte is caught by `sweep prepare`'s checksums
        with pytest.raises(ConfigError, match=f"{first.name}.*run `sweep prepare` with the sweep's overrides again"):
            open_prepared(data, seq_len=16)
    again = prepare_streamed(data, train_tokens=10**9)
    assert first.read_bytes() == whole and second.stat().st_mtime_ns == kept
    assert again.manifest["shards"] == corpus.manifest["shards"] and again.manifest["eval"] == corpus.manifest["eval"]
    assert f"made again from their units (damaged or missing): {first.name}" in caplog.text
    open_prepared(data, seq_len=16)


def test_a_shard_whose_unit_no_longer_gives_it_is_one_clear_error(c4_dir, t5_dir, tmp_path):
    data = c4_config(c4_dir, t5_dir, tmp_path)
    corpus = prepare_streamed(data, train_tokens=100)
    manifest = json.loads((corpus.path / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = "0" * 64  # as if the dataset had changed since
    (corpus.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="train-00000.bin is damaged, and its unit 0 no longer tokenizes to the "
                                          "shard its manifest records"):
        prepare_streamed(data, train_tokens=100)


@pytest.mark.parametrize("damage", ["a shard entry that is not an object", "no vocab_size"])
def test_a_manifest_with_an_incomplete_entry_names_its_folder_and_the_fix(c4_dir, t5_dir, tmp_path, damage):
    data = c4_config(c4_dir, t5_dir, tmp_path)
    corpus = prepare_streamed(data, train_tokens=100)
    manifest_file = corpus.path / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    if damage == "no vocab_size":
        del manifest["vocab_size"]
    else:
        manifest["shards"] = ["train-00000.bin"]
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=rf"{corpus.path.name} is unusable: manifest\.json .*delete that folder"):
        open_prepared(data, seq_len=16)


def test_sweep_prepare_over_a_truncated_manifest_says_to_delete_the_folder_not_to_run_itself_again(c4_dir, t5_dir,
                                                                                                      tmp_path):
    data = c4_config(c4_dir, t5_dir, tmp_path)
    corpus = prepare_streamed(data, train_tokens=100)
    manifest_file = corpus.path / "manifest.json"
    manifest_file.write_text(manifest_file.read_text()[:40])
    with pytest.raises(ConfigError, match=r"manifest\.json is missing, not valid JSON or not a JSON object, so its "
                                          r"shards cannot be checked or made again: delete that folder and run this "
                                          r"command again") as err:
        prepare_streamed(data, train_tokens=100)
    assert "run `sweep prepare`" not in str(err.value)  # was its advice, from `sweep prepare` itself


def test_a_copy_of_the_data_files_alone_reads_config_en_from_its_en_folder(c4_dir, t5_dir, tmp_path):
    """README "Preparing C4": a local copy holding en/c4-*.json.gz without the hub's README.md
    (whose `configs:` block names `en`) gives the stream the full copy gives (was: "BuilderConfig
    'en' not found. Available: ['default']")."""
    files_only = tmp_path / "files-only"
    shutil.copytree(c4_dir / "en", files_only / "en")
    with_card = prepare_streamed(c4_config(c4_dir, t5_dir, tmp_path / "with-card"), train_tokens=10**9)
    without = prepare_streamed(c4_config(files_only, t5_dir, tmp_path / "without-card"), train_tokens=10**9)
    assert [s["sha256"] for s in without.manifest["shards"]] == [s["sha256"] for s in with_card.manifest["shards"]]
    assert without.manifest["eval"]["sha256"] == with_card.manifest["eval"]["sha256"]


def test_a_wrong_vocab_size_names_the_right_one(c4_dir, t5_dir, tmp_path):
    with pytest.raises(ConfigError, match=rf"data.vocab_size=32101.*{T5_SIZE} entries \+ 1 BOS = {T5_SIZE + 1}"):
        prepare_streamed(c4_config(c4_dir, t5_dir, tmp_path, vocab_size=32101), train_tokens=100)


def test_unreadable_datasets_and_fields_are_named(c4_dir, t5_dir, tmp_path):
    with pytest.raises(ConfigError, match="data.hf_path=.*no-such-folder.*cannot be opened"):
        prepare_streamed(c4_config(tmp_path / "no-such-folder", t5_dir, tmp_path), train_tokens=100)
    with pytest.raises(ConfigError, match="data.text_field='body'.*'text'"):
        prepare_streamed(c4_config(c4_dir, t5_dir, tmp_path, text_field="body"), train_tokens=100)
    with pytest.raises(ConfigError, match="data.tokenizer_name=.*no-tokenizer' is not a folder"):
        prepare_streamed(c4_config(c4_dir, tmp_path / "no-tokenizer", tmp_path), train_tokens=100)


def test_the_synthetic_source_records_its_true_entropy_and_prepare_shows_its_progress(tmp_path, caplog):
    from sweep.data.synthetic import SyntheticSpec, entropy_rate

    synthetic = SyntheticConfig(seed=3, order=2, branching=4, eos_prob=0.05, zipf=1.0, repeat_fraction=0.0,
                                unique_documents=None, documents_per_shard=50)
    data = DataConfig(source=DataSource.synthetic, tokenizer=TokenizerKind.none, vocab_size=64, paths=[],
                      text_field="text", eval_tokens=500, cache_dir=str(tmp_path), tokenizer_name=None,
                      add_bos=False, hf_path=None, hf_name=None, split="train", eval_split=None, max_epochs=1.0,
                      density_documents=1000, synthetic=synthetic)
    with caplog.at_level(logging.INFO, logger="sweep.progress"):
        corpus = prepare_streamed(data, train_tokens=2000)
    lines = [r.message for r in caplog.records if r.name == "sweep.progress"]
    assert lines[0].startswith("prepare synthetic: ") and " train tokens (" in lines[0] and ", ETA " in lines[0]
    assert lines[-1].startswith("prepare synthetic: 2,000/2,000 train tokens (100%), unit ")
    assert len(lines) <= 21
    spec = SyntheticSpec(seed=3, order=2, branching=4, eos_prob=0.05, zipf=1.0, repeat_fraction=0.0,
                         unique_documents=None)
    assert corpus.manifest["true_entropy_nats"] == pytest.approx(entropy_rate(spec))
    assert corpus.n_train_tokens >= 2000 and corpus.manifest["eval"]["n_tokens"] >= 500
    assert corpus.manifest["n_units"] is None and corpus.eos_id == 63
    train = corpus.train_tokens()[np.arange(corpus.n_train_tokens)]
    assert train.max() < 64 and (train == 63).sum() == corpus.manifest["n_train_documents"]


def test_workers_past_twice_the_usable_cores_are_one_error(monkeypatch):
    """Was: --workers 64 on 2 cores not done in 120 s (1 worker: 13 s), a process and a tokenizer each."""
    from sweep.data import streamed

    monkeypatch.setattr(streamed, "usable_cores", lambda: 2)
    for workers in (0, 5, 100000, 2.5):
        with pytest.raises(ConfigError, match=rf"^--workers {workers}: accepted is a whole number from 1 to 4 "
                                              r"\(2 per core of the 2"):
            streamed.check_workers(workers)
    streamed.check_workers(4)
