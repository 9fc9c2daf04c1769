"""Sentences of a passage (the units the highlight and sentence scores are made of)."""
from __future__ import annotations

import re


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


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
