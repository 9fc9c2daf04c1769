"""BM25: tokenisation, scoring against a hand-computed value, incremental row stacking."""
from __future__ import annotations

import math

import numpy as np

from qa.lexical import BM25, count_matrix, load_counts, save_counts, stack_rows, tokenize


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize("The smugglers were smuggling minerals") == ["smuggler", "smuggl", "miner"]


def test_bm25_matches_the_formula():
    texts = ["coal coal border", "border river", "seafood"]
    bm = BM25.from_texts(texts)
    scores = bm.scores("coal")
    n, df, k1, b = 3, 1, 1.2, 0.75
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    avg = (3 + 2 + 1) / 3
    expected = idf * 2 * (k1 + 1) / (2 + k1 * (1 - b + b * 3 / avg))
    assert abs(scores[0] - expected) < 1e-5
    assert scores[1] == 0 and scores[2] == 0


def test_stacked_rows_equal_a_fresh_index(tmp_path):
    vocab: dict[str, int] = {}
    first = count_matrix(["coal border", "river fish"], vocab)
    save_counts(tmp_path, first, vocab)
    old, old_vocab = load_counts(tmp_path)
    second = count_matrix(["new words about coal"], old_vocab)
    merged = stack_rows([old[[1]], second], len(old_vocab))
    fresh = BM25.from_texts(["river fish", "new words about coal"])
    inc = BM25(merged, old_vocab)
    for q in ("coal", "river", "words"):
        assert np.allclose(np.sort(inc.scores(q)), np.sort(fresh.scores(q)), atol=1e-5)


def test_scores_of_some_rows_equal_the_full_scores():
    bm = BM25.from_texts(["coal coal border river", "border river fish", "seafood", "coal seafood border border"])
    rows = np.array([3, 0, 2, 1])
    for query in ("coal border", "seafood fish", "nothing here"):
        assert np.allclose(bm.scores(query)[rows], bm.scores_of(bm.query_terms(query), rows))
    assert len(bm.scores_of(bm.query_terms("coal"), np.array([], dtype="int64"))) == 0


def test_the_mapped_index_with_stored_statistics_scores_as_one_made_in_memory(tmp_path):
    from qa.lexical import open_bm25

    texts = ["coal coal border river", "border river fish", "seafood", "coal seafood border border", ""]
    vocab: dict[str, int] = {}
    counts = count_matrix(texts, vocab)
    save_counts(tmp_path, counts, vocab)
    save_counts(tmp_path, count_matrix(texts, None), None, prefix="pair_bm25")
    mapped, memory = open_bm25(tmp_path, "bm25", vocab, 0.9, 0.4), BM25(counts, vocab, 0.9, 0.4)
    assert mapped.postings._files and mapped.postings._rows is None  # read from the files, per question
    rows = np.array([4, 2, 0])
    for query in ("coal border", "seafood fish", "river river", "nothing here"):
        assert np.allclose(mapped.scores(query), memory.scores(query))
        assert np.allclose(mapped.scores_of(mapped.query_terms(query), rows), memory.scores_of(memory.query_terms(query), rows))
    pairs = open_bm25(tmp_path, "pair_bm25", None, 0.9, 0.4, pairs=True)
    assert np.allclose(pairs.scores_of(pairs.query_terms("coal border river"), np.arange(5)),
                       BM25(count_matrix(texts, None), None, 0.9, 0.4, pairs=True).scores("coal border river"))
    # The posting lists give the scores of row ranges (sentences of candidate chunks, one pair row
    # per candidate) equal to reading the rows themselves, ranges in any order, empty ones too.
    lo, hi = np.array([3, 0, 2, 4]), np.array([5, 2, 2, 5])
    ids = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
    for query in ("coal border", "seafood fish", "river river", "coal border river", "nothing here"):
        terms = mapped.query_terms(query)
        assert np.allclose(mapped.scores_in_ranges(terms, lo, hi), memory.scores_of(terms, ids))
        assert np.allclose(mapped.scores_in_ranges(terms, lo, hi, idf=memory.idf * 2),
                           memory.scores_of(terms, ids, idf=memory.idf * 2))
        mapped.prefetch(terms)  # a hint to the kernel: nothing to see but no error
        pair_terms = pairs.query_terms(query)
        pairs.prefetch(pair_terms)
        assert np.allclose(pairs.scores_in_ranges(pair_terms, ids, ids + 1), pairs.scores_of(pair_terms, ids))
    assert len(mapped.scores_in_ranges(mapped.query_terms("coal"), np.zeros(0), np.zeros(0))) == 0


def test_posting_lists_of_large_random_counts_score_ranges_as_the_rows_do():
    import scipy.sparse as sp

    rng = np.random.default_rng(7)
    counts = sp.random(3000, 200, density=0.05, format="csr", random_state=8, dtype="float64")
    counts.data = rng.integers(1, 5, size=counts.nnz).astype("int32")
    counts = counts.astype("int32")
    bm = BM25(counts, {str(i): i for i in range(200)}, 0.9, 0.4)
    starts = np.sort(rng.choice(2990, size=150, replace=False))
    lo, hi = starts, starts + rng.integers(0, 8, size=150).clip(max=np.diff(np.append(starts, 3000)))
    order = rng.permutation(150)
    lo, hi = lo[order], hi[order]
    ids = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
    terms = {int(c): float(w) for c, w in zip(rng.choice(200, 12, replace=False), rng.uniform(0.5, 2, 12))}
    assert np.allclose(bm.scores_in_ranges(terms, lo, hi), bm.scores_of(terms, ids), atol=1e-5)
    assert np.allclose(bm.scores_in_ranges(terms, ids, ids + 1), bm.scores_all(terms)[ids], atol=1e-5)


def test_stored_impacts_score_as_the_counts_do_and_only_for_their_own_k1_b(tmp_path):
    from qa.lexical import open_bm25

    texts = ["coal coal border river", "border river fish", "seafood", "coal seafood border border", "",
             "river river river coal"]
    vocab: dict[str, int] = {}
    counts = count_matrix(texts, vocab)
    save_counts(tmp_path, counts, vocab, impacts=(0.9, 0.4))
    same = open_bm25(tmp_path, "bm25", vocab, 0.9, 0.4)
    other = open_bm25(tmp_path, "bm25", vocab, 1.2, 0.75)
    assert same.postings.has_impacts and not other.postings.has_impacts
    for query in ("coal border", "seafood fish", "river river", "nothing here", "coal coal"):
        assert np.allclose(same.scores(query), BM25(counts, vocab, 0.9, 0.4).scores(query), atol=1e-5)
        assert np.allclose(other.scores(query), BM25(counts, vocab, 1.2, 0.75).scores(query), atol=1e-5)
        assert same.scores(query).dtype == np.float32
