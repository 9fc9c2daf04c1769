"""A decoded file to its articles: the format judged by content (the extension is only a hint),
plain text and Markdown read here, HTML pages handed to ``htmlpages``, JSON and JSON Lines to
``jsonfiles``.
"""
from __future__ import annotations

import json
import re

from .clean import clean_article
from .dates import parse_date
from .htmlpages import read_page
from .jsonfiles import json_documents, jsonl_documents, load_json
from .markup import markdown_to_text, prepare_text
from .metadata import http_url
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
        return [read_page(text)]
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
