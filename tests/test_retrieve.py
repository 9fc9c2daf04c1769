"""Retrieval's pieces: each candidate's best sentence, with the blend's weights (no model), and the
lede bonus over the real sample index."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from qa import Engine, retrieve
from qa.retrieve import BestSentence, SentenceTable, follow_up_weights
from qa.settings import Blend, Settings

QA = Path(__file__).resolve().parent.parent / "qa"


def table(blend: Blend = Blend()) -> SentenceTable:
    # Three chunks of 2, 3 and 1 sentences, ranked 2, 0, 1.
    ids = np.array([0, 1, 2, 3, 4, 5])
    sims = np.array([0.5, 0.4, 0.1, 0.2, 0.3, 0.9], dtype="float32")
    lex = np.array([0.0, 4.0, 8.0, 0.0, 0.0, 1.0], dtype="float32")
    rows = np.array([[0, 0, 10], [0, 11, 20], [1, 30, 40], [1, 41, 50], [1, 51, 60], [2, 70, 80]], dtype="int32")
    return SentenceTable(ids, np.array([2, 3, 1]), sims, lex, np.array([2, 0, 1]), rows, blend)


def test_the_best_sentence_blends_cosine_and_bm25_over_the_best_bm25_of_all_candidates():
    t = table()
    assert t.best_lexical() == 8.0
    # chunk 0: 0.65*0.5 + 0.1*0 = 0.325 vs 0.65*0.4 + 0.1*0.5 = 0.31: sentence 0
    assert t.best(1) == BestSentence(0, 0, 10)
    # chunk 1: 0.065 + 0.1 = 0.165, 0.13, 0.195: sentence 4
    assert t.best(2) == BestSentence(4, 51, 60)
    assert t.best(0) == BestSentence(5, 70, 80)
    # The same weights as the hybrid's sentence signals: weigh BM25 alone and it wins.
    bm25_only = table(Blend(sentence=0.0, sentence_bm25=1.0))
    assert bm25_only.best(1).id == 1 and bm25_only.best(2).id == 2


def test_a_follow_up_weighs_terms_only_its_earlier_question_has_less():
    assert follow_up_weights("Where is it?", []) is None
    weights = follow_up_weights("Which city is the most popular?", ["How long is the border with China?"])
    assert weights and set(weights.values()) == {0.5}
    assert "border" in weights and "city" not in weights


def test_the_engine_imports_neither_the_store_nor_the_lexical_module():
    tree = ast.parse((QA / "engine.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not {"store", "lexical", "qa.store", "qa.lexical"} & (imported | names)


def test_the_lede_weight_raises_the_hybrid_ranking_of_chunks_that_open_their_article_and_nothing_else(
        sample_index, encoder):
    assert Settings().lede_weight == 0.0  # measured, kept off (README "On real news")
    plain, lede = Engine.open(sample_index), Engine.open(sample_index, lede_weight=0.25)
    assert lede.settings.lede_weight == 0.25
    question = "Which border did the smugglers cross?"
    vec = encoder.encode([question])[0]
    a, b = plain.retriever.search(vec, question, "hybrid"), lede.retriever.search(vec, question, "hybrid")
    assert sorted(a.rows.tolist()) == sorted(b.rows.tolist())
    score_a, score_b = dict(zip(a.rows.tolist(), a.scores)), dict(zip(b.rows.tolist(), b.scores))
    conf_a, conf_b = dict(zip(a.rows.tolist(), a.confidence)), dict(zip(b.rows.tolist(), b.confidence))
    opens = {r: plain.chunk_span[r, 0] == 0 for r in a.rows.tolist()}
    assert any(opens.values()) and not all(opens.values())
    for r in a.rows.tolist():
        assert abs(score_b[r] - score_a[r] - (0.25 if opens[r] else 0.0)) < 1e-5
        assert abs(conf_b[r] - conf_a[r]) < 1e-6  # the abstention signal stays the blend
    for mode in ("dense", "bm25"):  # a hybrid lever only
        assert np.array_equal(plain.retriever.search(vec, question, mode).scores,
                              lede.retriever.search(vec, question, mode).scores)


def test_the_headline_weight_adds_the_share_of_the_query_idf_in_the_headline_to_the_hybrid_ranking(
        sample_index, encoder):
    from qa.lexical import tokenize

    assert Settings().headline_weight == 0.0  # measured, kept off (README "On real news")
    plain, head = Engine.open(sample_index), Engine.open(sample_index, headline_weight=0.5)
    title = plain.docs.meta[0].title
    question = f"What did {' '.join(title.split()[:3])} say about the police and the government?"
    vec = encoder.encode([question])[0]
    terms = plain.retriever.query_terms(question)
    assert len(terms.words) >= 4  # terms of the headline and terms of other articles
    a, b = plain.retriever.search(vec, question, "hybrid", terms=terms), \
        head.retriever.search(vec, question, "hybrid", terms=terms)
    vocab, idf = plain.retriever.bm25.vocab, plain.retriever.bm25.idf
    score_a, score_b = dict(zip(a.rows.tolist(), a.scores)), dict(zip(b.rows.tolist(), b.scores))
    conf_a, conf_b = dict(zip(a.rows.tolist(), a.confidence)), dict(zip(b.rows.tolist(), b.confidence))
    gains = []
    for r in a.rows.tolist():
        in_title = {vocab[t] for t in tokenize(plain.docs.meta[plain.chunk_doc[r]].title) if t in vocab}
        share = sum(idf[c] for c in terms.words if c in in_title) / sum(idf[c] for c in terms.words)
        assert abs(score_b[r] - score_a[r] - 0.5 * share) < 1e-5
        assert abs(conf_b[r] - conf_a[r]) < 1e-6  # the abstention signal stays the blend
        gains.append(share)
    assert max(gains) > 0 and min(gains) == 0  # some headlines share the question's words, some not
    assert np.array_equal(plain.retriever.search(vec, question, "bm25").scores,
                          head.retriever.search(vec, question, "bm25").scores)


HYBRID_QUESTIONS = ("seafood smuggled into Dandong", "Who is Mr. Kim?", "What is Room 39?",
                    "Where along the border is smuggling most active?", "North Korean workers in China")


def _found(engine, vec, question, allowed_docs=None) -> tuple:
    c = engine.retriever.search(vec, question, "hybrid", allowed_docs)
    return c.rows.tolist(), c.scores.tolist(), c.lexical.tolist(), c.signals.tolist()


def _bm25_threads() -> set[str]:
    import threading

    return {t.name for t in threading.enumerate() if t.name.startswith("qa-bm25")}


def test_bm25_beside_the_dense_search_finds_what_bm25_after_it_finds(sample_index, encoder, monkeypatch):
    # The sample's questions post to far fewer chunks than BESIDE_POSTINGS: with it at 0 every
    # hybrid search sums its BM25 on the threads beside FAISS, and must rank the same. Five
    # candidates per signal, so that each signal's top decides which chunks are candidates.
    import threading

    engine = Engine.open(sample_index, candidates=5)
    engine._encoder = encoder

    ran_on: list[str] = []
    lexical = retrieve.Retriever._lexical

    def recorded(self, *args):
        ran_on.append(threading.current_thread().name)
        return lexical(self, *args)

    monkeypatch.setattr(retrieve.Retriever, "_lexical", recorded)
    vecs = engine.encoder.encode(list(HYBRID_QUESTIONS))
    some = np.arange(len(engine.docs.meta)) % 2 == 0  # a filter: every other article
    asked = [(v, q, docs) for v, q in zip(vecs, HYBRID_QUESTIONS) for docs in (None, some)]
    monkeypatch.setattr(retrieve, "BESIDE_POSTINGS", 10**12)
    after = [_found(engine, *a) for a in asked]
    assert ran_on == [threading.current_thread().name] * len(asked)
    monkeypatch.setattr(retrieve, "BESIDE_POSTINGS", 0)
    ran_on.clear()
    beside = [_found(engine, *a) for a in asked]
    assert len(ran_on) == len(asked) and all(name.startswith("qa-bm25") for name in ran_on)
    assert all(rows for rows, *_ in after) and after[0] != after[1] and beside == after


def test_hybrid_searches_from_many_threads_at_once_find_what_each_finds_alone(sample_engine, monkeypatch):
    # Each search's BM25 runs on the shared threads beside its FAISS search, its sums in arrays
    # kept between questions: sixteen at once must not see one another's.
    import concurrent.futures

    monkeypatch.setattr(retrieve, "BESIDE_POSTINGS", 0)
    vecs = sample_engine.encoder.encode(list(HYBRID_QUESTIONS))
    alone = [_found(sample_engine, v, q) for v, q in zip(vecs, HYBRID_QUESTIONS)]
    assert len({tuple(rows) for rows, *_ in alone}) == len(alone)
    jobs = [(i % len(alone)) for i in range(80)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        together = list(pool.map(lambda i: _found(sample_engine, vecs[i], HYBRID_QUESTIONS[i]), jobs))
    assert together == [alone[i] for i in jobs]


def test_a_forked_child_searches_with_threads_of_its_own(sample_engine, monkeypatch):
    # A forked child has none of its parent's threads: a search there must not wait on them.
    import multiprocessing

    monkeypatch.setattr(retrieve, "BESIDE_POSTINGS", 0)
    vec = sample_engine.encoder.encode([HYBRID_QUESTIONS[0]])[0]
    parent = _found(sample_engine, vec, HYBRID_QUESTIONS[0])  # the parent's threads exist now
    assert _bm25_threads()
    out = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(
        target=lambda: out.put(_found(sample_engine, vec, HYBRID_QUESTIONS[0])))
    child.start()
    child.join(30)
    if child.is_alive():
        child.kill()
        raise AssertionError("the forked child's search never ended")
    assert child.exitcode == 0 and out.get(timeout=5) == parent
