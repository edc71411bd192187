"""sweep/data/synthetic.py: a Markov language with an exact entropy rate, and repeated documents."""

import json
import math

import numpy as np
import pytest

from sweep.data.synthetic import (
    SyntheticSpec,
    check_vocab,
    document_lengths,
    document_tokens,
    documents,
    entropy_rate,
    log_prob,
    successors,
)
from sweep.errors import ConfigError

V, EOS = 64, 5  # EOS deliberately not 0 or V - 1


def spec(**changes) -> SyntheticSpec:
    return SyntheticSpec(**{"seed": 1, "order": 2, "branching": 4, "eos_prob": 0.05,
                            "zipf": 1.0, "repeat_fraction": 0.0, "unique_documents": None, **changes})


def outcome_probs(s: SyntheticSpec) -> np.ndarray:
    """The J + 1 next-token probabilities of every context, sorted: EOS, (1 - e) q_j."""
    q_J = 1.0 / np.arange(1, s.branching + 1) ** s.zipf
    return np.sort(np.concatenate([[s.eos_prob], (1 - s.eos_prob) * q_J / q_J.sum()]))


def token_stream(s: SyntheticSpec, V: int, eos_id: int, stream: str, n_tokens: int) -> np.ndarray:
    """The first n_tokens tokens of `stream`: its documents back to back, the last one cut."""
    n_docs = int(n_tokens * s.eos_prob) + 64
    while True:
        tokens_T, _ = document_tokens(s, V, eos_id, stream, 0, n_docs)
        if len(tokens_T) >= n_tokens:
            return tokens_T[:n_tokens]
        n_docs *= 2


def copies(docs: list[np.ndarray]) -> list[bool]:
    """Whether each document equals an earlier one."""
    seen: set[bytes] = set()
    out = []
    for doc in docs:
        out.append(doc.tobytes() in seen)
        seen.add(doc.tobytes())
    return out


def test_entropy_rate_is_the_closed_form():
    e, q = 0.1, np.array([1, 1 / 2, 1 / 3, 1 / 4]) / (1 + 1 / 2 + 1 / 3 + 1 / 4)
    expected = -e * math.log(e) - sum((1 - e) * qj * math.log((1 - e) * qj) for qj in q)
    assert entropy_rate(spec(eos_prob=e, branching=4, zipf=1.0)) == pytest.approx(expected,
                                                                                  rel=1e-12)
    uniform = -e * math.log(e) - (1 - e) * math.log((1 - e) / 8)
    assert entropy_rate(spec(eos_prob=e, branching=8, zipf=0.0)) == pytest.approx(uniform)
    assert entropy_rate(spec(order=3, seed=9)) == entropy_rate(spec())  # only the multiset counts


@pytest.mark.parametrize("order", [1, 2, 3])
def test_a_long_eval_stream_costs_the_entropy_rate_and_draws_each_outcome_at_its_probability(
        order):
    s = spec(order=order, eos_prob=0.1)
    tokens_T = token_stream(s, V, EOS, "eval", 200_000)
    surprisal_T = -log_prob(s, V, EOS, tokens_T)
    assert np.isfinite(surprisal_T).all()
    assert surprisal_T.mean() == pytest.approx(entropy_rate(s), rel=0.01)
    # the J + 1 probabilities differ (zipf = 1), so each surprisal value names one outcome
    probs_Y = outcome_probs(s)
    values, counts = np.unique(np.round(np.exp(-surprisal_T), 12), return_counts=True)
    assert values == pytest.approx(probs_Y)
    assert counts / len(tokens_T) == pytest.approx(probs_Y, abs=0.005)


@pytest.mark.parametrize("changes", [{}, {"branching": 63, "zipf": 2.0}, {"branching": 1}])
def test_a_successor_is_drawn_exactly_at_every_threshold_not_just_on_average(changes):
    from sweep.data.synthetic import _chain, _outcomes  # the table lookup behind the sampler

    chain = _chain(spec(**changes), V, EOS)
    thresholds = chain.bounds_J[:-1].astype(np.int64)  # of q's cumulative sum, times 2^53
    u53_W = np.concatenate([thresholds - 1, thresholds, thresholds + 1, [0, 2**53 - 1],
                            np.random.default_rng(0).integers(0, 2**53, 10_000)])
    expected_W = np.searchsorted(thresholds, u53_W, side="right")  # thresholds <= u, counted
    assert np.array_equal(_outcomes(chain, u53_W.astype(np.uint64)), expected_W)


@pytest.mark.parametrize("branching", [1, 5, V - 1])
def test_every_context_has_branching_distinct_non_eos_successors(branching):
    s = spec(branching=branching)
    contexts_MxO = np.random.default_rng(0).integers(0, V, size=(500, 2))
    succ_MxJ = successors(s, V, EOS, contexts_MxO)
    assert succ_MxJ.shape == (500, branching)
    assert all(len(set(row)) == branching for row in succ_MxJ.tolist())
    assert (succ_MxJ != EOS).all() and (succ_MxJ < V).all()
    # successor lists are windows of one permutation at V - 1 offsets; 500 contexts hit most
    assert len({tuple(row) for row in succ_MxJ.tolist()}) > (V - 1) * 0.9


def test_after_any_context_the_next_token_has_the_same_distribution_and_nothing_else():
    s = spec(order=2)
    doc = documents(s, V, EOS, "eval", 0, 1)[0]
    for prefix in ([], doc[:1].tolist(), doc[:7].tolist(), [int(doc[0]), EOS]):
        candidates_VxT = [prefix + [x] for x in range(V)]
        last_V = np.array([log_prob(s, V, EOS, np.array(c))[-1] for c in candidates_VxT])
        allowed = set(np.flatnonzero(np.isfinite(last_V)).tolist())
        context = ([EOS, EOS] + prefix)[-2:] if EOS not in prefix else [EOS, EOS]
        assert allowed == set(successors(s, V, EOS, [context])[0].tolist()) | {EOS}
        assert np.exp(last_V).sum() == pytest.approx(1.0)
        assert np.sort(np.exp(last_V[list(allowed)])) == pytest.approx(outcome_probs(s))


def test_a_token_off_the_chain_has_log_prob_minus_inf():
    s = spec()
    start_succ = set(successors(s, V, EOS, [[EOS, EOS]])[0].tolist())
    outsider = next(x for x in range(V) if x != EOS and x not in start_succ)
    insider = min(start_succ)
    assert log_prob(s, V, EOS, np.array([outsider, EOS]))[0] == -np.inf
    assert np.isfinite(log_prob(s, V, EOS, np.array([insider]))).all()


def test_documents_are_self_contained_pure_functions_of_their_index():
    s = spec()
    ten = documents(s, V, EOS, "train", 0, 10)
    assert all(d.dtype == np.uint32 and d[-1] == EOS and (d[:-1] != EOS).all() for d in ten)
    later = documents(s, V, EOS, "train", 5, 5)
    assert all(np.array_equal(a, b) for a, b in zip(later, ten[5:], strict=True))
    assert np.array_equal(documents(s, V, EOS, "train", 3, 1)[0], ten[3])
    one_lane = documents(s, V, EOS, "train", 0, 10, lanes=1)  # lanes change the speed only
    assert all(np.array_equal(a, b) for a, b in zip(one_lane, ten, strict=True))
    stream_T = np.concatenate(ten)
    starts = np.cumsum([0] + [len(d) for d in ten])
    whole_T = log_prob(s, V, EOS, stream_T)
    for d, start in zip(ten, starts):  # a document scores the same alone or after others
        assert np.array_equal(log_prob(s, V, EOS, d), whole_T[start : start + len(d)])


def test_document_tokens_are_the_documents_back_to_back_and_a_shorter_range_is_a_prefix():
    s = spec()
    docs_T, lengths_M = document_tokens(s, V, EOS, "eval", 0, 200)
    assert docs_T.dtype == np.uint32 and len(docs_T) == lengths_M.sum()
    assert np.array_equal(np.cumsum(lengths_M) - 1, np.flatnonzero(docs_T == EOS))
    assert np.array_equal(docs_T, np.concatenate(documents(s, V, EOS, "eval", 0, 200)))
    first_T, _ = document_tokens(s, V, EOS, "eval", 0, 50)
    assert np.array_equal(first_T, docs_T[:len(first_T)])
    assert len(document_tokens(s, V, EOS, "eval", 0, 0)[0]) == 0


def test_the_seed_fixes_everything_and_another_seed_gives_another_chain():
    a_T = token_stream(spec(seed=1), V, EOS, "train", 5000)
    assert np.array_equal(a_T, token_stream(spec(seed=1), V, EOS, "train", 5000))
    b_T = token_stream(spec(seed=2), V, EOS, "train", 5000)
    assert not np.array_equal(a_T, b_T)
    assert not np.array_equal(successors(spec(seed=1), V, EOS, [[EOS, EOS]]),
                              successors(spec(seed=2), V, EOS, [[EOS, EOS]]))
    assert np.isneginf(log_prob(spec(seed=2), V, EOS, a_T)).any()  # off seed 2's chain


def test_train_and_eval_draw_differently_from_the_same_chain():
    s = spec()
    train_T = token_stream(s, V, EOS, "train", 5000)
    eval_T = token_stream(s, V, EOS, "eval", 5000)
    assert not np.array_equal(train_T, eval_T)
    assert np.isfinite(log_prob(s, V, EOS, train_T)).all()
    assert np.isfinite(log_prob(s, V, EOS, eval_T)).all()


def test_document_lengths_are_geometric_with_mean_one_over_eos_prob_and_known_in_advance():
    s = spec(eos_prob=0.05)
    tokens_T, lengths_M = document_tokens(s, V, EOS, "eval", 0, 10_000)
    assert lengths_M.min() == 1  # an empty document is just its EOS
    assert lengths_M.mean() == pytest.approx(1 / 0.05, rel=0.03)
    assert (lengths_M == 1).mean() == pytest.approx(0.05, abs=0.01)
    assert np.array_equal(document_lengths(s, "eval", 0, 10_000), lengths_M)
    assert np.array_equal(document_lengths(s, "eval", 300, 20), lengths_M[300:320])
    r = spec(eos_prob=0.05, repeat_fraction=0.5)
    assert np.array_equal(document_lengths(r, "train", 0, 500),
                          [len(d) for d in documents(r, V, EOS, "train", 0, 500)])


LONG = {"eos_prob": 0.01, "branching": 16, "zipf": 0.0}  # long, varied: rare chance repeats


def test_repeat_fraction_makes_that_fraction_of_train_documents_copies_of_earlier_ones():
    s = spec(repeat_fraction=0.5, **LONG)
    docs = documents(s, V, EOS, "train", 0, 2000)
    assert sum(copies(docs)) / 2000 == pytest.approx(0.5, abs=0.05)
    fresh = documents(spec(**LONG), V, EOS, "train", 0, 2000)
    kept = [i for i, c in enumerate(copies(docs)) if not c]
    assert all(np.array_equal(docs[i], fresh[i]) for i in kept)  # the rest are the r=0 documents
    later = documents(s, V, EOS, "train", 1500, 100)  # generatable from any document
    assert all(np.array_equal(a, b) for a, b in zip(later, docs[1500:1600], strict=True))
    evals = documents(s, V, EOS, "eval", 0, 2000)  # eval stays fresh
    assert not any(c for c, d in zip(copies(evals), evals) if len(d) >= 6)


def test_without_repeats_no_document_of_six_tokens_or_more_recurs():
    docs = documents(spec(**LONG), V, EOS, "train", 0, 2000)
    assert not any(c for c, d in zip(copies(docs), docs) if len(d) >= 6)


def test_unique_documents_cycles_over_exactly_that_many_in_a_fresh_order_each_pass():
    s = spec(unique_documents=50, **LONG)
    docs = documents(s, V, EOS, "train", 0, 175)  # 3.5 passes
    keys = [d.tobytes() for d in docs]
    assert len(set(keys)) == 50
    passes = [keys[0:50], keys[50:100], keys[100:150]]
    assert all(set(p) == set(keys) and len(set(p)) == 50 for p in passes)
    assert passes[0] != passes[1]
    pool = {d.tobytes() for d in documents(spec(**LONG), V, EOS, "train", 0, 50)}
    assert set(keys) == pool  # the first 50 fresh train documents
    later = documents(s, V, EOS, "train", 60, 60)
    assert [d.tobytes() for d in later] == keys[60:120]
    assert len({d.tobytes() for d in documents(s, V, EOS, "eval", 0, 175)}) > 50


@pytest.mark.parametrize("changes, match", [
    ({"eos_prob": 0.0}, "eos_prob=0.0"),
    ({"eos_prob": 1.0}, "eos_prob=1.0"),
    ({"order": 0}, "order=0"),
    ({"branching": 0}, "branching=0"),
    ({"repeat_fraction": 1.0}, "repeat_fraction=1.0"),
    ({"repeat_fraction": -0.1}, "repeat_fraction=-0.1"),
    ({"unique_documents": 0}, "unique_documents=0"),
    ({"unique_documents": 10, "repeat_fraction": 0.5}, "set one of them"),
    ({"zipf": -1.0}, "zipf=-1.0"),
    ({"seed": -1}, "seed=-1"),
    ({"order": 2.5}, "order=2.5"),
])
def test_bad_values_are_refused_naming_the_value(changes, match):
    with pytest.raises(ConfigError, match=match):
        spec(**changes)


def test_more_successors_than_non_eos_ids_is_refused():
    with pytest.raises(ConfigError, match=r"branching=64.*\[1, 63\]"):
        documents(spec(branching=V), V, EOS, "train", 0, 1)
    with pytest.raises(ConfigError, match="eos_id=64"):
        log_prob(spec(), V, V, np.array([1]))
    check_vocab(spec(branching=V - 1), V, EOS)  # before any data is made: every id but EOS is ok
    with pytest.raises(ConfigError, match=r"^data.vocab_size=1: the synthetic language needs"):
        check_vocab(spec(branching=1), 1, 0)


def test_from_config_takes_the_config_keys_and_the_manifest_has_the_entropy_rate():
    s = SyntheticSpec.from_config(seed=3, order=1, branching=2, eos_prob=0.5, zipf=0,
                                  repeat_fraction=0.25, unique_documents=None)
    assert s == SyntheticSpec(3, 1, 2, 0.5, 0.0, 0.25, None)
    with pytest.raises(ConfigError, match="data.synthetic.branchng: unknown key"):
        SyntheticSpec.from_config(branchng=2)
    manifest = json.loads(json.dumps(s.to_dict()))
    assert manifest["entropy_rate_nats"] == pytest.approx(1.5 * math.log(2))
    assert manifest["branching"] == 2 and manifest["mean_document_tokens"] == 2.0
    assert "entropy rate" in s.describe() and "25%" in s.describe()


def test_the_spec_has_no_defaults_of_its_own_the_config_tree_has_them():
    from sweep.config import to_typed
    from sweep.data.synthetic import synthetic_spec
    from tests.helpers import compose_config

    with pytest.raises(TypeError):
        SyntheticSpec(seed=1)  # every value comes from conf/data_common.yaml
    with pytest.raises(ConfigError, match="data.synthetic.repeat_fraction: missing"):
        SyntheticSpec.from_config(seed=1, order=1, branching=2, eos_prob=0.5, zipf=0.0)
    data = to_typed(compose_config("data=synthetic", "data.synthetic.order=3")).data
    assert synthetic_spec(data) == SyntheticSpec(seed=0, order=3, branching=8, eos_prob=0.01, zipf=1.0,
                                                 repeat_fraction=0.0, unique_documents=None)
