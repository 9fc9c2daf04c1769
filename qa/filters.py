"""Search filters: which documents a filter allows, and the dates filters are given as."""
from __future__ import annotations

import datetime
import re

import numpy as np

from .store import DocMeta

FILTERS = ("source", "publisher", "after", "before", "undated")
WHOLE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def doc_mask(meta: list[DocMeta], filters: dict | None) -> np.ndarray | None:
    """Which documents a filter allows (None: all of them).

    Filters: ``source`` (doc-id prefix, or a list of them), ``publisher`` (a name or a list),
    ``after``/``before`` (ISO dates, inclusive), ``undated`` (whether documents without a date
    are searched under a date filter: by default they are, since their date is unknown, not
    outside the range; ``False`` leaves them out).
    """
    if not filters:
        return None
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"Unknown filter {sorted(unknown)}: use {', '.join(FILTERS)}")
    mask = np.ones(len(meta), dtype=bool)
    sources = _as_list(filters.get("source"))
    if sources:
        mask &= np.array([any(m.doc_id.startswith(s) for s in sources) for m in meta], dtype=bool)
    publishers = {p.casefold() for p in _as_list(filters.get("publisher"))}
    if publishers:
        mask &= np.array([(m.publisher or "").casefold() in publishers for m in meta], dtype=bool)
    after, before = iso_date(filters.get("after"), "after"), iso_date(filters.get("before"), "before")
    if after or before:
        dates = [(m.published or "")[:10] for m in meta]
        keep_undated = undated_wanted(filters)
        mask &= np.array([keep_undated if not d else (not after or d >= after) and (not before or d <= before)
                          for d in dates], dtype=bool)
    return mask


def undated_wanted(filters: dict | None) -> bool:
    """Whether undated documents are searched under a date filter (``undated``, default True)."""
    value = (filters or {}).get("undated", True)
    if isinstance(value, str):
        if value.strip().lower() not in ("true", "false", "yes", "no", "1", "0", ""):
            raise ValueError(f"Filter 'undated' must be true or false, not {value!r}")
        return value.strip().lower() in ("true", "yes", "1", "")
    return bool(value) if value is not None else True


def undated_searched(meta: list[DocMeta], mask: np.ndarray | None, filters: dict | None) -> int | None:
    """How many documents without a date a date filter let through (None: no date filter)."""
    if not filters or not (filters.get("after") or filters.get("before")):
        return None
    return sum(1 for i, m in enumerate(meta) if not m.published and (mask is None or mask[i]))


def iso_date(value, name: str, whole: bool = False) -> str | None:
    """``value`` as ``YYYY-MM-DD`` (None when empty); ``ValueError`` naming the filter ``name``
    when it is no date.

    ``whole``: the text must be exactly a date (the chat's date boxes); otherwise its first ten
    characters are read (the API takes ``2019-01-31T08:00`` as 2019-01-31).
    """
    if not value:
        return None
    text = str(value).strip()
    try:
        if whole and not WHOLE_DATE.fullmatch(text):
            raise ValueError
        return datetime.date.fromisoformat(text if whole else text[:10]).isoformat()
    except ValueError:
        raise ValueError(f"Filter {name!r} must be a date like 2019-01-31, not {text!r}") from None


def _as_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]
