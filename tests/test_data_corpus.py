"""sweep/data/corpus.py: documents of the embedded corpus and of the user's files."""

import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweep.config import DataConfig, DataSource, TokenizerKind
from sweep.data import corpus
from sweep.data.corpus import iter_documents, source_fingerprint
from sweep.errors import ConfigError


def files_config(*paths, text_field="text"):
    return DataConfig(source=DataSource.files, tokenizer=TokenizerKind.byte, vocab_size=512,
                      paths=[str(p) for p in paths], text_field=text_field, eval_tokens=2000,
                      cache_dir="unused")


EMBEDDED = DataConfig(source=DataSource.embedded, tokenizer=TokenizerKind.byte, vocab_size=512,
                      paths=[], text_field="text", eval_tokens=2000, cache_dir="unused")


@pytest.fixture(scope="module")
def embedded_docs():
    return list(iter_documents(EMBEDDED))


def test_embedded_corpus_is_megabytes_of_prose(embedded_docs):
    assert len(embedded_docs) > 1000
    assert sum(len(d.encode("utf-8")) for d in embedded_docs) > 1_000_000
    assert all(isinstance(d, str) and len(d) >= 40 for d in embedded_docs)
    assert any("assert" in d for d in embedded_docs[:100])  # pydoc topics come first


def test_embedded_corpus_is_rebuilt_identically(embedded_docs):
    # iter_documents memoizes the corpus per process; build it again from scratch.
    assert list(corpus._embedded_documents()) == embedded_docs


def test_txt_jsonl_parquet_files_in_sorted_order(tmp_path):
    (tmp_path / "b.txt").write_text("second file, one document", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"text": "first line"}) + "\n\n" + json.dumps({"text": "héllo wörld"}) + "\n"
        + json.dumps({"text": ""}) + "\n",  # blank lines and empty documents are skipped
        encoding="utf-8",
    )
    pq.write_table(pa.table({"text": ["row one", None, "row two"], "id": [1, 2, 3]}),
                   tmp_path / "c.parquet")
    (tmp_path / "notes.md").write_text("a folder's other files are not corpus files")

    assert list(iter_documents(files_config(tmp_path))) == [
        "first line", "héllo wörld", "second file, one document", "row one", "row two"]


def test_globs_are_sorted_and_files_named_twice_are_read_once(tmp_path):
    for name in ["s2.txt", "s1.txt", "s10.txt"]:
        (tmp_path / name).write_text(f"shard {name}")
    docs = list(iter_documents(files_config(tmp_path / "s*.txt", tmp_path / "s1.txt")))
    assert docs == ["shard s1.txt", "shard s10.txt", "shard s2.txt"]


def test_custom_text_field(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"content": "hello there"}) + "\n")
    assert list(iter_documents(files_config(tmp_path / "d.jsonl", text_field="content"))) == [
        "hello there"]


def test_a_path_that_matches_nothing_is_named(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(ConfigError, match="nope.txt"):
        list(iter_documents(files_config(missing)))
    with pytest.raises(ConfigError, match=r"nothing-\*"):
        list(iter_documents(files_config(tmp_path / "nothing-*.jsonl")))


def test_an_unknown_extension_is_named_with_the_accepted_ones(tmp_path):
    (tmp_path / "corpus.csv").write_text("a,b\n")
    with pytest.raises(ConfigError, match=r"corpus\.csv.*\.txt, \.jsonl, \.jsonl\.gz, \.parquet"):
        list(iter_documents(files_config(tmp_path / "corpus.csv")))


def test_gzipped_json_lines_read_like_plain_ones_and_a_bad_gzip_is_named(tmp_path):
    import gzip

    lines = "".join(json.dumps({"text": f"document {i}"}) + "\n" for i in range(3))
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as f:
        f.write(lines)
    (tmp_path / "b.jsonl").write_text(lines)
    assert list(iter_documents(files_config(tmp_path / "a.jsonl.gz"))) == \
        list(iter_documents(files_config(tmp_path / "b.jsonl")))
    assert len(list(iter_documents(files_config(tmp_path)))) == 6  # a folder: both files
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(lines.encode())[:-12])
    with pytest.raises(ConfigError, match="c.jsonl.gz: not a readable gzip file"):
        list(iter_documents(files_config(tmp_path / "c.jsonl.gz")))


def test_a_missing_jsonl_field_names_the_field_file_and_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"body": "x"}) + "\n")
    with pytest.raises(ConfigError, match=r"d\.jsonl, line 2: no field data\.text_field='text'"):
        list(iter_documents(files_config(path)))


def test_a_bad_json_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "ok"}) + "\n{not json\n")
    with pytest.raises(ConfigError, match=r"d\.jsonl, line 2: not valid JSON"):
        list(iter_documents(files_config(path)))


def test_a_missing_parquet_column_is_named(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"body": ["x"]}), path)
    with pytest.raises(ConfigError, match=r"d\.parquet: no column data\.text_field='text'"):
        list(iter_documents(files_config(path)))


def test_fingerprint_follows_the_files_and_the_python_version(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    before = source_fingerprint(files_config(path))
    assert str(path.resolve()) in before
    path.write_text("one, longer")
    assert source_fingerprint(files_config(path)) != before
    assert sys.version in source_fingerprint(EMBEDDED)
