"""A decoded file to its articles: the format judged by content (the extension is only a hint),
plain text, Markdown and HTML pages read here, JSON and JSON Lines handed to ``jsonfiles``.
"""
from __future__ import annotations

import json
import re

from .clean import clean_article
from .dates import parse_date
from .jsonfiles import field_text, json_documents, jsonl_documents, load_json
from .markup import markdown_to_text, parse_page, prepare_text
from .metadata import author_name, http_url, one_line
from .types import Document, Unusable


def detect_format(text: str, suffix: str = "") -> str:
    """``json``, ``jsonl``, ``html``, ``markdown`` or ``text``, judged by content."""
    head = text.lstrip()[:4096]
    lines = [x.strip() for x in text.strip().split("\n", 20)[:20] if x.strip()]
    if head.startswith("{") and (suffix == ".jsonl" or len(lines) > 1 and lines[1][:1] == "{"
                                 and _is_json(lines[0])):
        return "jsonl"
    if head.startswith("{") or re.match(r"\[\s*(\{|\[|\"|\]|-?\d|true|false|null)", head):
        return "json"
    if re.match(r"(<!--.*?-->\s*)*<(!doctype html|html|head|body|meta|title|article|div|p|h[1-6])\b",
                head, re.I | re.S) or len(re.findall(
                    r"<(p|div|article|section|h[1-6]|li|table|script|style|nav)\b", text[:50000],
                    re.I)) >= 5:
        return "html"
    if suffix in (".md", ".markdown") or re.match(r"(#\s+\S|---\n)", head) or len(
            re.findall(r"^#{1,6} \S|\]\(https?://", text, re.M)) >= 2:
        return "markdown"
    return "text"


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line, strict=False), dict)
    except (ValueError, RecursionError):
        return False


def parse_text(text: str, suffix: str, nbytes: int, warnings: list[str]) -> list[Document]:
    """The articles in a decoded file; file-level warnings are appended to ``warnings``.

    Each Document's ``doc_id`` is its part of the id inside the file: ``""`` for the whole
    file, ``"#key"`` for one record; ``read_file`` puts the file's path in front.
    """
    kind = detect_format(text, suffix)
    if kind == "jsonl":
        return jsonl_documents(text, warnings)
    if kind == "json":
        try:
            value, salvage = load_json(text, nbytes)
        except ValueError as exc:
            if suffix in (".json", ".jsonl") or re.match(r"\s*[\[{]\s*\"", text):
                raise Unusable(f"not valid JSON: {exc}") from None
        else:
            return json_documents(value, salvage, warnings)
        kind = "text"
    if kind == "html":
        return [_html_document(text)]
    front: dict[str, str] = {}
    title = None
    if kind == "markdown":
        text, title, front = markdown_to_text(text)
    doc = clean_article(prepare_text(text), title)
    doc.title = front.get("title") or title or doc.title
    doc.url = http_url(front.get("url") or front.get("link"))
    doc.published = parse_date(front.get("date") or front.get("published")) or doc.published
    doc.author = front.get("author") or doc.author
    doc.publisher = front.get("publisher")
    return [doc]


def _html_document(markup: str) -> Document:
    page = parse_page(markup)
    meta, ld = page.meta, _json_ld(page.captured["jsonld"])
    site_title = _first_text(page.captured["title"])
    parts = re.split(r"\s+[|–—:-]{1,2}\s+", site_title)
    title = (meta.get("og:title") or meta.get("twitter:title") or field_text(ld.get("headline"))
             or _first_text(page.captured["h1"]) or max(parts, key=len, default=""))
    title = one_line(title) or None
    text = page.text()
    doc = clean_article(text, title)
    if not doc.text:
        doc = clean_article(parse_page(markup, drop_chrome=False).text(), title)
    dates = [meta.get(k) for k in ("article:published_time", "og:published_time",
                                   "datepublished", "date", "pubdate", "publish-date",
                                   "dc.date", "dc.date.issued", "parsely-pub-date")]
    author = author_name(meta.get("author") or meta.get("article:author") or meta.get("dc.creator"))
    doc.title = title or doc.title
    doc.url = http_url(page.links.get("canonical") or meta.get("og:url")
                       or field_text(ld.get("url")))
    doc.published = next((d for d in map(parse_date, dates + [ld.get("datePublished")]
                                          + page.times) if d), None) or doc.published
    doc.author = author or author_name(field_text(ld.get("author"))) or doc.author
    doc.publisher = meta.get("og:site_name") or field_text(ld.get("publisher"))
    return doc


def _first_text(chunks: list[str]) -> str:
    """The text of the first non-empty element among those captured (split by \\x1e)."""
    return next((t for t in map(one_line, "".join(chunks).split("\x1e")) if t), "")


def _json_ld(chunks: list[str]) -> dict:
    """The first schema.org object with a headline in the page's JSON-LD scripts."""
    for script in "".join(chunks).split("\x1e"):
        try:
            data = json.loads(script) if script.strip() else None
        except (ValueError, RecursionError):
            continue
        items = data.get("@graph", [data]) if isinstance(data, dict) else data
        items = items if isinstance(items, list) else []
        found = [i for i in items if isinstance(i, dict) and i.get("headline")]
        if found:
            return found[0]
    return {}

