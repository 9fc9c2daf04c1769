"""Dates: a calendar date found in text or read from a date field, as ``YYYY-MM-DD``."""
from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import NamedTuple

MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
DATE_PATTERNS = [
    (re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), ("y", "m", "d")),
    (re.compile(_MON + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.I), ("b", "d", "y")),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + _MON + r",?\s+(\d{4})\b", re.I), ("d", "b", "y")),
    (re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일"), ("y", "m", "d")),
]


class FoundDate(NamedTuple):
    """A date found in text: ``YYYY-MM-DD``, and where the text wrote it."""

    iso: str
    match: re.Match


def find_date(text: str) -> FoundDate | None:
    """The first full calendar date (with a year) in ``text``, as ``YYYY-MM-DD``."""
    found = []
    for pattern, order in DATE_PATTERNS:
        for match in pattern.finditer(text):
            parts = dict(zip(order, match.groups()))
            month = MONTHS[parts["b"][:3].lower()] if "b" in parts else 0
            try:
                day = dt.date(int(parts["y"]), month or int(parts.get("m", 0)), int(parts["d"]))
            except ValueError:
                continue
            if 1900 <= day.year <= 2100:
                found.append((match.start(), day.isoformat(), match))
                break
    return FoundDate(*min(found)[1:]) if found else None


def parse_date(value: object) -> str | None:
    """An ISO date ``YYYY-MM-DD`` from a date field (ISO, RFC 2822, written out, epoch)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        if 1e8 < seconds < 5e9:
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date().isoformat()
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return email.utils.parsedate_to_datetime(value.strip()).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    found = find_date(value)
    return found.iso if found else None

