"""Time in a question: the day it is asked (``as_of``) and the periods its words name.

News questions are asked about the days before they are asked: "this week", "recently", "new",
"last month", "in May", "last year". This module reads those words against ``as_of`` with
dateparser's ``search_dates`` (a maintained parser; it runs offline) and turns them, with a
default recency, into a *soft* preference for articles published in those periods
(``TimePrior``): a bonus added to a candidate's blend, never a filter. An article published
after ``as_of`` gets no bonus, and neither does one without a date.

dateparser is only asked when a cheap pattern finds a word it could read (a month, a weekday,
"week", "year", "ago", a year number...): most questions have none, and their ask pays nothing.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple

import numpy as np

_MONTHS = ("january february march april may june july august september october november "
           "december jan feb mar apr jun jul aug sep sept oct nov dec").split()
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
# Words dateparser may read as a time; without one of them it is not asked.
_TRIGGER = re.compile(
    r"\b(?:today|tonight|yesterday|ago|week|weekend|month|year|decade|"
    + "|".join(_MONTHS + _WEEKDAYS) + r"|(?:19|20)\d\d)\b", re.IGNORECASE)
# Words that say "lately" without naming a period: the recent window, weighted as a named one.
_RECENT = re.compile(r"\b(?:recent|recently|lately|latest|new|newly|just|this week|so far)\b",
                     re.IGNORECASE)
_MONTH_WORD = re.compile(r"\b(?:" + "|".join(_MONTHS) + r")\b", re.IGNORECASE)
_DAY_NUMBER = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\b")
_YEAR_NUMBER = re.compile(r"\b(?:19|20)\d\d\b")


def as_of_day(value: Any = None) -> dt.date:
    """The day a question is asked: ``None`` is today; a ``date`` or a ``"YYYY-MM-DD"`` string.

    Raises ``ValueError`` with a message for the user otherwise.
    """
    if value is None or value == "":
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"as_of must be a day written YYYY-MM-DD (like 2022-06-16), got {value!r}")


def typed_day(value: Any) -> str | None:
    """The day as a form or a request gave it: its text stripped, None when blank (today)."""
    if value is None:
        return None
    return str(value).strip() or None


def day_number(day: dt.date) -> int:
    """Days since 0001-01-01: the unit of ``TimePrior`` and of ``published_days``."""
    return day.toordinal()


def published_days(published: Iterable[str | None]) -> np.ndarray:
    """Each article's publication day as ``day_number`` (float), NaN where it has none."""
    out = []
    for p in published:
        try:
            out.append(float(dt.date.fromisoformat(str(p)[:10]).toordinal()) if p else np.nan)
        except ValueError:
            out.append(np.nan)
    return np.asarray(out, dtype="float64")


class Window(NamedTuple):
    """A period a question names, first and last day inclusive, and the words that named it."""

    first: dt.date
    last: dt.date
    words: str


def _month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def _window_of(words: str, found: dt.date, as_of: dt.date) -> Window | None:
    """The period that ``words`` (read by dateparser as ``found``) names, ending by ``as_of``."""
    text = words.lower()
    if found > as_of:
        return None  # a future date: nothing published after as_of is preferred
    if "year" in text or (_YEAR_NUMBER.search(text) and not _MONTH_WORD.search(text)):
        first, last = dt.date(found.year, 1, 1), dt.date(found.year, 12, 31)
    elif "month" in text or (_MONTH_WORD.search(text) and not _DAY_NUMBER.search(text)):
        first, last = _month_bounds(found)
    elif "week" in text:
        first, last = (found - dt.timedelta(days=7), found) if found == as_of else \
            (found - dt.timedelta(days=3), found + dt.timedelta(days=4))
    elif "decade" in text:
        return None  # too wide to prefer anything
    else:  # a day: the article appears that day or the next ones
        first, last = found - dt.timedelta(days=1), found + dt.timedelta(days=2)
    return Window(first, min(last, as_of), words)


_SEARCH_SETTINGS = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}


def named_windows(question: str, as_of: dt.date) -> list[Window]:
    """The periods ``question`` names, read against ``as_of`` (dateparser's ``search_dates``).

    dateparser reads the few words around each time word (two either side), not the whole
    question: its cost grows with the text (about 3-8 ms a phrase here), and the same phrase on
    the same day ("last month", "in May") is read once per process (``_read``'s cache).
    """
    windows = []
    recent = _RECENT.search(question)
    if recent:
        windows.append(Window(as_of - dt.timedelta(days=7), as_of, recent.group(0)))
    if not _TRIGGER.search(question):
        return windows
    words = question.split()
    seen = set()
    for i, word in enumerate(words):
        if not _TRIGGER.search(word):
            continue
        phrase = " ".join(words[max(0, i - 2):i + 3])
        if phrase in seen:
            continue
        seen.add(phrase)
        for found_words, when in _read(phrase, as_of):
            triggers = [m.group(0) for m in _TRIGGER.finditer(found_words)]
            if not triggers or all(t.lower() == "may" and t != "May" for t in triggers):
                continue  # dateparser also reads "now" or the verb "may"; only the triggers count
            window = _window_of(found_words, when, as_of)
            if window is not None and window not in windows:
                windows.append(window)
    return windows


@functools.lru_cache(maxsize=8192)
def _read(phrase: str, as_of: dt.date) -> tuple[tuple[str, dt.date], ...]:
    """What dateparser finds in ``phrase`` read on ``as_of``: (words, day) pairs."""
    from dateparser.search import search_dates

    base = dt.datetime.combine(as_of, dt.time(12))
    try:
        found = search_dates(phrase, languages=["en"],
                             settings={**_SEARCH_SETTINGS, "RELATIVE_BASE": base}) or []
    except Exception:  # noqa: BLE001 - a parser failure must not fail the question
        found = []
    return tuple((words, when.date()) for words, when in found)


def warm() -> None:
    """Load dateparser's language data now (about a second) rather than on the first question."""
    _read("last week", dt.date(2000, 1, 8))


@dataclass(frozen=True)
class TimePrior:
    """The time bonus of articles for one question: ``recency * r(day) + named * w(day)``.

    ``r`` is 1 for an article of the ``recent_days`` before ``as_of`` and falls off as
    ``exp(-days / decay_days)`` further back; ``w`` is the same over the periods the question
    names (its best window). Both are 0 after ``as_of`` and for articles without a date.
    """

    as_of: int  # day_number
    windows: tuple[tuple[int, int], ...]
    recency: float
    named: float
    recent_days: float
    decay_days: float

    @classmethod
    def of(cls, question: str, as_of: Any, *, recency: float, named: float, recent_days: float,
           decay_days: float) -> "TimePrior":
        day = as_of_day(as_of)
        windows = tuple((day_number(w.first), day_number(w.last)) for w in named_windows(question, day))
        return cls(day_number(day), windows, recency, named, recent_days, decay_days)

    def _closeness(self, days: np.ndarray, first: float, last: float) -> np.ndarray:
        gap = np.where(days < first, first - days, np.where(days > last, days - last, 0.0))
        return np.exp(-gap / self.decay_days)

    def bonus(self, days: np.ndarray) -> np.ndarray:
        """The bonus of articles published on ``days`` (``day_number``, NaN: undated)."""
        days = np.asarray(days, dtype="float64")
        out = np.zeros(len(days), dtype="float64")
        known = ~np.isnan(days) & (days <= self.as_of)
        if not known.any():
            return out.astype("float32")
        d = days[known]
        score = self.recency * self._closeness(d, self.as_of - self.recent_days, self.as_of)
        if self.windows and self.named:
            score = score + self.named * np.max(
                [self._closeness(d, a, b) for a, b in self.windows], axis=0)
        out[known] = score
        return out.astype("float32")
