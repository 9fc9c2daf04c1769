"""Answers "over time": the matching passages of different articles, ordered by their date.

A timeline answer holds one passage per article (its best-matching one), for the ``k`` best
matching articles, ordered by the article's publication date, oldest first; articles without
a date come last, in order of match, and are marked as undated where the answer is shown.
"""
from __future__ import annotations

from typing import Sequence

from .types import Passage

# How many ranked passages a timeline is chosen from, per passage it shows: enough that the
# best passages of one article do not crowd out the other articles.
DEPTH_PER_PASSAGE = 4


def one_per_article(passages: Sequence[Passage], k: int) -> list[Passage]:
    """The best passage of each article, best article first, at most ``k`` of them."""
    seen: set[str] = set()
    best = []
    for p in passages:
        if p.doc_id not in seen:
            seen.add(p.doc_id)
            best.append(p)
    return best[:k]


def by_date(passages: Sequence[Passage]) -> list[Passage]:
    """``passages`` ordered by their article's date, oldest first; undated ones last, in the
    order given (their order of match). Ties of date keep their order of match."""
    dated = sorted((p for p in passages if p.published), key=lambda p: p.published[:10])
    return dated + [p for p in passages if not p.published]


def timeline(passages: Sequence[Passage], k: int) -> list[Passage]:
    """The timeline of ranked ``passages``: one per article, ``k`` articles, by date."""
    return by_date(one_per_article(passages, k))
