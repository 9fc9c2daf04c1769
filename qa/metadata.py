"""An article's metadata: field values checked (http(s) URLs, author names, one-line titles),
the sidecar (``qa-metadata.json``, its format in ``qa.ingest``'s docstring) read and applied,
and what is still missing guessed from the URL (title; publisher: the registered domain).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlparse

from .dates import parse_date
from .types import Document

SIDECAR_NAME = "qa-metadata.json"
SIDECAR_FIELDS = ("title", "url", "published", "author", "publisher")


class Sidecar(NamedTuple):
    """The sidecar's entries, keyed by doc id or file path, and warnings about what was ignored."""

    entries: dict[str, dict]
    warnings: list[str]


def load_sidecar(root: Path) -> Sidecar:
    """The sidecar's entries keyed by doc id or file path, and warnings about it."""
    path = Path(root) / SIDECAR_NAME
    if not path.is_file():
        return Sidecar({}, [])
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Sidecar({}, [f"{SIDECAR_NAME} is ignored: it cannot be read as JSON ({exc})"])
    if not isinstance(data, dict):
        return Sidecar({}, [f"{SIDECAR_NAME} is ignored: it must be a JSON object keyed by doc id"])
    entries, warnings = {}, []
    for key, value in data.items():
        if key.startswith("_"):
            continue
        if not isinstance(value, dict):
            warnings.append(f"{SIDECAR_NAME}: entry {key!r} is ignored: it must be an object")
            continue
        entry = {}
        for name, item in value.items():
            if name not in SIDECAR_FIELDS:
                warnings.append(f"{SIDECAR_NAME}: {key!r}: unknown field {name!r} is ignored "
                                f"(known: {', '.join(SIDECAR_FIELDS)})")
            elif not isinstance(item, str) or not item.strip():
                warnings.append(f"{SIDECAR_NAME}: {key!r}: {name} must be a non-empty string")
            elif name == "published" and not parse_date(item):
                warnings.append(f"{SIDECAR_NAME}: {key!r}: published {item!r} is not a date")
            elif name == "url" and not http_url(item.strip()):
                warnings.append(f"{SIDECAR_NAME}: {key!r}: url {item!r} is not an http(s) URL")
            else:
                entry[name] = parse_date(item) if name == "published" else item.strip()
        entries[key] = entry
    return Sidecar(entries, warnings)


def complete(doc: Document, sidecar: dict[str, dict]) -> Document:
    """``doc`` with the sidecar's values applied, and its missing title and publisher guessed."""
    for entry in (sidecar.get(doc.source, {}), sidecar.get(doc.doc_id, {})):
        for name, value in entry.items():
            if name in SIDECAR_FIELDS:  # a caller's own sidecar dict may hold other keys
                setattr(doc, name, value)
    if not doc.title:
        slug = [p for p in urlparse(doc.url or "").path.split("/") if p]
        words = re.split(r"[-_]+", re.sub(r"\.\w+$", "", slug[-1])) if slug else []
        guessed = len(words) >= 2 and not any(w.isdigit() for w in words)
        doc.title = " ".join(w.capitalize() for w in words) if guessed else ""
        doc.warnings.append("no headline found; title guessed from the URL" if guessed
                            else "no headline found")
    if not doc.publisher and doc.url:
        doc.publisher = publisher_from_url(doc.url)
    return doc


def publisher_from_url(url: str) -> str | None:
    """The registered domain of the URL's host (``www.bbc.co.uk`` -> ``bbc.co.uk``), by tldextract.

    tldextract's bundled copy of the Public Suffix List is used, offline (never fetched).
    None for a URL without a host, an IP address or a host with no registered domain.
    """
    try:
        host = (urlparse(url).hostname or "").lower()
    except ValueError:
        return None
    parts = _suffix_list()(host) if host else None
    return parts.top_domain_under_public_suffix or None if parts and parts.suffix else None


@lru_cache(maxsize=1)
def _suffix_list():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def author_name(value: str | None) -> str | None:
    """An author name as given, without a "By" and never a profile URL."""
    value = re.sub(r"(?i)^by\s+", "", value or "").strip()
    return value if value and not http_url(value) else None


def http_url(value: str | None) -> str | None:
    """``value`` if it is an http(s) URL with a host, else None."""
    try:
        return value if value and re.match(r"https?://\S+$", value) and urlparse(value).hostname \
            else None
    except ValueError:  # e.g. a broken [IPv6] host
        return None


def one_line(text: str) -> str:
    """``text`` on one line: runs of white space made one space."""
    return re.sub(r"\s+", " ", text).strip()
