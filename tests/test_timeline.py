"""A timeline: one passage per article, ordered by the article's date, undated last."""
from __future__ import annotations

from qa.timeline import by_date, one_per_article, timeline
from qa.types import Passage


def passage(doc_id: str, published: str | None, score: float) -> Passage:
    return Passage(text="t", score=score, doc_id=doc_id, title=doc_id, url=None, published=published,
                   start=0, end=1, highlight=(0, 1))


def test_one_passage_per_article_by_date_undated_last():
    ranked = [passage("b", "2020-05-01", 0.9), passage("b", "2020-05-01", 0.8), passage("u1", None, 0.7),
              passage("a", "2018-01-02T10:00", 0.6), passage("u2", None, 0.5), passage("c", "2019-07-01", 0.4)]
    assert [p.doc_id for p in one_per_article(ranked, 10)] == ["b", "u1", "a", "u2", "c"]
    assert [p.doc_id for p in timeline(ranked, 10)] == ["a", "c", "b", "u1", "u2"]
    assert [p.score for p in timeline(ranked, 10)][2] == 0.9  # the article's best passage
    assert [p.doc_id for p in timeline(ranked, 3)] == ["a", "b", "u1"]  # the 3 best articles, by date
    assert by_date([]) == []
