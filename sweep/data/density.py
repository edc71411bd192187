"""Data density of a prepared token stream: how much of it repeats, exactly or nearly.

Redundancy is the measurable proxy for data density behind sub-scaling (Chen et al. 2025,
arXiv 2507.10613): a run that reads near-duplicates makes more epochs over its unique
tokens than its token count says, and the scaling-law fits take that number from here.

The stream is the token cache's layout: `doc0 EOS doc1 EOS ...` in one flat integer array (often
a read-only `np.memmap` of uint16/uint32, possibly several GB). Only a bounded sample is read:
the first `max_documents` non-empty documents, block by block (about 64K tokens at a time), so
the stream is never copied whole. Empty documents (two EOS in a row) are skipped; tokens after
the last EOS form a last document. Because the sample is a prefix, a corpus sorted by source
reports on its first sources.

A document counts as a duplicate when it repeats an EARLIER examined document, so the first
occurrence of anything is always unique:

- exact duplicate: token-for-token equal to an earlier document (blake2b-128 of its ids as uint64).
- near duplicate: not an exact duplicate, and an earlier document shares an LSH band key with it
  and their MinHash signatures agree in at least `threshold` of the `num_perm` positions (the
  estimated Jaccard similarity of their sets of token `ngram`-grams).

MinHash. Each n-gram is hashed to 64 bits (a polynomial over its ids mod 2^64, then the
splitmix64 finalizer) and its top 32 bits kept: x < 2^32. Permutation k is Dietzfelbinger's
multiply-add-shift h_k(x) = ((a_k * x + b_k) mod 2^64) >> 32 with a_k, b_k drawn from
`np.random.default_rng(seed)`: a 2-independent family from 32 to 32 bits whose mod 2^64 is
exactly numpy's wrapping uint64 arithmetic, so no overflow can go wrong. Signature entry k of a
document is min over its n-grams of h_k, computed for a whole block of documents at once with
`np.minimum.reduceat`. A document shorter than `ngram` tokens has one n-gram, its whole content
padded with an id no stream holds, so it can only match an identical document (an exact
duplicate).

LSH. The signature is cut into `bands` bands of `rows` values; documents whose band values are
equal in some band are candidates, and each document is compared with at most
`CANDIDATES_PER_BAND` of the nearest earlier documents of each of its buckets (exact
duplicates are left out of the buckets: their first occurrence stands for them). A pair of
Jaccard similarity s becomes a candidate with probability 1 - (1 - s^rows)^bands, which rises
steeply around `lsh_threshold` = (1 / bands)^(1 / rows). By default (bands, rows) is the split
of `num_perm` with the largest `lsh_threshold` not above `threshold` (128 -> 16 x 8, about 0.71,
for threshold 0.8): recall is favoured, and candidates are then checked against `threshold`.

The report (`density_report`), JSON-able, stored with the corpus manifest and attached to each
run's result:

    version                         format of this report (REPORT_VERSION)
    stream_tokens                   length of the whole stream, EOS included
    sampled                         True when the stream holds more documents than examined
    documents_examined              M, the number of documents read (at most max_documents)
    tokens_examined                 their tokens, EOS excluded
    mean_document_tokens            tokens_examined / documents_examined
    short_documents                 documents shorter than ngram (one whole-content n-gram)
    distinct_token_ids              how many different ids occur in the examined documents
    exact_duplicate_documents       documents equal to an earlier one
    exact_duplicate_rate            exact_duplicate_documents / documents_examined
    exact_duplicate_token_fraction  tokens of those documents / tokens_examined
    near_duplicate_documents        near duplicates that are NOT exact duplicates
    near_duplicate_rate             near_duplicate_documents / documents_examined (exact excluded)
    near_duplicate_token_fraction   tokens of those documents / tokens_examined (exact excluded)
    near_or_exact_duplicate_documents  exact + near duplicates
    near_or_exact_duplicate_rate    near_or_exact_duplicate_documents / documents_examined
    near_or_exact_duplicate_token_fraction  tokens of those documents / tokens_examined
    unique_token_fraction           1 - near_or_exact_duplicate_token_fraction: the share of
                                    tokens in documents that repeat no earlier one, an estimate
                                    of the corpus's unique tokens / all its tokens
    lsh_threshold                   (1 / bands)^(1 / rows)
    params                          ngram, num_perm, bands, rows, threshold, seed,
                                    max_documents, candidates_per_band: same params, same
                                    stream -> the same report

`epochs(tokens_read, n_train_tokens, unique_token_fraction)` turns a run's tokens read into its
passes over the corpus and over the corpus's estimated unique tokens.

Letters (README "The science: Letters"; T tokens and V the vocabulary as everywhere): M documents,
P = num_perm, G n-grams, J documents in the LSH buckets, Y candidate pairs, Z rows of a band,
S short documents, W positions of an n-gram, U distinct ids.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from sweep.errors import ConfigError

REPORT_VERSION = 1
CANDIDATES_PER_BAND = 8  # nearest earlier documents of a bucket compared with each document

_BLOCK_TOKENS = 1 << 16  # tokens hashed at a time: the (a x + b) temporary stays in cache
_SCAN_TOKENS = 1 << 22  # tokens searched for EOS at a time
_PAIR_CHUNK = 1 << 15  # candidate pairs compared at a time
_PAD = np.uint64(1 << 32)  # stands for "past the end" in a short document's one n-gram
_NGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd: the polynomial's base
_BAND_MULT = np.uint64(0xC2B2AE3D27D4EB4F)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64
_S27, _S30, _S31, _S32 = (np.uint64(s) for s in (27, 30, 31, 32))


def density_report(tokens_T: np.ndarray, eos_id: int, *, max_documents: int | None = None,
                   ngram: int = 5, num_perm: int = 128, bands: int | None = None,
                   rows: int | None = None, threshold: float = 0.8, seed: int = 0) -> dict:
    """The density report (see the module docstring) of the first `max_documents` documents
    (None: every document; runs pass `data.density_documents`)."""
    _check_stream(tokens_T, eos_id)
    if max_documents is None:
        max_documents = len(tokens_T)  # a document holds at least one token
    for name, value in (("max_documents", max_documents), ("ngram", ngram),
                        ("num_perm", num_perm)):
        _check_positive_int(name, value)
    _check_int("seed", seed, low=0)
    _check_threshold(threshold)
    bands, rows = _bands_and_rows(num_perm, bands, rows, threshold)

    starts_M, ends_M = split_documents(tokens_T, eos_id, max_documents + 1)
    sampled = len(starts_M) > max_documents
    starts_M, ends_M = starts_M[:max_documents], ends_M[:max_documents]
    if len(starts_M) == 0:
        raise ConfigError(f"the token stream ({len(tokens_T)} tokens) holds no document: "
                          f"every token is eos_id={eos_id}")
    lengths_M = ends_M - starts_M
    digests, sig_MxP, ids_U = _fingerprints(tokens_T, starts_M, ends_M, ngram, num_perm, seed)
    distinct = int(np.count_nonzero(ids_U != np.array(eos_id).astype(np.uint64)))

    exact_M = _exact_duplicates(digests)
    near_M = _near_duplicates(sig_MxP, ~exact_M, bands, rows, threshold) & ~exact_M
    either_M = exact_M | near_M
    n_docs, n_tokens = len(lengths_M), int(lengths_M.sum())

    def token_fraction(mask_M: np.ndarray) -> float:
        return int(lengths_M[mask_M].sum()) / n_tokens

    return {
        "version": REPORT_VERSION,
        "stream_tokens": int(len(tokens_T)),
        "sampled": bool(sampled),
        "documents_examined": n_docs,
        "tokens_examined": n_tokens,
        "mean_document_tokens": n_tokens / n_docs,
        "short_documents": int((lengths_M < ngram).sum()),
        "distinct_token_ids": distinct,
        "exact_duplicate_documents": int(exact_M.sum()),
        "exact_duplicate_rate": int(exact_M.sum()) / n_docs,
        "exact_duplicate_token_fraction": token_fraction(exact_M),
        "near_duplicate_documents": int(near_M.sum()),
        "near_duplicate_rate": int(near_M.sum()) / n_docs,
        "near_duplicate_token_fraction": token_fraction(near_M),
        "near_or_exact_duplicate_documents": int(either_M.sum()),
        "near_or_exact_duplicate_rate": int(either_M.sum()) / n_docs,
        "near_or_exact_duplicate_token_fraction": token_fraction(either_M),
        "unique_token_fraction": token_fraction(~either_M),
        "lsh_threshold": lsh_threshold(bands, rows),
        "params": {"ngram": ngram, "num_perm": num_perm, "bands": bands, "rows": rows,
                   "threshold": threshold, "seed": seed, "max_documents": max_documents,
                   "candidates_per_band": CANDIDATES_PER_BAND},
    }


def epochs(tokens_read: int, n_train_tokens: int, unique_token_fraction: float) -> dict:
    """Passes a run reading `tokens_read` tokens makes over a train stream of `n_train_tokens`.

    Returns {"epochs": over all its tokens, "unique_epochs": over its estimated unique tokens
    (n_train_tokens * unique_token_fraction, also returned as "unique_tokens")}.
    """
    _check_int("tokens_read", tokens_read, low=0)
    _check_positive_int("n_train_tokens", n_train_tokens)
    if not isinstance(unique_token_fraction, (int, float)) or not 0 < unique_token_fraction <= 1:
        raise ConfigError(f"unique_token_fraction={unique_token_fraction!r}: must be a number "
                          "in (0, 1], as a density report's unique_token_fraction is")
    unique_tokens = n_train_tokens * unique_token_fraction
    return {"epochs": tokens_read / n_train_tokens,
            "unique_epochs": tokens_read / unique_tokens,
            "unique_tokens": unique_tokens}


def split_documents(tokens_T: np.ndarray, eos_id: int,
                    max_documents: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts_M, ends_M), int64: the first `max_documents` non-empty documents of the stream.

    Document d is tokens_T[starts_M[d]:ends_M[d]], EOS excluded. The stream is searched
    `_SCAN_TOKENS` at a time and only as far as needed.
    """
    _check_stream(tokens_T, eos_id)
    _check_positive_int("max_documents", max_documents)
    starts, ends, found, doc_start = [], [], 0, 0
    n = len(tokens_T)
    for lo in range(0, n, _SCAN_TOKENS):
        eos_J = np.flatnonzero(np.asarray(tokens_T[lo:lo + _SCAN_TOKENS]) == eos_id) + lo
        if len(eos_J) == 0:
            continue
        starts_J = np.concatenate(([doc_start], eos_J[:-1] + 1))
        keep_J = eos_J > starts_J  # not empty
        starts.append(starts_J[keep_J])
        ends.append(eos_J[keep_J])
        found += int(keep_J.sum())
        doc_start = int(eos_J[-1]) + 1
        if found >= max_documents:
            break
    else:
        if doc_start < n:  # no EOS after the last document
            starts.append(np.array([doc_start]))
            ends.append(np.array([n]))
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts_M = np.concatenate(starts).astype(np.int64)[:max_documents]
    ends_M = np.concatenate(ends).astype(np.int64)[:max_documents]
    return starts_M, ends_M


def minhash_signatures(tokens_T: np.ndarray, starts_M: np.ndarray, ends_M: np.ndarray, *,
                       ngram: int = 5, num_perm: int = 128, seed: int = 0) -> np.ndarray:
    """MinHash signatures (M, num_perm), uint32, of the documents tokens_T[starts:ends]."""
    _check_positive_int("ngram", ngram)
    _check_positive_int("num_perm", num_perm)
    _check_int("seed", seed, low=0)
    return _fingerprints(tokens_T, np.asarray(starts_M, np.int64), np.asarray(ends_M, np.int64),
                         ngram, num_perm, seed)[1]


def lsh_threshold(bands: int, rows: int) -> float:
    """The similarity at which a pair becomes an LSH candidate with probability about 1/2."""
    return (1 / bands) ** (1 / rows)


def default_bands(num_perm: int, threshold: float) -> tuple[int, int]:
    """(bands, rows), bands * rows = num_perm, with the largest lsh_threshold <= threshold."""
    splits = [(b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0]
    below = [s for s in splits if lsh_threshold(*s) <= threshold]
    return max(below, key=lambda s: lsh_threshold(*s)) if below else (num_perm, 1)


def _fingerprints(tokens_T, starts_M, ends_M, ngram, num_perm, seed):
    """(blake2b digest of each document, MinHash signatures (M, P) uint32, ids seen (EOS too)).

    Documents are read in blocks of about _BLOCK_TOKENS; a longer one is read in pieces.
    """
    rng = np.random.default_rng(seed)
    a_P = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    b_P = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    n_docs = len(starts_M)
    lengths_M = ends_M - starts_M
    cum_end_M = np.cumsum(lengths_M)
    digests: list[bytes] = []
    sig_MxP = np.empty((n_docs, num_perm), np.uint32)
    seen = _IdSet()
    lo = 0
    while lo < n_docs:
        budget = cum_end_M[lo] - lengths_M[lo] + _BLOCK_TOKENS
        hi = max(int(np.searchsorted(cum_end_M, budget, side="right")), lo + 1)
        if lengths_M[lo] > max(_BLOCK_TOKENS, ngram):
            digest, sig_MxP[lo] = _long_document(tokens_T, starts_M[lo], ends_M[lo], ngram,
                                                 a_P, b_P, seen)
            digests.append(digest)
        else:
            base = starts_M[lo]
            t_T = np.asarray(tokens_T[base:ends_M[hi - 1]]).astype(np.uint64)
            seen.add(t_T)
            rel_starts, rel_ends = starts_M[lo:hi] - base, ends_M[lo:hi] - base
            digests.extend(hashlib.blake2b(t_T[s:e], digest_size=16).digest()
                           for s, e in zip(rel_starts.tolist(), rel_ends.tolist()))
            x_G, offsets = _block_ngrams(t_T, rel_starts, rel_ends, ngram)
            sig_MxP[lo:hi] = _minhash(x_G, offsets, a_P, b_P)
        lo = hi
    return digests, sig_MxP, seen.ids()


def _long_document(tokens_T, start, end, ngram, a_P, b_P, seen):
    """(digest, signature (P,)) of one document longer than a block, read in pieces."""
    hasher = hashlib.blake2b(digest_size=16)
    sig_P = np.full(len(a_P), np.iinfo(np.uint32).max, np.uint32)
    for lo in range(int(start), int(end), _BLOCK_TOKENS):
        hi = min(lo + _BLOCK_TOKENS, int(end))
        t_T = np.asarray(tokens_T[lo:min(hi + ngram - 1, int(end))]).astype(np.uint64)
        hasher.update(t_T[:hi - lo])
        seen.add(t_T[:hi - lo])
        if len(t_T) >= ngram:  # n-grams starting in [lo, hi)
            x_G = _ngram_hashes(t_T, ngram)
            sig_P = np.minimum(sig_P, _minhash(x_G, np.array([0]), a_P, b_P)[0])
    return hasher.digest(), sig_P


class _IdSet:
    """The token ids seen so far: a bitmap over 0..max id (ids must be below 2^32)."""

    _BITMAP_MAX = 1 << 26  # above (never for real vocabularies), a sorted array instead

    def __init__(self):
        self.seen_V = np.zeros(0, bool)
        self.large_U = np.zeros(0, np.uint64)

    def add(self, t_T: np.ndarray) -> None:
        top = int(t_T.max())
        if top >= 1 << 32:
            raise ConfigError(f"token id {top} (or a negative id) in the stream: ids must lie "
                              "in 0..2^32 - 1")
        if top >= self._BITMAP_MAX:
            large = t_T >= self._BITMAP_MAX
            self.large_U = np.union1d(self.large_U, t_T[large])
            t_T = t_T[~large]
            top = int(t_T.max()) if len(t_T) else -1
        if top >= len(self.seen_V):
            self.seen_V = np.concatenate([self.seen_V, np.zeros(top + 1 - len(self.seen_V), bool)])
        self.seen_V[t_T] = True

    def ids(self) -> np.ndarray:
        return np.concatenate([np.flatnonzero(self.seen_V).astype(np.uint64), self.large_U])


def _block_ngrams(t_T, rel_starts_M, rel_ends_M, ngram):
    """(x_G, offsets_M): 32-bit hashes of each document's n-grams, document d's from offsets[d].

    A document shorter than ngram gets one n-gram: its ids, padded with _PAD.
    """
    lengths_M = rel_ends_M - rel_starts_M
    counts_M = np.maximum(lengths_M - ngram + 1, 1)
    offsets_M = np.concatenate(([0], np.cumsum(counts_M)[:-1]))
    x_G = np.empty(int(counts_M.sum()), np.uint64)
    full_M = lengths_M >= ngram
    if len(t_T) >= ngram and full_M.any():
        h_G = _ngram_hashes(t_T, ngram)  # every position of the block, across documents too
        n_full, rank_G = counts_M[full_M], _ranks(counts_M[full_M])
        x_G[np.repeat(offsets_M[full_M], n_full) + rank_G] = h_G[
            np.repeat(rel_starts_M[full_M], n_full) + rank_G]
    if not full_M.all():
        short_starts, short_lengths = rel_starts_M[~full_M], lengths_M[~full_M]
        pos_SxW = short_starts[:, None] + np.arange(ngram)
        inside_SxW = np.arange(ngram) < short_lengths[:, None]
        padded_SxW = np.where(inside_SxW, t_T[np.minimum(pos_SxW, len(t_T) - 1)], _PAD)
        x_G[offsets_M[~full_M]] = _ngram_hashes(padded_SxW.ravel(), ngram)[::ngram]
    return x_G, offsets_M


def _ranks(counts_M):
    """0..counts[0]-1, 0..counts[1]-1, ... concatenated."""
    total = int(counts_M.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts_M) - counts_M, counts_M)


def _ngram_hashes(t_T, ngram):
    """The 32-bit hash (as uint64) of the n-gram starting at each position 0..T-ngram."""
    n_grams = len(t_T) - ngram + 1
    h_G = t_T[:n_grams].copy()
    for k in range(1, ngram):
        h_G *= _NGRAM_MULT
        h_G += t_T[k:k + n_grams]
    return _mix64(h_G) >> _S32


def _mix64(z):
    """splitmix64's finalizer, in place: every input bit moves about half the output bits."""
    z ^= z >> _S30
    z *= _MIX1
    z ^= z >> _S27
    z *= _MIX2
    z ^= z >> _S31
    return z


def _minhash(x_G, offsets_M, a_P, b_P):
    """Signatures (M, P), uint32: min over each document's n-grams of ((a x + b) mod 2^64) >> 32.

    One permutation at a time over the whole block: the (G,) temporary stays in cache.
    """
    min_PxM = np.empty((len(a_P), len(offsets_M)), np.uint64)
    tmp_G = np.empty_like(x_G)
    for k in range(len(a_P)):
        np.multiply(x_G, a_P[k], out=tmp_G)  # wraps: mod 2^64, the family's definition
        tmp_G += b_P[k]
        np.minimum.reduceat(tmp_G, offsets_M, out=min_PxM[k])
    return (min_PxM >> _S32).astype(np.uint32).T


def _exact_duplicates(digests):
    """exact_M: True where a document's digest was seen at an earlier document."""
    seen: set[bytes] = set()
    exact_M = np.zeros(len(digests), bool)
    for d, digest in enumerate(digests):
        exact_M[d] = digest in seen
        seen.add(digest)
    return exact_M


def _near_duplicates(sig_MxP, indexed_M, bands, rows, threshold):
    """near_M: True where an earlier indexed document shares a band and agrees >= threshold.

    Per band, the indexed documents are sorted by (band key, index); a document is compared
    with the documents 1, 2, ..., CANDIDATES_PER_BAND places before it in the same bucket,
    nearest first, until one matches.
    """
    docs_J = np.flatnonzero(indexed_M)
    sig_JxP = sig_MxP[docs_J]
    n_idx = len(docs_J)
    need = math.ceil(threshold * sig_MxP.shape[1] - 1e-9)  # agreeing positions
    orders, sorted_keys = [], []
    for band in range(bands):
        keys_J = _band_keys(sig_JxP[:, band * rows:(band + 1) * rows])
        order_J = np.argsort(keys_J, kind="stable")  # ties keep index order: earlier first
        orders.append(order_J)
        sorted_keys.append(keys_J[order_J])
    found_J = np.zeros(n_idx, bool)
    for gap in range(1, CANDIDATES_PER_BAND + 1):
        codes, any_bucket = [], False
        for order_J, keys_J in zip(orders, sorted_keys):
            same = keys_J[gap:] == keys_J[:-gap]
            any_bucket |= bool(same.any())
            earlier, later = order_J[:-gap][same], order_J[gap:][same]
            keep = ~found_J[later]
            codes.append(earlier[keep].astype(np.int64) * n_idx + later[keep])
        if not any_bucket:
            break  # no bucket holds gap + 1 documents
        earlier_Y, later_Y = np.divmod(np.unique(np.concatenate(codes)), n_idx)
        for lo in range(0, len(earlier_Y), _PAIR_CHUNK):
            e, l = earlier_Y[lo:lo + _PAIR_CHUNK], later_Y[lo:lo + _PAIR_CHUNK]
            agree_Y = (sig_JxP[e] == sig_JxP[l]).sum(axis=1)
            found_J[l[agree_Y >= need]] = True
    near_M = np.zeros(len(indexed_M), bool)
    near_M[docs_J[found_J]] = True
    return near_M


def _band_keys(sig_JxZ):
    """One 64-bit key per document for its values in one band (a collision only costs a check)."""
    key_J = np.zeros(len(sig_JxZ), np.uint64)
    for column_J in sig_JxZ.T:
        key_J *= _BAND_MULT
        key_J += column_J
    return _mix64(key_J)


def _bands_and_rows(num_perm, bands, rows, threshold):
    if bands is None and rows is None:
        return default_bands(num_perm, threshold)
    if bands is not None:
        _check_positive_int("bands", bands)
    if rows is not None:
        _check_positive_int("rows", rows)
    bands = bands if bands is not None else num_perm // rows
    rows = rows if rows is not None else num_perm // bands
    if bands * rows != num_perm:
        raise ConfigError(f"bands={bands} x rows={rows} = {bands * rows}: must equal "
                          f"num_perm={num_perm} (give a split of num_perm, or neither)")
    return bands, rows


def _check_stream(tokens_T, eos_id):
    dtype = getattr(tokens_T, "dtype", None)
    if (dtype is None or getattr(tokens_T, "ndim", None) != 1
            or not np.issubdtype(dtype, np.integer)):
        raise ConfigError(f"tokens_T: a {type(tokens_T).__name__} of dtype {dtype}; a 1-D "
                          "integer array (or np.memmap) of token ids is needed")
    if len(tokens_T) == 0:
        raise ConfigError("tokens_T is empty: the token stream holds no document")
    info = np.iinfo(dtype)
    if isinstance(eos_id, bool) or not isinstance(eos_id, (int, np.integer)) or not (
            info.min <= eos_id <= info.max):
        raise ConfigError(f"eos_id={eos_id!r}: must be an integer id that fits the stream's "
                          f"dtype {dtype} ({info.min}..{info.max})")


def _check_int(name, value, *, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r}: must be an integer >= {low}")


def _check_positive_int(name, value):
    _check_int(name, value, low=1)


def _check_threshold(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
            0 < threshold <= 1):
        raise ConfigError(f"threshold={threshold!r}: must be a Jaccard similarity in (0, 1]")
