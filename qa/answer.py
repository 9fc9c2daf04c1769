"""Shaping an answer: passages from ranked chunks, deduplicated, each with its best sentence."""
from __future__ import annotations

import re

from .lexical import tokenize

# A sentence ends at . ! ? (and closing quotes/brackets after them) followed by white space,
# or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+|\n+")


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, trimmed of surrounding white space."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        closing = match.group(0)
        end = match.start() + len(closing) - len(closing.lstrip("\"'”’)]"))
        _append(spans, text, start, end)
        start = match.end()
    _append(spans, text, start, len(text))
    return spans or [(0, len(text))]


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def best_sentence(text: str, weights: dict[str, float]) -> tuple[int, int]:
    """The sentence of ``text`` holding the most query-term weight (the first one on ties).

    ``weights`` maps stemmed query terms to their weight (IDF, lowered for history terms);
    each term counts once per sentence, so a sentence that names more of the question wins
    over one that repeats a single word. A little length normalisation keeps a long
    sentence from winning only by being long.
    """
    spans = sentences(text)
    best, best_score = spans[0], 0.0
    for start, end in spans:
        terms = set(tokenize(text[start:end]))
        score = sum(w for t, w in weights.items() if t in terms)
        score /= (1.0 + 0.002 * (end - start))
        if score > best_score + 1e-9:
            best, best_score = (start, end), score
    return best


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
