"""JSON and JSON Lines files to Documents: article objects, WordPress REST posts, lists of
records, and JSON cut off mid-way salvaged up to the cut by a tolerant parser.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, NamedTuple

from .clean import clean_article
from .dates import parse_date
from .htmlpages import read_page
from .markup import HTML_TAG, decode_escapes, html_to_text
from .metadata import author_name, http_url, one_line
from .types import Document, Unusable

MAX_JSON_DEPTH = 200
# Field names, most specific first.
TITLE_KEYS = ("title", "headline")
BODY_KEYS = ("content", "body", "text", "articleBody", "article_body", "article", "story", "html")
SUMMARY_KEYS = ("description", "summary", "excerpt", "abstract")
URL_KEYS = ("url", "link", "canonical_url", "permalink", "source_url", "href")
DATE_KEYS = ("published", "date_published", "datePublished", "published_at", "publishedAt",
             "publish_date", "pubDate", "pub_date", "date", "created_at", "date_gmt", "timestamp")
AUTHOR_KEYS = ("author", "authors", "byline", "creator", "author_name", "writer")
PUBLISHER_KEYS = ("publisher", "site_name", "source", "site", "outlet", "publication")
RECORD_LIST_KEYS = ("articles", "items", "posts", "data", "results", "entries", "documents")


class LoadedJSON(NamedTuple):
    """A parsed JSON value, and when it had to be salvaged, a note saying how (else None)."""

    value: Any
    salvage: str | None


def load_json(text: str, nbytes: int) -> LoadedJSON:
    """Parsed JSON and, when it had to be salvaged, a note saying how; raises ValueError."""
    try:
        return LoadedJSON(json.loads(text, strict=False), None)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except json.JSONDecodeError:
        pass
    parser = TolerantJSON(text)
    value = parser.parse()
    if parser.cut:
        return LoadedJSON(value, f"JSON was cut off at byte {nbytes}")
    return LoadedJSON(value, "JSON was malformed; read it leniently")


JSON_SCALAR = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null")
JSON_PARTIAL = re.compile(r"-?\d*(\.\d*)?([eE][-+]?\d*)?")
JSON_STRING_PART = re.compile(r'[^"\\]*')
JSON_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


class TolerantJSON:
    """A recursive-descent JSON parser that salvages what it can.

    At the end of the input it closes open strings, arrays and objects (the file was cut
    off: ``cut`` is set); it accepts raw control characters in strings and unknown escapes.
    Other syntax errors raise ValueError.
    """

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.cut = text, 0, False

    def parse(self) -> Any:
        value = self._value(0)
        if self._peek():
            raise ValueError(f"unexpected text after the JSON value at char {self.pos}")
        return value

    def _peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _value(self, depth: int) -> Any:
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
        char = self._peek()
        if char in ("{", "["):
            return self._container(depth, char)
        if char == '"':
            return self._string()
        rest = self.text[self.pos:self.pos + 5]
        if JSON_PARTIAL.match(self.text, self.pos).end() == len(self.text) or (
                len(rest) < 5 and any(word.startswith(rest) for word in ("true", "false", "null"))):
            self.pos, self.cut = len(self.text), True  # cut off in a number or literal
            return None
        match = JSON_SCALAR.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return json.loads(match.group())
        raise ValueError(f"unexpected {char!r} at char {self.pos}")

    def _container(self, depth: int, opening: str) -> dict | list:
        closing, items = ("}", {}) if opening == "{" else ("]", [])
        self.pos += 1
        while True:
            char = self._peek()
            if char == closing:
                self.pos += 1
                return items
            if not char:
                self.cut = True
                return items
            if isinstance(items, dict):
                if char != '"':
                    raise ValueError(f"expected a key at char {self.pos}")
                key = self._string()
                if self._peek() != ":":
                    if self.cut or not self._peek():
                        self.cut = True
                        return items
                    raise ValueError(f"expected ':' at char {self.pos}")
                self.pos += 1
            value = self._value(depth + 1)
            if self.cut and value is None:
                return items
            if isinstance(items, dict):
                items[key] = value
            else:
                items.append(value)
            char = self._peek()
            if char == ",":
                self.pos += 1
            elif char not in (closing, ""):
                raise ValueError(f"expected ',' or {closing!r} at char {self.pos}")

    def _string(self) -> str:
        text, out, i = self.text, [], self.pos + 1
        while True:
            chunk = JSON_STRING_PART.match(text, i)
            out.append(chunk.group())
            i = chunk.end()
            if i >= len(text) or (text[i] == "\\" and i + 1 >= len(text)):
                self.pos, self.cut = len(text), True  # cut off inside the string: keep it
                break
            if text[i] == '"':
                self.pos = i + 1
                break
            code = text[i + 1]
            if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6]):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
            else:
                out.append(JSON_ESCAPES.get(code, code))
                i += 2
        return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def jsonl_documents(text: str, warnings: list[str]) -> list[Document]:
    """The articles of a JSON Lines file, one a line; a line that is not JSON costs only itself."""
    records: list[tuple[int, Any]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line, strict=False)))
        except (ValueError, RecursionError) as exc:
            warnings.append(f"line {number} is not valid JSON ({str(exc)[:80]}); line skipped")
    return _record_documents(records, warnings)


def json_documents(value: Any, salvage: str | None, warnings: list[str]) -> list[Document]:
    """The articles of a parsed JSON file: one object, a list of them, or a list under a key."""
    if isinstance(value, dict) and not _has_article_fields(value):
        value = next((value[k] for k in RECORD_LIST_KEYS if isinstance(value.get(k), list)), value)
    if isinstance(value, list):
        if salvage:
            warnings.append(salvage + "; the records up to the cut were read")
        return _record_documents(list(enumerate(value, 1)), warnings)
    if not isinstance(value, dict) or not _has_article_fields(value):
        raise Unusable("JSON holds no article (no title, text, body or content field)")
    doc = record_document(value)
    if salvage:
        found = [k for k in ("title", "date", "published", "link", "url", "content", "body",
                             "text") if value.get(k)]
        listed = ", ".join(found[:-1]) + (" and " if len(found) > 1 else "") + found[-1] \
            if found else "nothing"
        doc.warnings.append(f"{salvage}; salvaged {listed}")
    return [doc]


def _has_article_fields(value: dict) -> bool:
    return any(k in value for k in TITLE_KEYS + BODY_KEYS + SUMMARY_KEYS)


def _record_documents(records: list[tuple[int, Any]], warnings: list[str]) -> list[Document]:
    ids = Counter(str(r.get("id", "")).strip() for _, r in records if isinstance(r, dict))
    docs, used = [], set()
    for index, record in records:
        if not isinstance(record, dict) or not _has_article_fields(record):
            warnings.append(f"record {index} is not an article object; skipped")
            continue
        rid = str(record.get("id", "")).strip()
        key = rid if rid and ids[rid] == 1 and rid not in used else str(index)
        key = key if key not in used else f"record-{index}"
        used.add(key)
        doc = record_document(record)
        doc.doc_id = "#" + key
        docs.append(doc)
    return docs


def field_text(value: Any) -> str | None:
    """The text of a field: strings as they are; {"rendered": ...} and {"name": ...} unwrapped."""
    if isinstance(value, dict):
        value = next((value[k] for k in ("rendered", "value", "text", "name", "@value")
                      if isinstance(value.get(k), str)), None)
    if isinstance(value, list):
        parts = [field_text(v) for v in value if not isinstance(v, list)]
        value = ", ".join(p for p in parts if p) or None
    return value.strip() or None if isinstance(value, str) else None


def _first(record: dict, keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if record.get(k) not in (None, "", [], {})), None)


def record_document(record: dict) -> Document:
    """One article from a JSON object (plain fields, WordPress REST or schema.org names)."""
    title = field_text(_first(record, TITLE_KEYS))
    title = one_line(html_to_text(title)) if title else None
    body = _first(record, BODY_KEYS)
    warnings = []
    if body is None and _first(record, SUMMARY_KEYS) is not None:
        body = _first(record, SUMMARY_KEYS)
        warnings.append("no article body: used the summary/description")
    body = ("\n\n".join(filter(None, map(field_text, body))) if isinstance(body, list)
            else field_text(body))
    body = body or ""
    if HTML_TAG.search(body):  # a CMS field of HTML: read as the body of a page
        doc = read_page(body, fragment=True, title=title)
    else:
        doc = clean_article(decode_escapes(body), title)
    publisher = field_text(_first(record, PUBLISHER_KEYS))
    doc.title = title or doc.title
    doc.url = http_url(field_text(_first(record, URL_KEYS)))
    doc.published = next((d for d in map(parse_date, (record.get(k) for k in DATE_KEYS)) if d),
                         None) or doc.published
    doc.author = author_name(field_text(_first(record, AUTHOR_KEYS))) or doc.author
    doc.publisher = None if http_url(publisher) else publisher
    doc.warnings = warnings + doc.warnings
    return doc

