"""A synthetic language whose entropy rate is known exactly, plus a knob for repeated documents.

A fitted scaling law loss(N, T) = E + ... has an irreducible loss E; on this language E is known:
it is the entropy rate h, so a sweep can compare its fitted E with the truth.

The source is a sparse Markov chain of order O over ids 0..V-1, one of them EOS. The context of
a token is the O tokens before it, cut after the most recent EOS and left-padded with EOS: every
document starts from the all-EOS context and depends on nothing before it. Every context has
the same multiset of next-token probabilities:

    EOS                with probability e = eos_prob   (ends the document: mean 1/e tokens
                                                         per document, its EOS included)
    successor j        with probability (1 - e) q_j,   j = 0..J-1, J = branching,
                       q_j proportional to 1 / (j + 1)^zipf (zipf = 0: uniform)

so the entropy rate is exactly h = -sum_y p_y ln p_y over those J + 1 probabilities, whatever
the stationary distribution (`entropy_rate`). The successors of a context are
perm[(o + j) mod (V - 1)], where perm is a seeded permutation of the V - 1 non-EOS ids and the
offset o comes from a 64-bit hash of (seed, context): J distinct non-EOS ids by construction.

Randomness is counter-based (splitmix64 on numpy uint64 arrays, nothing from numpy's RNGs): the
draws of document i of a stream are x_s = splitmix64(key(seed, stream, i) + s * golden), so a
document is a pure function of (spec, V, eos_id, stream, i), whatever range of documents is
generated and however many lanes generate it (`lanes` is a speed knob only). As EOS does not
depend on the context, a document's length is drawn first, from x_0 (geometric: P(length = n) =
e (1 - e)^(n - 1), EOS included), then its non-EOS tokens from x_1, x_2, ... with probabilities
q_j: the same distribution as an EOS-or-not draw at every step, and lengths are known before any
token is (`document_lengths` gives a range's lengths without generating its tokens). "train" and "eval" draw differently but walk the same chain.

Stream layout: each document's tokens, the last of them the EOS the chain emitted (no second
one is added): doc0 EOS doc1 EOS ... An empty document (just EOS) happens with probability e.

Redundancy, train stream only (eval is always fresh documents):

- `repeat_fraction` r: train document i >= 1 is, with probability r, an exact copy of train
  document floor(u * i) for u uniform in [0, 1) (a uniformly chosen earlier document, itself
  possibly a copy); both draws hash (seed, i), so any range is generatable alone. A document
  that is not a copy equals the document of the same index with r = 0.
- `unique_documents` U: the train stream reads only the fresh documents 0..U-1, pass p (train
  documents p*U .. p*U+U-1) in an order seeded by (seed, p): epochs over U documents.

Setting both is refused: they are two ways to say how often documents repeat.

h is the loss of a model that sees each token's whole context. A model reading windows cut
mid-document (as TrainReader does) lacks part of the context for the first O - 1 targets of a
window, so its best mean loss over T = seq_len targets is h plus at most (O - 1) ln(V) / T.

Letters (README "The science: Letters"; V and T as everywhere): V vocabulary size, T tokens,
M documents, W lanes (documents generated side by side), O order (context length), J successors
per context (branching), Y = J + 1 outcomes per context
(outcome 0 is EOS, outcome 1 + j successor j).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass
from typing import Optional

import numpy as np

from sweep.config import DataConfig
from sweep.errors import ConfigError

STREAMS = ("train", "eval")
DEFAULT_LANES = 1 << 13  # fastest measured on one core; a speed knob only

_PREFIX = "data.synthetic."
_GUIDE_BITS = 12  # drawing an outcome looks up a table of 2^12 cells of [0, 1)
_MAX_V = 1 << 32  # ids are uint32, and the offset's multiply-shift needs V - 1 < 2^32

# Hash purposes: every use of (seed, ...) gets its own key, so no two draws are correlated.
_CHAIN_OFFSET, _CHAIN_PERM, _STREAM_DRAWS, _COPY_COIN, _COPY_SOURCE, _PASS_ORDER = range(1, 7)
_STREAM_CODE = {"train": 1, "eval": 2}

_MASK = (1 << 64) - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15
_MIX1_INT, _MIX2_INT = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_GOLDEN, _MIX1, _MIX2 = np.uint64(_GOLDEN_INT), np.uint64(_MIX1_INT), np.uint64(_MIX2_INT)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
_TO_UNIT = 2.0 ** -53  # a uint64 >> 11 times this is uniform in [0, 1)


@dataclass(frozen=True)
class SyntheticSpec:
    """The synthetic language (`data.synthetic.*`); V and the EOS id come from elsewhere.

    No field has a default: the values live in conf/data_common.yaml (`synthetic_spec`)."""

    seed: int  # the chain and every draw
    order: int  # O: tokens of context
    branching: int  # J: non-EOS successors of every context, 1 <= J <= V - 1
    eos_prob: float  # e: probability of EOS after any context, 0 < e < 1
    zipf: float  # q_j proportional to 1 / (j + 1)^zipf; 0 = uniform
    repeat_fraction: float  # r: train documents that copy an earlier one, 0 <= r < 1
    unique_documents: Optional[int]  # U: train cycles over this many documents; None: no cycling

    def __post_init__(self):
        for name in ("seed", "order", "branching"):
            object.__setattr__(self, name, _integer(name, getattr(self, name)))
        for name in ("eos_prob", "zipf", "repeat_fraction"):
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        if self.unique_documents is not None:
            object.__setattr__(self, "unique_documents",
                               _integer("unique_documents", self.unique_documents))
        _check_ranges(self)

    @classmethod
    def from_config(cls, **values) -> SyntheticSpec:
        """From the keys under `data.synthetic` (every one of them: the spec has no defaults)."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{_PREFIX}{unknown[0]}: unknown key; accepted: {', '.join(known)}")
        missing = [name for name in known if name not in values]
        if missing:
            raise ConfigError(f"{_PREFIX}{missing[0]}: missing; the spec needs {', '.join(known)}")
        return cls(**values)

    def to_dict(self) -> dict:
        """The spec plus what follows from it, for a manifest (JSON-ready)."""
        return {**dataclasses.asdict(self), "entropy_rate_nats": entropy_rate(self),
                "mean_document_tokens": 1.0 / self.eos_prob}

    def describe(self) -> str:
        """One line for a log."""
        line = (f"synthetic order-{self.order} Markov chain, {self.branching} successors "
                f"(zipf {self.zipf:g}) + EOS p={self.eos_prob:g} (mean {1 / self.eos_prob:.1f} "
                f"tokens/document), seed {self.seed}: entropy rate {entropy_rate(self):.4f} "
                "nats/token")
        if self.repeat_fraction > 0:
            line += f"; train: {self.repeat_fraction:.0%} of documents copy an earlier one"
        if self.unique_documents is not None:
            line += f"; train: epochs over {self.unique_documents} documents"
        return line


def synthetic_spec(data: DataConfig) -> SyntheticSpec:
    """`data.synthetic` as the source's SyntheticSpec (its ranges checked)."""
    s = data.synthetic
    return SyntheticSpec.from_config(seed=s.seed, order=s.order, branching=s.branching, eos_prob=s.eos_prob,
                                     zipf=s.zipf, repeat_fraction=s.repeat_fraction,
                                     unique_documents=s.unique_documents)


def entropy_rate(spec: SyntheticSpec) -> float:
    """h in nats per token (EOS included): the loss of a perfect model, E of a scaling law."""
    probs_Y = _outcome_probs(spec.branching, spec.eos_prob, spec.zipf)
    return float(-(probs_Y * np.log(probs_Y)).sum())


def check_vocab(spec: SyntheticSpec, V: int, eos_id: int) -> None:
    """Raise ConfigError unless V, the EOS id and data.synthetic.branching fit together."""
    if not 2 <= V <= _MAX_V:
        raise ConfigError(f"data.vocab_size={V}: the synthetic language needs a vocabulary of 2 <= V <= 2^32 "
                          "(one id is EOS)")
    if not 0 <= eos_id < V:
        raise ConfigError(f"eos_id={eos_id}: must be an id in [0, V) = [0, {V})")
    if spec.branching > V - 1:
        raise ConfigError(f"{_PREFIX}branching={spec.branching}: must be in [1, V - 1] = "
                          f"[1, {V - 1}] (V={V}, one id is EOS)")


def successors(spec: SyntheticSpec, V: int, eos_id: int, contexts_MxO) -> np.ndarray:
    """The J successors of each context, uint32 (M, J), column j drawn with prob (1 - e) q_j.

    A context is O ids, oldest first, as the chain sees it: ids before the document's start are
    EOS (the all-EOS context starts every document) and no EOS follows a non-EOS id.
    """
    chain = _chain(spec, V, eos_id)
    contexts_MxO = np.asarray(contexts_MxO)
    if contexts_MxO.ndim != 2 or contexts_MxO.shape[1] != spec.order:
        raise ValueError(f"contexts shape {contexts_MxO.shape}: need (M, order={spec.order})")
    _check_ids(contexts_MxO, V)
    ctx = [contexts_MxO[:, i].astype(np.uint64) for i in range(spec.order)]
    offset_M = _offsets(chain, ctx)
    index_MxJ = offset_M[:, None] + np.arange(spec.branching)[None, :]
    return chain.perm2_V2[index_MxJ].astype(np.uint32)


def log_prob(spec: SyntheticSpec, V: int, eos_id: int, tokens_T) -> np.ndarray:
    """ln p of each token given the ones before it, float64 (T,); -inf where p = 0.

    `tokens_T` must start at a document's start (as every stream here does).
    """
    chain = _chain(spec, V, eos_id)
    tokens_T = np.asarray(tokens_T)
    if tokens_T.ndim != 1:
        raise ValueError(f"tokens shape {tokens_T.shape}: need one flat stream (T,)")
    _check_ids(tokens_T, V)
    tokens_T = tokens_T.astype(np.int64)
    T = len(tokens_T)
    if T == 0:
        return np.zeros(0)
    t_T = np.arange(T)
    is_eos_T = tokens_T == eos_id
    eos_upto_T = np.maximum.accumulate(np.where(is_eos_T, t_T, -1))
    last_eos_T = np.concatenate([[-1], eos_upto_T[:-1]])  # last EOS strictly before t
    ctx = []
    for lag in range(spec.order, 0, -1):  # oldest first
        src_T = t_T - lag
        inside_T = src_T > last_eos_T  # after the document's start (so also src >= 0)
        ctx.append(np.where(inside_T, tokens_T[np.maximum(src_T, 0)], eos_id).astype(np.uint64))
    offset_T = _offsets(chain, ctx)
    rank_T = (chain.position_V[tokens_T] - offset_T) % (V - 1)  # successor j, when < J
    out_T = np.full(T, -np.inf)
    out_T[is_eos_T] = chain.log_probs_Y[0]
    hit_T = ~is_eos_T & (rank_T < spec.branching)
    out_T[hit_T] = chain.log_probs_Y[1 + rank_T[hit_T]]
    return out_T


def documents(spec: SyntheticSpec, V: int, eos_id: int, stream: str, first_doc: int,
              n_docs: int, *, lanes: int = DEFAULT_LANES) -> list[np.ndarray]:
    """Documents first_doc .. first_doc + n_docs - 1 of `stream`, each uint32 ending in EOS."""
    tokens_T, lengths_M = document_tokens(spec, V, eos_id, stream, first_doc, n_docs, lanes=lanes)
    return np.split(tokens_T, np.cumsum(lengths_M)[:-1]) if n_docs else []


def document_tokens(spec: SyntheticSpec, V: int, eos_id: int, stream: str, first_doc: int,
                    n_docs: int, *, lanes: int = DEFAULT_LANES) -> tuple[np.ndarray, np.ndarray]:
    """The same documents as one flat uint32 stream (T,), with each one's length (M,)."""
    chain = _chain(spec, V, eos_id)
    if lanes < 1:
        raise ValueError(f"lanes={lanes}: must be >= 1")
    docs_M = _document_range(stream, first_doc, n_docs)
    fresh_M = _fresh_indices(spec, stream, docs_M)
    unique_U, inverse_M = np.unique(fresh_M, return_inverse=True)
    keys_U = _keys(_key(spec.seed, _STREAM_DRAWS, _STREAM_CODE[stream]), unique_U)
    tokens_T, lengths_U = _generate(chain, keys_U, lanes)
    if len(unique_U) == n_docs and np.array_equal(fresh_M, unique_U):
        return tokens_T, lengths_U
    return _gather_documents(tokens_T, lengths_U, inverse_M)


def document_lengths(spec: SyntheticSpec, stream: str, first_doc: int,
                     n_docs: int) -> np.ndarray:
    """int64 (M,): tokens of each of those documents, EOS included, without generating them."""
    docs_M = _document_range(stream, first_doc, n_docs)
    keys_M = _keys(_key(spec.seed, _STREAM_DRAWS, _STREAM_CODE[stream]),
                   _fresh_indices(spec, stream, docs_M))
    return _lengths(math.log1p(-spec.eos_prob), keys_M)


# --- validation -------------------------------------------------------------------------------


def _integer(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{_PREFIX}{name}={value!r}: must be an integer")
    return int(value)


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{_PREFIX}{name}={value!r}: must be a finite number")
    return float(value)


def _check_ranges(spec: SyntheticSpec) -> None:
    p = _PREFIX
    if spec.seed < 0:
        raise ConfigError(f"{p}seed={spec.seed}: must be >= 0")
    if spec.order < 1:
        raise ConfigError(f"{p}order={spec.order}: must be >= 1 (tokens of context)")
    if spec.branching < 1:
        raise ConfigError(f"{p}branching={spec.branching}: must be >= 1 (and <= V - 1)")
    if not 0 < spec.eos_prob < 1:
        raise ConfigError(f"{p}eos_prob={spec.eos_prob}: must be strictly between 0 and 1")
    if spec.zipf < 0:
        raise ConfigError(f"{p}zipf={spec.zipf}: must be >= 0 (0 = uniform successors)")
    if not 0 <= spec.repeat_fraction < 1:
        raise ConfigError(f"{p}repeat_fraction={spec.repeat_fraction}: must be in [0, 1)")
    if spec.unique_documents is not None and spec.unique_documents < 1:
        raise ConfigError(f"{p}unique_documents={spec.unique_documents}: must be >= 1, "
                          "or null for no limit")
    if spec.unique_documents is not None and spec.repeat_fraction > 0:
        raise ConfigError(  # both say how often documents repeat: one knob at a time
            f"{p}repeat_fraction={spec.repeat_fraction} with {p}unique_documents="
            f"{spec.unique_documents}: set one of them (repeat_fraction=0 or unique_documents=null)"
        )
    if _outcome_probs(spec.branching, spec.eos_prob, spec.zipf).min() < 1e-12:
        raise ConfigError(f"{p}zipf={spec.zipf} with branching={spec.branching}: the last "
                          "successor's probability is below 1e-12; lower zipf or branching")


def _document_range(stream: str, first_doc: int, n_docs: int) -> np.ndarray:
    if stream not in STREAMS:
        raise ValueError(f"stream={stream!r}: accepted: {', '.join(STREAMS)}")
    if first_doc < 0 or n_docs < 0:
        raise ValueError(f"first_doc={first_doc}, n_docs={n_docs}: both must be >= 0")
    return np.arange(first_doc, first_doc + n_docs, dtype=np.int64)


def _check_ids(ids: np.ndarray, V: int) -> None:
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"token ids of dtype {ids.dtype}: need integers")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"token ids in [{ids.min()}, {ids.max()}]: need ids in [0, V={V})")


# --- the chain --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Chain:
    order: int  # O
    eos_id: int
    n: int  # V - 1 non-EOS ids
    offset_key: np.uint64  # hashes contexts
    perm2_V2: np.ndarray  # uint64 (2 (V - 1),): perm twice, so perm[(o + j) mod n] = perm2[o + j]
    position_V: np.ndarray  # int64 (V,): where each non-EOS id sits in perm
    log1m_eos: float  # ln(1 - e)
    # Successor j of a 53-bit uniform u (q_j each): the number of thresholds of q's cumulative
    # sum <= u, found as guide[u >> 41] (the successor at the start of u's cell) + a few steps.
    bounds_J: np.ndarray  # uint64 (J,): thresholds (J - 1,) then 2^53: u < bounds[j] stops
    guide_G: np.ndarray  # int64 (2^12,): successor at the start of each cell
    guide_steps: int  # most thresholds inside one cell
    log_probs_Y: np.ndarray  # float64 (Y,): EOS, then successor j


def _outcome_probs(branching: int, eos_prob: float, zipf: float) -> np.ndarray:
    """float64 (Y,): EOS, then successor j = 0..J-1."""
    q_J = 1.0 / np.arange(1, branching + 1, dtype=np.float64) ** zipf
    q_J /= q_J.sum()
    return np.concatenate([[eos_prob], (1.0 - eos_prob) * q_J])


def _chain(spec: SyntheticSpec, V: int, eos_id: int) -> _Chain:
    check_vocab(spec, V, eos_id)
    return _build_chain(spec.seed, spec.order, spec.branching, spec.eos_prob, spec.zipf, V,
                        eos_id)


@functools.lru_cache(maxsize=8)
def _build_chain(seed: int, order: int, branching: int, eos_prob: float, zipf: float, V: int,
                 eos_id: int) -> _Chain:
    n = V - 1
    non_eos_n = np.delete(np.arange(V, dtype=np.uint64), eos_id)
    perm_n = non_eos_n[_seeded_order(_key(seed, _CHAIN_PERM), n)]
    position_V = np.zeros(V, dtype=np.int64)
    position_V[perm_n.astype(np.int64)] = np.arange(n)
    probs_Y = _outcome_probs(branching, eos_prob, zipf)
    q_J = probs_Y[1:] / probs_Y[1:].sum()
    thresholds_J1 = np.round(np.cumsum(q_J)[:-1] * 2.0 ** 53).astype(np.uint64)
    bounds_J = np.append(thresholds_J1, np.uint64(1 << 53))
    cell_starts_G = np.arange(1 << _GUIDE_BITS, dtype=np.uint64) << np.uint64(53 - _GUIDE_BITS)
    guide_G = np.searchsorted(thresholds_J1, cell_starts_G, side="right").astype(np.int64)
    guide_steps = int(np.diff(np.append(guide_G, branching - 1)).max())
    for a in (perm_n, position_V, bounds_J, guide_G):
        a.flags.writeable = False
    perm2_V2 = np.concatenate([perm_n, perm_n])
    perm2_V2.flags.writeable = False
    offset_key = np.uint64(_key(seed, _CHAIN_OFFSET))
    return _Chain(order=order, eos_id=eos_id, n=n, offset_key=offset_key,
                  perm2_V2=perm2_V2, position_V=position_V, log1m_eos=math.log1p(-eos_prob),
                  bounds_J=bounds_J, guide_G=guide_G,
                  guide_steps=guide_steps, log_probs_Y=np.log(probs_Y))


def _outcomes(chain: _Chain, u53_W: np.ndarray) -> np.ndarray:
    """int64 (W,): the successor j (drawn with probability q_j) of 53-bit uniforms u53_W."""
    j_W = chain.guide_G[u53_W >> np.uint64(53 - _GUIDE_BITS)]
    for _ in range(chain.guide_steps):
        j_W += u53_W >= chain.bounds_J[j_W]
    return j_W


def _offsets(chain: _Chain, ctx: list[np.ndarray]) -> np.ndarray:
    """int64 offset o in [0, V - 1) of each context; ctx: O uint64 arrays (W,), oldest first."""
    h_W = ctx[0] ^ chain.offset_key
    h_W *= _GOLDEN
    for c_W in ctx[1:]:
        h_W ^= c_W
        h_W *= _GOLDEN
    _mix64_(h_W)
    h_W >>= np.uint64(32)  # Lemire's multiply-shift: floor(h32 * n / 2^32), no division
    h_W *= np.uint64(chain.n)
    h_W >>= np.uint64(32)
    return h_W.view(np.int64)


# --- generation -------------------------------------------------------------------------------


def _generate(chain: _Chain, keys_M: np.ndarray, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """The documents whose draw keys are keys_M: flat uint32 (T,) in order, lengths (M,).

    Lengths come first (`_lengths`), so each document's place in the output is known and its
    EOS written at once. W lanes then run one document each, longest first (lanes finish
    together), writing token after token in place; a lane whose document is done takes the
    next one, and once none is left it is dropped.
    """
    eos = np.uint64(chain.eos_id)
    length_M = _lengths(chain.log1m_eos, keys_M)
    end_M = np.cumsum(length_M)  # one past each document's EOS
    tokens_T = np.empty(int(end_M[-1]) if len(end_M) else 0, dtype=np.uint32)
    tokens_T[end_M - 1] = chain.eos_id
    queue_Q = np.flatnonzero(length_M > 1)  # documents with tokens before their EOS
    queue_Q = queue_Q[np.argsort(-length_M[queue_Q], kind="stable")]
    W = min(lanes, len(queue_Q))
    lane_doc_W = queue_Q[:W]
    state_W = keys_M[lane_doc_W]  # splitmix64 state of each lane's document (a copy)
    dest_W = end_M[lane_doc_W] - length_M[lane_doc_W]  # where the lane writes next
    eos_at_W = end_M[lane_doc_W] - 1  # where its document's EOS already is
    ctx = [np.full(W, eos) for _ in range(chain.order)]  # oldest first
    next_q = W
    while len(dest_W):
        state_W += _GOLDEN
        u53_W = _mix64_(state_W.copy())
        u53_W >>= np.uint64(11)
        token_W = chain.perm2_V2[_offsets(chain, ctx) + _outcomes(chain, u53_W)]
        tokens_T[dest_W] = token_W
        dest_W += 1
        ctx = ctx[1:] + [token_W]
        done_W = dest_W == eos_at_W
        if not done_W.any():
            continue
        done_I = np.flatnonzero(done_W)
        n_new = min(len(done_I), len(queue_Q) - next_q)
        if n_new:  # refill: the lane starts the next document from the all-EOS context
            lane_Z, doc_Z = done_I[:n_new], queue_Q[next_q : next_q + n_new]
            state_W[lane_Z] = keys_M[doc_Z]
            dest_W[lane_Z] = end_M[doc_Z] - length_M[doc_Z]
            eos_at_W[lane_Z] = end_M[doc_Z] - 1
            for c_W in ctx:
                c_W[lane_Z] = eos
            next_q += n_new
        if n_new < len(done_I):  # no document left for these lanes: drop them
            keep_W = np.ones(len(dest_W), dtype=bool)
            keep_W[done_I[n_new:]] = False
            state_W, dest_W, eos_at_W = state_W[keep_W], dest_W[keep_W], eos_at_W[keep_W]
            ctx = [c_W[keep_W] for c_W in ctx]
    return tokens_T, length_M


def _lengths(log1m_eos: float, keys_M: np.ndarray) -> np.ndarray:
    """int64 (M,): tokens of each document, its EOS included: geometric, P(length = n) = e (1-e)^(n-1).

    Drawn by inversion from the document's first draw (its steps use the following ones). The
    same as drawing EOS with probability e at every step, as EOS does not depend on the context.
    """
    x_M = _mix64_(keys_M.copy())
    x_M >>= np.uint64(11)
    u_M = (x_M + np.uint64(1)) * _TO_UNIT  # in (0, 1]
    return np.maximum(np.ceil(np.log(u_M) / log1m_eos), 1).astype(np.int64)


def _gather_documents(tokens_T: np.ndarray, lengths_U: np.ndarray,
                      inverse_M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Documents inverse_M[0], inverse_M[1], ... of a flat stream, as one flat stream."""
    start_U = np.cumsum(lengths_U) - lengths_U
    lengths_M = lengths_U[inverse_M]
    out_start_M = np.cumsum(lengths_M) - lengths_M
    index_T = np.repeat(start_U[inverse_M] - out_start_M, lengths_M)
    index_T += np.arange(len(index_T))
    return tokens_T[index_T], lengths_M


# --- which fresh document each stream document is --------------------------------------------


def _fresh_indices(spec: SyntheticSpec, stream: str, docs_M: np.ndarray) -> np.ndarray:
    """int64 (M,): the fresh (independently drawn) document that each stream document is."""
    if stream == "eval":
        return docs_M
    if spec.unique_documents is not None:
        return _unique_pool(spec.seed, spec.unique_documents, docs_M)
    if spec.repeat_fraction > 0:
        return _copy_roots(spec.seed, spec.repeat_fraction, docs_M)
    return docs_M


def _unique_pool(seed: int, U: int, docs_M: np.ndarray) -> np.ndarray:
    """Document i is pool entry order_p[i mod U] of pass p = i // U."""
    pass_M, pos_M = np.divmod(docs_M, U)
    fresh_M = np.empty_like(docs_M)
    for p in np.unique(pass_M):
        sel_M = pass_M == p
        fresh_M[sel_M] = _pass_order(seed, U, int(p))[pos_M[sel_M]]
    return fresh_M


@functools.lru_cache(maxsize=4)
def _pass_order(seed: int, U: int, p: int) -> np.ndarray:
    order_U = _seeded_order(_key(seed, _PASS_ORDER, p), U)
    order_U.flags.writeable = False
    return order_U


def _copy_roots(seed: int, r: float, docs_M: np.ndarray) -> np.ndarray:
    """Follow copies back: a copy of a copy of i is the fresh document at the end of the chain."""
    root_M = docs_M.copy()
    todo_A = np.arange(len(docs_M))  # documents still maybe a copy
    coin_key, source_key = _key(seed, _COPY_COIN), _key(seed, _COPY_SOURCE)
    while len(todo_A):
        i_A = root_M[todo_A]
        copy_A = (_unit(coin_key, i_A) < r) & (i_A > 0)
        todo_A, i_A = todo_A[copy_A], i_A[copy_A]
        source_A = np.floor(_unit(source_key, i_A) * i_A).astype(np.int64)
        root_M[todo_A] = np.minimum(source_A, i_A - 1)  # strictly earlier: the loop ends
    return root_M


# --- hashing ----------------------------------------------------------------------------------


def _mix64_(x_W: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, in place on a uint64 array (a bijection that mixes every bit)."""
    t_W = x_W >> _SHIFTS[0]
    x_W ^= t_W
    x_W *= _MIX1
    np.right_shift(x_W, _SHIFTS[1], out=t_W)
    x_W ^= t_W
    x_W *= _MIX2
    np.right_shift(x_W, _SHIFTS[2], out=t_W)
    x_W ^= t_W
    return x_W


def _mix_int(x: int) -> int:
    """`_mix64_` on one Python int."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * _MIX1_INT) & _MASK
    x = ((x ^ (x >> 27)) * _MIX2_INT) & _MASK
    return x ^ (x >> 31)


def _key(*parts: int) -> int:
    """A 64-bit key for a tuple of non-negative ints."""
    h = 0
    for part in parts:
        h = _mix_int(h + _GOLDEN_INT + _mix_int(part))
    return h


def _keys(key: int, index_M: np.ndarray) -> np.ndarray:
    """uint64 (M,): one key per index under `key` (splitmix64's i-th output)."""
    x_M = np.asarray(index_M, dtype=np.int64).astype(np.uint64)
    x_M += np.uint64(1)
    x_M *= _GOLDEN
    x_M += np.uint64(key)
    return _mix64_(x_M)


def _unit(key: int, index_M: np.ndarray) -> np.ndarray:
    """float64 (M,) uniform in [0, 1), one per index under `key`."""
    x_M = _keys(key, index_M)
    x_M >>= np.uint64(11)
    return x_M * _TO_UNIT


def _seeded_order(key: int, n: int) -> np.ndarray:
    """int64 (n,): a permutation of range(n) seeded by `key` (sorting distinct hashes)."""
    return np.argsort(_keys(key, np.arange(n)), kind="stable")
