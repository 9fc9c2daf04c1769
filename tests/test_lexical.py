"""BM25: tokenisation, scores against the formula and against bm25s, stored files, the question's sums."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from qa.lexical import BM25, bigrams, count_matrix, load_counts, open_bm25, save_counts, stack_rows, tokenize

ROOT = Path(__file__).resolve().parent.parent


def _reference(bm: BM25, terms: dict[int, float]) -> np.ndarray:
    """Every row's BM25 for query ``terms``, in float64 straight from the counts (the textbook
    formula, none of the index's own statistics): what the index's scores must equal."""
    by_term = bm.counts.tocsc()
    n = by_term.shape[0]
    lengths = np.asarray(by_term.sum(axis=1), dtype="float64").ravel()
    norm = bm.k1 * (1 - bm.b + bm.b * lengths / max(lengths.mean(), 1e-9))
    out = np.zeros(n)
    for col, qtf in terms.items():
        tf = by_term[:, [col]].toarray().ravel().astype("float64")
        df = np.count_nonzero(tf)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        out += qtf * idf * tf * (bm.k1 + 1) / (tf + norm)
    return out


def _every_row(bm: BM25, query: str) -> np.ndarray:
    """Every row's score as the engine sums it (``QueryLists``)."""
    lists = bm.lists(bm.query_terms(query))
    scores = lists.of(np.arange(bm.size)).copy()
    lists.release()
    return scores


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize("The smugglers were smuggling minerals") == ["smuggler", "smuggl", "miner"]


def test_bm25_matches_the_formula():
    texts = ["coal coal border", "border river", "seafood"]
    vocab: dict[str, int] = {}
    bm = BM25(count_matrix(texts, vocab), vocab)
    n, df, k1, b = 3, 1, 1.2, 0.75
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    avg = (3 + 2 + 1) / 3
    expected = idf * 2 * (k1 + 1) / (2 + k1 * (1 - b + b * 3 / avg))
    terms = bm.query_terms("coal")
    for scores in (_every_row(bm, "coal"), bm.scores_in_ranges(terms, np.array([0]), np.array([3])),
                   bm.scores_of(terms, np.arange(3))):
        assert abs(scores[0] - expected) < 1e-5
        assert scores[1] == 0 and scores[2] == 0


def test_bm25_scores_equal_bm25s_on_the_sample_corpus(tmp_path):
    """Parity with a maintained implementation, bm25s, on the paragraphs of the shipped corpus and
    its questions: the same tokens (ours), k1 and b, bm25s's "atire" term weight
    tf·(k1+1)/(tf + k1·(1−b+b·length/average)) and its "lucene" IDF log(1+(n−df+0.5)/(df+0.5)),
    which are ours. Scored by the paths the engine takes: ``QueryLists`` (from the term weights
    the build stores, and from the counts), ``scores_in_ranges`` and ``scores_of``; and word pairs."""
    import bm25s

    texts = [p for f in sorted((ROOT / "corpus").glob("*.txt"))
             for p in f.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "tests" / "data" / "news_questions.jsonl").read_text(encoding="utf-8").splitlines()]
    questions += ["smuggling smuggling coal", "China China China border"]  # repeated terms add up
    tokens = [tokenize(t) for t in texts]
    pair_tokens = [[str(c) for c in bigrams(t)] for t in tokens]
    rng = np.random.default_rng(1)
    rows = rng.permutation(len(texts))[:40]
    starts = np.sort(rng.choice(len(texts) - 5, size=10, replace=False))
    lo, hi = starts, starts + rng.integers(0, 5, size=10)
    ids = np.concatenate([np.arange(a, c) for a, c in zip(lo, hi)])
    for k1, b in ((0.9, 0.4), (1.2, 0.75)):
        folder = tmp_path / f"{k1}-{b}"
        folder.mkdir()
        vocab: dict[str, int] = {}
        counts = count_matrix(texts, vocab)
        save_counts(folder, counts, vocab, impacts=(k1, b))
        save_counts(folder, count_matrix(texts, None), None, prefix="pair_bm25", impacts=(k1, b))
        stored, memory = open_bm25(folder, "bm25", vocab, k1, b), BM25(counts, vocab, k1, b)
        pairs = open_bm25(folder, "pair_bm25", None, k1, b, pairs=True)
        assert stored.postings.has_impacts and not memory.postings.has_impacts
        words, word_pairs = (bm25s.BM25(k1=k1, b=b, method="atire", idf_method="lucene") for _ in range(2))
        words.index(tokens, show_progress=False)
        word_pairs.index(pair_tokens, show_progress=False)
        matched = pairs_matched = 0
        for question in questions:
            want = words.get_scores(tokenize(question)).astype("float64")
            matched += want.max() > 0
            for bm in (stored, memory):
                terms = bm.query_terms(question)
                lists = bm.lists(terms)
                assert np.allclose(lists.of(np.arange(len(texts))), want, rtol=1e-5, atol=1e-6)
                top, best = lists.top(10), np.sort(want[want > 0])[::-1][:10]  # rows no term reaches left out
                assert len(top) == len(best) and np.allclose(want[top], best, rtol=1e-5, atol=1e-6)
                lists.release()
                assert np.allclose(bm.scores_in_ranges(terms, lo, hi), want[ids], rtol=1e-5, atol=1e-6)
                assert np.allclose(bm.scores_of(terms, rows), want[rows], rtol=1e-5, atol=1e-6)
            asked = [str(c) for c in bigrams(tokenize(question))]
            want_pairs = word_pairs.get_scores(asked).astype("float64") if asked else np.zeros(len(texts))
            pairs_matched += want_pairs.max() > 0
            pair_terms = pairs.query_terms(question)
            assert np.allclose(pairs.scores_in_ranges(pair_terms, rows, rows + 1), want_pairs[rows], rtol=1e-5, atol=1e-6)
            assert np.allclose(pairs.scores_in_ranges(pair_terms, lo, hi), want_pairs[ids], rtol=1e-5, atol=1e-6)
        assert matched > 0.9 * len(questions) and pairs_matched > 0.5 * len(questions)  # scores, not zeros


def test_stacked_rows_equal_a_fresh_index(tmp_path):
    vocab: dict[str, int] = {}
    first = count_matrix(["coal border", "river fish"], vocab)
    save_counts(tmp_path, first, vocab)
    old, old_vocab = load_counts(tmp_path)
    second = count_matrix(["new words about coal"], old_vocab)
    merged = stack_rows([old[[1]], second], len(old_vocab))
    fresh_vocab: dict[str, int] = {}
    fresh = BM25(count_matrix(["river fish", "new words about coal"], fresh_vocab), fresh_vocab)
    inc = BM25(merged, old_vocab)
    for q in ("coal", "river", "words"):
        assert np.allclose(_every_row(inc, q), _every_row(fresh, q), atol=1e-5)
        assert _every_row(fresh, q).any()


def test_scores_of_some_rows_equal_the_full_scores():
    vocab: dict[str, int] = {}
    bm = BM25(count_matrix(["coal coal border river", "border river fish", "seafood", "coal seafood border border"],
                           vocab), vocab)
    rows = np.array([3, 0, 2, 1])
    for query in ("coal border", "seafood fish", "nothing here"):
        terms = bm.query_terms(query)
        assert np.allclose(_reference(bm, terms)[rows], bm.scores_of(terms, rows))
    assert len(bm.scores_of(bm.query_terms("coal"), np.array([], dtype="int64"))) == 0


def test_the_mapped_index_with_stored_statistics_scores_as_one_made_in_memory(tmp_path):
    texts = ["coal coal border river", "border river fish", "seafood", "coal seafood border border", ""]
    vocab: dict[str, int] = {}
    counts = count_matrix(texts, vocab)
    save_counts(tmp_path, counts, vocab)
    save_counts(tmp_path, count_matrix(texts, None), None, prefix="pair_bm25")
    mapped, memory = open_bm25(tmp_path, "bm25", vocab, 0.9, 0.4), BM25(counts, vocab, 0.9, 0.4)
    assert mapped.postings._files and mapped.postings.rows is None  # read from the files, per question
    rows = np.array([4, 2, 0])
    for query in ("coal border", "seafood fish", "river river", "nothing here"):
        assert np.allclose(_every_row(mapped, query), _every_row(memory, query))
        assert np.allclose(_every_row(mapped, query), _reference(memory, memory.query_terms(query)))
        assert np.allclose(mapped.scores_of(mapped.query_terms(query), rows), memory.scores_of(memory.query_terms(query), rows))
    pairs = open_bm25(tmp_path, "pair_bm25", None, 0.9, 0.4, pairs=True)
    in_memory = BM25(count_matrix(texts, None), None, 0.9, 0.4, pairs=True)
    pair_terms = pairs.query_terms("coal border river")
    assert np.allclose(pairs.scores_of(pair_terms, np.arange(5)), _reference(in_memory, pair_terms))
    assert _reference(in_memory, pair_terms).any()
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
    assert np.allclose(bm.scores_in_ranges(terms, ids, ids + 1), _reference(bm, terms)[ids], atol=1e-5)


def test_stored_impacts_score_as_the_counts_do_and_only_for_their_own_k1_b(tmp_path):
    texts = ["coal coal border river", "border river fish", "seafood", "coal seafood border border", "",
             "river river river coal"]
    vocab: dict[str, int] = {}
    counts = count_matrix(texts, vocab)
    save_counts(tmp_path, counts, vocab, impacts=(0.9, 0.4))
    same = open_bm25(tmp_path, "bm25", vocab, 0.9, 0.4)
    other = open_bm25(tmp_path, "bm25", vocab, 1.2, 0.75)
    assert same.postings.has_impacts and not other.postings.has_impacts
    for query in ("coal border", "seafood fish", "river river", "nothing here", "coal coal"):
        for bm, k1, b in ((same, 0.9, 0.4), (other, 1.2, 0.75)):
            scores = _every_row(bm, query)
            assert scores.dtype == np.float32
            assert np.allclose(scores, _every_row(BM25(counts, vocab, k1, b), query), atol=1e-5)
            assert np.allclose(scores, _reference(bm, bm.query_terms(query)), atol=1e-5)


def test_the_term_weight_keeps_each_callers_rounding():
    """``term_weight`` serves the build's stored weights, the question's sums and the scores of
    rows: each in the order of products it always had (a different order moves scores by a bit)."""
    from qa.postings import term_weight

    rng = np.random.default_rng(2)
    counts = rng.integers(1, 9, size=2000).astype("int32")
    norms = rng.uniform(0.3, 3, size=2000).astype("float32")
    tf, k1 = counts.astype("float32"), 0.9
    scalar = np.float32(1.7) * np.float32(2.3)
    per_posting = rng.uniform(0.1, 5, size=2000).astype("float32")
    assert term_weight(counts, norms, k1).tobytes() == (tf * np.float32(k1 + 1) / (tf + norms)).tobytes()
    assert term_weight(counts, norms, k1, scalar).tobytes() == ((scalar * (k1 + 1)) * tf / (tf + norms)).tobytes()
    assert (term_weight(counts, norms, k1, per_posting).tobytes()
            == (per_posting * tf * (k1 + 1) / (tf + norms)).tobytes())
    for weight in (None, scalar, per_posting):
        assert term_weight(counts, norms, k1, weight).dtype == np.float32


def _zipf_counts(rows: int, cols: int, seed: int):
    """Term counts whose columns range from a term in most rows to terms in a handful, as in text."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    density = np.clip(0.6 / np.arange(1, cols + 1) ** 0.9, 2 / rows, 0.6)
    parts = [sp.random(rows, 1, density=d, format="csc", random_state=rng, dtype="float64") for d in density]
    counts = sp.hstack(parts, format="csr")
    counts.data = rng.integers(1, 6, size=counts.nnz).astype("float64")
    return counts.astype("int32")


def test_query_lists_find_the_top_rows_of_ranking_every_row(tmp_path):
    """``QueryLists.top`` ranks only the rows of a question's rarer terms when the frequent ones
    cannot change the top: the rows must be those of scoring and ranking every row."""
    counts = _zipf_counts(4000, 300, seed=3)
    vocab = {str(i): i for i in range(300)}
    save_counts(tmp_path, counts, vocab, impacts=(0.9, 0.4))
    stored, memory = open_bm25(tmp_path, "bm25", vocab, 0.9, 0.4), BM25(counts, vocab, 0.9, 0.4)
    assert stored.postings.has_impacts and not memory.postings.has_impacts
    rng = np.random.default_rng(4)
    for trial in range(60):
        cols = rng.choice(300, size=rng.integers(1, 9), replace=False, p=None)
        cols[0] = rng.integers(0, 5)  # a frequent term in every question
        terms = {int(c): float(rng.choice([1.0, 0.5, 2.0])) for c in cols}
        allowed = None if trial % 3 else rng.random(4000) < 0.3
        full = _reference(memory, terms)
        for bm in (stored, memory):
            for n in (1, 10, 100):
                lists = bm.lists(terms)
                top = lists.top(n, allowed)
                reach = full > 0 if allowed is None else (full > 0) & allowed
                want = np.sort(full[reach])[::-1][:n]
                assert len(top) == len(want)
                assert np.allclose(full[top], want, rtol=1e-5)  # the same scores, best first
                assert allowed is None or allowed[top].all()
                some = rng.integers(0, 4000, size=50)
                assert np.allclose(lists.of(some), full[some], rtol=1e-5, atol=0)
                lists.release()  # its array serves the next question, zeroed when taken


def test_query_lists_of_no_known_terms_and_reused_arrays(tmp_path):
    texts = ["coal coal border river", "border river fish", "seafood", "coal seafood border border"]
    vocab: dict[str, int] = {}
    counts = count_matrix(texts, vocab)
    save_counts(tmp_path, counts, vocab, impacts=(0.9, 0.4))
    bm = open_bm25(tmp_path, "bm25", vocab, 0.9, 0.4)
    empty = bm.lists({})
    assert len(empty.top(5)) == 0 and not empty.of(np.arange(4)).any()
    empty.release()
    for query in ("coal", "seafood fish", "coal", "river"):  # released arrays come back zeroed
        lists = bm.lists(bm.query_terms(query))
        scores = lists.of(np.arange(4))
        assert np.allclose(scores, _reference(bm, bm.query_terms(query)), rtol=1e-6)
        assert list(lists.top(2)) == list(np.argsort(-scores, kind="stable")[:2])
        lists.release()


def test_sentence_counts_read_into_memory_score_as_the_mapped_ones(tmp_path):
    counts = _zipf_counts(500, 60, seed=5)
    vocab = {str(i): i for i in range(60)}
    save_counts(tmp_path, counts, vocab)
    save_counts(tmp_path, counts, None, prefix="sent_bm25")
    mapped = open_bm25(tmp_path, "sent_bm25", vocab, 0.9, 0.4)
    resident = open_bm25(tmp_path, "sent_bm25", vocab, 0.9, 0.4, resident=True)
    assert resident.counts.data.dtype == np.uint8  # counts this small take a byte each
    rows = np.random.default_rng(6).integers(0, 500, size=300)
    for cols in ([0, 7, 30], [59], [1, 2, 3, 4]):
        terms = {c: 1.0 for c in cols}
        assert np.allclose(resident.scores_of(terms, rows), mapped.scores_of(terms, rows))


def test_query_lists_sum_the_same_without_scipys_loop(tmp_path, monkeypatch):
    """The sums fall back to ``np.bincount`` if scipy's sparse loop moves: the same scores."""
    import qa.postings as postings

    counts = _zipf_counts(800, 80, seed=8)
    vocab = {str(i): i for i in range(80)}
    save_counts(tmp_path, counts, vocab, impacts=(0.9, 0.4))
    bm = open_bm25(tmp_path, "bm25", vocab, 0.9, 0.4)
    terms = {0: 1.0, 9: 1.0, 40: 2.0, 79: 0.5}
    with_loop = bm.lists(terms)
    monkeypatch.setattr(postings, "_csc_matvec", None)
    without = bm.lists(terms)
    assert np.allclose(with_loop.scores, without.scores, rtol=1e-6)
    assert np.allclose(without.scores, _reference(bm, terms), rtol=1e-5)
    assert list(with_loop.top(20)) == list(without.top(20))
