"""sweep/data/density.py: exact and near duplicates of a token stream, unique tokens, epochs."""

import json

import numpy as np
import pytest

from sweep.data import density
from sweep.data.density import (
    default_bands,
    density_report,
    epochs,
    lsh_threshold,
    minhash_signatures,
    split_documents,
)
from sweep.errors import ConfigError

EOS = 60_000  # content ids are 0..49_999
N = 5  # the default ngram


def random_docs(n_docs: int, low: int = 200, high: int = 400, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 50_000, rng.integers(low, high)) for _ in range(n_docs)]


def to_stream(docs: list[np.ndarray], dtype=np.uint32) -> np.ndarray:
    """doc0 EOS doc1 EOS ... as one flat array."""
    return np.concatenate([np.append(d, EOS) for d in docs]).astype(dtype)


def mutate(doc_L: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A copy of doc_L with `fraction` of its positions set to fresh random ids."""
    rng = np.random.default_rng(seed)
    out_L = doc_L.copy()
    where = rng.choice(len(doc_L), int(fraction * len(doc_L)), replace=False)
    out_L[where] = rng.integers(0, 50_000, len(where))
    return out_L


def jaccard(x_L: np.ndarray, y_L: np.ndarray, n: int = N) -> float:
    """Exact Jaccard similarity of the two documents' sets of n-grams."""
    grams_x = {tuple(x_L[i:i + n]) for i in range(len(x_L) - n + 1)}
    grams_y = {tuple(y_L[i:i + n]) for i in range(len(y_L) - n + 1)}
    return len(grams_x & grams_y) / len(grams_x | grams_y)


def test_random_unique_documents_have_no_duplicates_and_all_tokens_unique():
    docs = random_docs(300)
    report = density_report(to_stream(docs), EOS)
    lengths = [len(d) for d in docs]
    assert report["documents_examined"] == 300 and report["sampled"] is False
    assert report["tokens_examined"] == sum(lengths)
    assert report["mean_document_tokens"] == pytest.approx(np.mean(lengths))
    assert report["stream_tokens"] == sum(lengths) + 300
    assert report["exact_duplicate_documents"] == 0
    assert report["near_duplicate_documents"] == 0
    assert report["near_or_exact_duplicate_rate"] == 0.0
    assert report["unique_token_fraction"] == 1.0
    assert json.loads(json.dumps(report)) == report  # stored as JSON with the manifest


def test_exact_copies_are_counted_exactly_with_their_tokens():
    docs = random_docs(200)
    copies = [docs[3], docs[10], docs[3]]
    stream = to_stream(docs[:50] + [copies[0]] + docs[50:120] + copies[1:] + docs[120:])
    report = density_report(stream, EOS)
    total = sum(len(d) for d in docs + copies)
    assert report["documents_examined"] == 203
    assert report["exact_duplicate_documents"] == 3
    assert report["exact_duplicate_rate"] == pytest.approx(3 / 203)
    assert report["exact_duplicate_token_fraction"] == pytest.approx(
        (2 * len(docs[3]) + len(docs[10])) / total)
    assert report["near_duplicate_documents"] == 0  # exact copies are not counted twice
    assert report["near_or_exact_duplicate_documents"] == 3
    assert report["unique_token_fraction"] == pytest.approx(
        1 - report["exact_duplicate_token_fraction"])


def test_near_copies_are_found_and_dissimilar_variants_are_not():
    bases = random_docs(60, low=2000, high=2001, seed=1)
    close = [mutate(bases[i], 0.01, seed=i) for i in range(10)]  # about 5% of n-grams change
    # Below the threshold but often LSH candidates (lsh_threshold 0.71): checked and refused.
    middling = [mutate(bases[i], 0.045, seed=i) for i in range(10, 30)]
    far = [mutate(bases[i], 0.15, seed=i) for i in range(30, 40)]  # most n-grams change
    assert min(jaccard(b, c) for b, c in zip(bases, close)) > 0.85
    assert all(0.55 < jaccard(b, m) < 0.75 for b, m in zip(bases[10:], middling))
    assert max(jaccard(b, f) for b, f in zip(bases[30:], far)) < 0.5

    report = density_report(to_stream(bases + middling + far + close), EOS)
    assert report["exact_duplicate_documents"] == 0
    assert report["near_duplicate_documents"] == 10
    assert report["near_duplicate_rate"] == pytest.approx(10 / 100)
    assert report["near_duplicate_token_fraction"] == pytest.approx(10 / 100)  # equal lengths
    assert report["unique_token_fraction"] == pytest.approx(90 / 100)


def test_signature_agreement_estimates_the_jaccard_similarity():
    base = random_docs(1, low=3000, high=3001, seed=2)[0]
    variants = [mutate(base, f, seed=7) for f in (0.005, 0.02, 0.05, 0.1)]
    docs = [base] + variants
    lengths = np.cumsum([0] + [len(d) + 1 for d in docs])
    sig_MxP = minhash_signatures(to_stream(docs), lengths[:-1], lengths[1:] - 1, num_perm=256)
    for d, variant in enumerate(variants, start=1):
        agreement = (sig_MxP[0] == sig_MxP[d]).mean()
        assert agreement == pytest.approx(jaccard(base, variant), abs=0.1)


def test_the_first_occurrence_is_never_the_duplicate():
    original = random_docs(1, low=2000, high=2001, seed=3)[0]
    near = np.concatenate([mutate(original, 0.01, seed=0), np.arange(10)])  # 2010 tokens
    others = random_docs(20, seed=4)
    rest = sum(len(d) for d in others)
    for first, second in [(original, near), (near, original)]:
        report = density_report(to_stream([first] + others + [second]), EOS)
        assert report["near_duplicate_documents"] == 1
        total = len(first) + len(second) + rest
        assert report["near_duplicate_token_fraction"] == pytest.approx(len(second) / total)
    report = density_report(to_stream([original] + others + [original.copy()]), EOS)
    assert report["exact_duplicate_token_fraction"] == pytest.approx(
        len(original) / (2 * len(original) + rest))


def test_only_the_first_max_documents_are_examined_and_the_sample_is_reported():
    docs = random_docs(500)
    stream = to_stream(docs[:150] + [docs[0]] + docs[150:])  # a copy after the sample
    report = density_report(stream, EOS, max_documents=100)
    assert report["documents_examined"] == 100 and report["sampled"] is True
    assert report["tokens_examined"] == sum(len(d) for d in docs[:100])
    assert report["exact_duplicate_documents"] == 0
    assert report["params"]["max_documents"] == 100
    whole = density_report(stream, EOS, max_documents=501)
    assert whole["documents_examined"] == 501 and whole["sampled"] is False
    assert whole["exact_duplicate_documents"] == 1


def test_a_uint16_memmap_gives_the_report_of_the_same_ids_in_memory(tmp_path):
    docs = random_docs(100)
    docs += [docs[5], mutate(docs[6], 0.005, seed=0)]
    stream = to_stream(docs, dtype=np.uint16)
    path = tmp_path / "train.bin"
    stream.tofile(path)
    mapped = np.memmap(path, dtype=np.uint16, mode="r")
    report = density_report(mapped, EOS)
    assert report == density_report(stream.astype(np.int64), EOS)
    assert report["exact_duplicate_documents"] == 1 and report["documents_examined"] == 102


def test_reports_are_deterministic_and_seeded():
    docs = random_docs(100, seed=5)
    docs += [docs[1], mutate(docs[2], 0.005, seed=1)]
    stream = to_stream(docs)
    assert density_report(stream, EOS) == density_report(stream, EOS)
    starts, ends = split_documents(stream, EOS, 1000)
    sig_a, sig_b = (minhash_signatures(stream, starts, ends, seed=s) for s in (0, 1))
    assert np.array_equal(sig_a, minhash_signatures(stream, starts, ends, seed=0))
    assert not np.array_equal(sig_a, sig_b)
    other_seed = density_report(stream, EOS, seed=1)
    assert other_seed["params"]["seed"] == 1
    assert other_seed["exact_duplicate_documents"] == 1


def test_signatures_do_not_depend_on_how_the_stream_is_cut_into_blocks(monkeypatch):
    docs = random_docs(30, low=1, high=300, seed=6) + random_docs(2, low=1000, high=1500)
    stream = to_stream(docs)
    starts, ends = split_documents(stream, EOS, 1000)
    whole_DxP = minhash_signatures(stream, starts, ends)
    report = density_report(stream, EOS)
    monkeypatch.setattr(density, "_BLOCK_TOKENS", 64)  # long documents are read in pieces
    monkeypatch.setattr(density, "_SCAN_TOKENS", 100)  # EOS searched across chunk boundaries
    assert np.array_equal(split_documents(stream, EOS, 1000)[0], starts)
    assert np.array_equal(minhash_signatures(stream, starts, ends), whole_DxP)
    assert density_report(stream, EOS) == report


def test_split_documents_skips_empty_documents_and_keeps_an_unterminated_last_one():
    stream = np.array([EOS, 1, 2, EOS, EOS, 3, EOS, 4, 5, 6], dtype=np.uint16)
    starts, ends = split_documents(stream, EOS, 10)
    assert [stream[s:e].tolist() for s, e in zip(starts, ends)] == [[1, 2], [3], [4, 5, 6]]
    starts, ends = split_documents(stream, EOS, 2)
    assert [stream[s:e].tolist() for s, e in zip(starts, ends)] == [[1, 2], [3]]


def test_short_documents_are_one_n_gram_of_their_whole_content():
    docs = [np.array([1, 2]), np.array([1, 2, 3]), np.array([1, 2]), np.array([2, 1])]
    report = density_report(to_stream(docs + random_docs(5)), EOS)
    assert report["short_documents"] == 4
    assert report["exact_duplicate_documents"] == 1  # only the second [1, 2]
    assert report["near_duplicate_documents"] == 0  # [1, 2, 3] is not [1, 2]
    # Its n-gram is its content alone, whatever follows it in the stream.
    tails = random_docs(2, seed=8)
    sig_a, sig_b = (minhash_signatures(to_stream([docs[0], tail]), [0, 3], [2, 3 + len(tail)])
                    for tail in tails)
    assert np.array_equal(sig_a[0], sig_b[0]) and not np.array_equal(sig_a[1], sig_b[1])


def test_distinct_token_ids_leave_out_eos(monkeypatch):
    stream = np.array([7, 1, 1, EOS, 3, 7, 2, EOS], dtype=np.uint16)
    assert density_report(stream, EOS)["distinct_token_ids"] == 4
    monkeypatch.setattr(density, "_BLOCK_TOKENS", 2)  # ids counted block by block
    stream = np.array([0, 1, EOS, 2, EOS, 3, 4, 5, EOS, 1], dtype=np.uint16)
    assert density_report(stream, EOS)["distinct_token_ids"] == 6


def test_a_document_is_compared_with_more_than_the_nearest_earlier_one_of_its_buckets():
    # doc 1 shares bands 0..11 with doc 0 and nothing else; doc 2 agrees with doc 0 on those
    # bands and on 7 of 8 values of every other band (124 of 128), with doc 1 on 96 only.
    # In every bucket doc 2 shares with doc 0, doc 1 stands between them.
    sig_0 = np.arange(128, dtype=np.uint32)
    sig_1 = np.concatenate([sig_0[:96], sig_0[96:] + 1000])
    sig_2 = sig_0.copy()
    sig_2[96::8] += 2000
    near_M = density._near_duplicates(np.stack([sig_0, sig_1, sig_2]), np.ones(3, bool),
                                      bands=16, rows=8, threshold=0.8)
    assert near_M.tolist() == [False, False, True]


def test_default_bands_split_num_perm_just_below_the_threshold():
    assert default_bands(128, 0.8) == (16, 8)
    assert lsh_threshold(16, 8) == pytest.approx(0.7071, abs=1e-4)
    report = density_report(to_stream(random_docs(5)), EOS)
    assert (report["params"]["bands"], report["params"]["rows"]) == (16, 8)
    assert report["lsh_threshold"] == pytest.approx(lsh_threshold(16, 8))
    assert density_report(to_stream(random_docs(5)), EOS, rows=4)["params"]["bands"] == 32


def test_epochs_over_the_corpus_and_over_its_unique_tokens():
    assert epochs(3000, 1000, 0.5) == {"epochs": 3.0, "unique_epochs": 6.0,
                                       "unique_tokens": 500.0}
    assert epochs(0, 1000, 1.0)["unique_epochs"] == 0.0
    assert epochs(1000, 1000, 1.0) == {"epochs": 1.0, "unique_epochs": 1.0,
                                       "unique_tokens": 1000.0}


STREAM = to_stream(random_docs(3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(ngram=0), r"ngram=0: must be an integer >= 1"),
    (dict(num_perm=0), r"num_perm=0"),
    (dict(bands=16, rows=4), r"bands=16 x rows=4 = 64: must equal num_perm=128"),
    (dict(bands=7), r"bands=7 x rows=18 = 126"),
    (dict(threshold=0.0), r"threshold=0.0: must be a Jaccard similarity in \(0, 1\]"),
    (dict(threshold=1.5), r"threshold=1.5"),
    (dict(max_documents=0), r"max_documents=0"),
    (dict(seed=-1), r"seed=-1: must be an integer >= 0"),
])
def test_bad_parameters_are_refused_naming_the_value(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        density_report(STREAM, EOS, **kwargs)


@pytest.mark.parametrize("tokens, eos_id, message", [
    (np.zeros(0, np.uint16), EOS, r"tokens_T is empty"),
    (np.full(5, EOS, np.uint16), EOS, r"holds no document: every token is eos_id=60000"),
    (np.zeros((2, 3), np.uint16), EOS, r"1-D integer array"),
    (np.zeros(4, np.float32), EOS, r"dtype float32"),
    (np.zeros(4, np.uint16), 70_000, r"eos_id=70000: .* dtype uint16 \(0\.\.65535\)"),
])
def test_bad_streams_are_refused(tokens, eos_id, message):
    with pytest.raises(ConfigError, match=message):
        density_report(tokens, eos_id)


@pytest.mark.parametrize("args, message", [
    ((-1, 1000, 0.5), r"tokens_read=-1"),
    ((10, 0, 0.5), r"n_train_tokens=0"),
    ((10, 1000, 0.0), r"unique_token_fraction=0.0: must be a number in \(0, 1\]"),
    ((10, 1000, 1.2), r"unique_token_fraction=1.2"),
])
def test_bad_epochs_arguments_are_refused(args, message):
    with pytest.raises(ConfigError, match=message):
        epochs(*args)
