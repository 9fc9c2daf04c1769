"""The Python API end to end: real model, real FAISS, the sample corpus."""
from __future__ import annotations

import json

import pytest
from engine_fixtures import encoder, sample_engine, sample_index  # noqa: F401

from qa import Engine, IndexProblem

pytestmark = pytest.mark.model

# One question per sample article, in words of our own, and the article that answers it.
QUESTIONS = [
    ("Which minerals made up most of the exports after Kim Jong-un's fourth trip to China?",
     "000_82916424e9c57ef5.txt"),
    ("How much cheaper has renting a Chinese boat become for North Korean traders?",
     "001_28f2545c660e1931.txt"),
    ("When did China ban seafood imports from North Korea?", "002_b64ff41df4f991e9.txt"),
    ("Why were Mr. Kim's clothing trucks stuck waiting in Hyesan?", "003_aa44470263f3cb35.txt"),
    ("How do Chinese ships contact North Korean vessels at sea to buy seafood?",
     "004_12c742a49eb0f3d4.txt"),
]


@pytest.mark.parametrize("question,doc_id", QUESTIONS)
def test_each_article_answers_its_question_first(sample_engine, question, doc_id):
    answer = sample_engine.ask(question, k=5)
    assert answer.passages[0].doc_id == doc_id
    assert not answer.abstained


@pytest.mark.parametrize("question,doc_id", QUESTIONS)
@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_single_modes_find_the_article(sample_engine, question, doc_id, mode):
    # Paraphrases defeat BM25 alone now and then: the single modes need only rank it in the top 3.
    answer = sample_engine.ask(question, k=3, mode=mode)
    assert doc_id in [p.doc_id for p in answer.passages]


def test_passages_cite_exact_offsets_and_highlight(sample_engine):
    answer = sample_engine.ask("What do the trading firms export to China?", k=5)
    assert 1 <= len(answer.passages) <= 5
    scores = [p.score for p in answer.passages]
    assert scores == sorted(scores, reverse=True)
    for p in answer.passages:
        doc = sample_engine.document(p.doc_id)
        assert doc.text[p.start:p.end] == p.text
        s, e = p.highlight
        assert 0 <= s < e <= len(p.text)
        assert p.title == doc.title
    json.dumps(answer.to_dict())  # serialisable


def test_no_two_passages_overlap_in_one_article(sample_engine):
    answer = sample_engine.ask("smuggling across the Yalu River", k=10)
    seen: dict[str, list[tuple[int, int]]] = {}
    for p in answer.passages:
        for s, e in seen.get(p.doc_id, []):
            assert p.end <= s or e <= p.start
        seen.setdefault(p.doc_id, []).append((p.start, p.end))


def test_follow_up_uses_history(sample_engine):
    first = "How long is the border between China and North Korea, and which rivers define it?"
    follow = "Which city outside it is the most popular spot?"
    answer = sample_engine.ask(follow, history=[first])
    assert answer.passages[0].doc_id == "004_12c742a49eb0f3d4.txt"
    assert "Hyesan" in answer.passages[0].text


def test_unrelated_question_abstains(sample_engine):
    answer = sample_engine.ask("What is the best recipe for chocolate chip cookies?")
    assert answer.abstained
    assert answer.passages  # the closest passages are still offered


def test_filters_by_source_and_date(sample_engine):
    answer = sample_engine.ask("smuggling on the border", k=5, filters={"source": "002_"})
    assert answer.passages and {p.doc_id for p in answer.passages} == {"002_b64ff41df4f991e9.txt"}
    dated = sample_engine.ask("smuggling on the border", k=10, filters={"after": "2020-01-01", "undated": False})
    assert dated.passages and dated.undated_searched == 0
    assert all(p.published and p.published >= "2020-01-01" for p in dated.passages)
    none = sample_engine.ask("smuggling", filters={"before": "1990-01-01", "undated": False})
    assert none.passages == [] and none.abstained
    # by default a date filter also searches the articles without a date, and says how many
    with_undated = sample_engine.ask("smuggling on the border", k=10, filters={"after": "2020-01-01"})
    undated = {m.doc_id for m in sample_engine.docs.meta if not m.published}
    assert with_undated.undated_searched == len(undated) == 3
    assert {p.doc_id for p in with_undated.passages} & undated
    assert all(not p.published or p.published >= "2020-01-01" for p in with_undated.passages)
    assert sample_engine.ask("smuggling").undated_searched is None  # no date filter


def test_history_is_used_only_by_a_question_that_needs_it(sample_engine):
    topic = "Which UN Security Council resolution banned North Korean seafood exports?"
    follow_up = sample_engine.ask("Who reported that?", history=[topic])
    assert follow_up.history_used == [topic] and topic in follow_up.query
    assert follow_up.passages[0].doc_id == "002_b64ff41df4f991e9.txt"
    assert follow_up.to_dict()["history_used"] == [topic]
    # a new topic after it is searched alone, exactly as if asked first
    new_topic = "How much cheaper has renting a Chinese boat become for North Korean traders?"
    after = sample_engine.ask(new_topic, history=[topic])
    alone = sample_engine.ask(new_topic)
    assert after.history_used == [] and after.query == new_topic
    assert [p.doc_id for p in after.passages] == [p.doc_id for p in alone.passages]
    assert alone.to_dict()["history_used"] == []


def test_timeline_orders_one_passage_per_article_by_date(sample_engine):
    answer = sample_engine.ask("smuggling between China and North Korea", k=5, timeline=True)
    ids = [p.doc_id for p in answer.passages]
    assert answer.timeline and len(ids) == len(set(ids)) == 5  # every sample article, once
    dates = [p.published for p in answer.passages]
    dated = [d for d in dates if d]
    assert dates[:len(dated)] == sorted(dated) and dates[len(dated):] == [None] * (5 - len(dated))
    assert answer.to_dict()["timeline"] is True


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "x" * 5000])
def test_bad_questions_get_a_clear_error(sample_engine, bad):
    with pytest.raises(ValueError) as err:
        sample_engine.ask(bad)
    assert "question" in str(err.value)


def test_bad_arguments(sample_engine):
    with pytest.raises(ValueError, match="mode"):
        sample_engine.ask("border", mode="magic")
    with pytest.raises(ValueError, match="k must"):
        sample_engine.ask("border", k=0)
    with pytest.raises(ValueError, match="date"):
        sample_engine.ask("border", filters={"after": "last spring"})


def test_document_lookup(sample_engine):
    doc = sample_engine.document("004_12c742a49eb0f3d4.txt")
    assert doc.url and doc.published and doc.title
    with pytest.raises(KeyError):
        sample_engine.document("../../etc/passwd")


def test_ask_many_matches_ask(sample_engine):
    qs = [q for q, _ in QUESTIONS]
    batch = sample_engine.ask_many(qs, k=3)
    for q, a in zip(qs, batch):
        single = sample_engine.ask(q, k=3)
        assert [p.doc_id for p in a.passages] == [p.doc_id for p in single.passages]


def test_sentence_vectors_past_the_memory_limit_are_read_from_disk_with_the_same_answers(sample_engine,
                                                                                         sample_index):
    from qa.store import RowReader

    on_disk = Engine.open(sample_index, sentence_vectors_in_memory_gb=0)
    assert isinstance(on_disk.retriever.sentence_vectors.codes, RowReader)
    assert not isinstance(sample_engine.retriever.sentence_vectors.codes, RowReader)  # the default: in memory
    for question, _ in QUESTIONS:
        a, b = on_disk.ask(question, k=5).to_dict(), sample_engine.ask(question, k=5).to_dict()
        a.pop("seconds"), b.pop("seconds")
        assert a == b


def test_open_missing_index_says_what_to_do(tmp_path):
    with pytest.raises(IndexProblem, match='run "qa build"'):
        Engine.open(tmp_path / "nowhere")
