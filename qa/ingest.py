"""Ingestion: corpus files in, cleaned Documents (article text and metadata) out.

Formats are recognised by content; a file's extension is only a hint:

- plain text (``.txt``) and Markdown (``.md``; the first ``# `` heading is the title);
- HTML (``.html``/``.htm``): title from og:title/<h1>/<title>, date from
  article:published_time/<time datetime>, url from the canonical link, publisher from
  og:site_name, author from meta author; JSON-LD NewsArticle data is used too;
- JSON (``.json``): one article object (title, text/body/content, url/link, published/date,
  author/authors, publisher), a WordPress REST post (``{"rendered": "<html>"}`` fields) or a
  list of articles. JSON cut off mid-way is salvaged up to the cut, with a warning;
- JSON Lines (``.jsonl``): one article a line; a bad line costs that line only (a warning).

Text is decoded as UTF-8 (BOM or not), UTF-16/32 with a BOM, Korean CP949/EUC-KR when that
reads as Hangul, else Windows-1252 (with a warning). A file that cannot be used (empty,
binary, too large, unreadable, no article text) gives a ``FileResult`` whose ``error`` says
why: ``read_file`` never raises. A multi-record file gives one Document per record, with
doc id ``path#key`` (the record's unique ``id``, else its 1-based line or array index).

Sidecar metadata (``qa-metadata.json``)
---------------------------------------
Metadata the files leave out can be given in ``qa-metadata.json`` at the corpus root: a JSON
object keyed by doc id (``"000_82916424e9c57ef5.txt"``, ``"archive.jsonl#123"``) or by file
path (then it applies to every record of that file), whose values are objects with any of
``title``, ``url``, ``published`` (``YYYY-MM-DD``), ``author`` and ``publisher``. Keys that
start with ``_`` are comments. Sidecar values override what was detected in the file::

    {
      "_comment": "Metadata the article files leave out.",
      "000_82916424e9c57ef5.txt": {"url": "https://...", "publisher": "The Korea Times"},
      "archive.jsonl#123": {"published": "2019-01-21"}
    }

A malformed sidecar, entry or field is reported as a warning by ``load_sidecar`` and ignored.
"""
from __future__ import annotations

import codecs
import json
import os
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import clean
from .dates import parse_date
from .markup import HTML_TAG, decode_escapes, html_to_text, markdown_to_text, parse_page, prepare_text
from .types import Document, FileResult

SIDECAR_NAME = "qa-metadata.json"
INGEST_VERSION = 2  # bump when cleaning output changes, so indexes get rebuilt
MAX_FILE_BYTES = 50 * 1024 * 1024
SIDECAR_FIELDS = ("title", "url", "published", "author", "publisher")
MAX_JSON_DEPTH = 200

KNOWN_PUBLISHERS = {
    "koreatimes.co.kr": "The Korea Times", "rfa.org": "Radio Free Asia",
    "rfaweb.org": "Radio Free Asia", "dailynk.com": "Daily NK", "asiapress.org": "ASIAPRESS",
    "koreaherald.com": "The Korea Herald", "yna.co.kr": "Yonhap News Agency",
    "nknews.org": "NK News", "38north.org": "38 North", "voanews.com": "Voice of America",
    "reuters.com": "Reuters", "apnews.com": "The Associated Press", "bbc.co.uk": "BBC",
    "bbc.com": "BBC", "nytimes.com": "The New York Times", "theguardian.com": "The Guardian",
}
MAGIC = [(b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"),
         (b"\xff\xd8\xff", "a JPEG image"), (b"PK\x03\x04", "a ZIP archive or Office file"),
         (b"\x1f\x8b", "a gzip archive"), (b"\x7fELF", "a program"),
         (b"\xd0\xcf\x11\xe0", "an old Office document"), (b"RIFF", "a media file")]
BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16")]
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


class Unusable(Exception):
    """A file that yields no document; the message says why."""


# ---------------------------------------------------------------- the corpus folder

def list_files(root: Path) -> list[str]:
    """Sorted posix paths of the corpus files under ``root``, relative to it.

    Hidden files and folders and the sidecar are left out. Entries that cannot be read as
    files (links out of the corpus or in a loop, pipes, devices) are listed all the same, so
    that the build reports them: ``refusal`` says why each one is not read.
    """
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            rel = (Path(folder) / name).relative_to(root).as_posix()
            if not name.startswith(".") and rel != SIDECAR_NAME:
                found.append(rel)
    return sorted(found)


def refusal(root: Path, relpath: str) -> str | None:
    """Why the corpus entry ``relpath`` must not be read, or None when it is a regular file in the corpus."""
    path = Path(root) / relpath
    try:
        real = path.resolve(strict=True)
    except RuntimeError:
        return "a symbolic link in a loop: not read"
    except FileNotFoundError:
        return "cannot read: file not found" + (" (a broken symbolic link)" if path.is_symlink() else "")
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not real.is_relative_to(Path(root).resolve()):
        return "a symbolic link pointing outside the corpus: not read"
    try:
        mode = real.stat().st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device): not read"
    return None


def load_sidecar(root: Path) -> tuple[dict[str, dict], list[str]]:
    """The sidecar's entries keyed by doc id or file path, and warnings about it."""
    path = Path(root) / SIDECAR_NAME
    if not path.is_file():
        return {}, []
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return {}, [f"{SIDECAR_NAME} is ignored: it cannot be read as JSON ({exc})"]
    if not isinstance(data, dict):
        return {}, [f"{SIDECAR_NAME} is ignored: it must be a JSON object keyed by doc id"]
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
            elif name == "url" and not _url(item.strip()):
                warnings.append(f"{SIDECAR_NAME}: {key!r}: url {item!r} is not an http(s) URL")
            else:
                entry[name] = parse_date(item) if name == "published" else item.strip()
        entries[key] = entry
    return entries, warnings


def read_file(root: Path, relpath: str, sidecar: dict[str, dict] | None = None) -> FileResult:
    """Read one corpus file into Documents; never raises: ``error`` says what went wrong."""
    result = FileResult(path=relpath)
    result.error = refusal(root, relpath)
    if result.error:
        return result
    if sidecar is None:
        sidecar = load_sidecar(root)[0]
    try:
        found, result.warnings = _read_documents(Path(root) / relpath, relpath)
        for doc in found:
            doc.doc_id = relpath + doc.doc_id
            if doc.text:
                result.documents.append(_complete(doc, sidecar))
            else:
                result.warnings.append(f"{doc.doc_id}: no article text found; record skipped")
    except Unusable as exc:
        result.error = str(exc)
        return result
    except Exception as exc:  # noqa: BLE001 - the contract: a bad file never stops a build
        result.documents, result.error = [], f"could not be read ({type(exc).__name__}: {exc})"
        return result
    if not result.documents:
        result.error = "no article text found" if len(found) <= 1 else (
            "no article text found in any record")
    return result


def _complete(doc: Document, sidecar: dict[str, dict]) -> Document:
    """The document with the sidecar's values applied and its missing title and publisher guessed."""
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
    host = (urlparse(url).hostname or "").lower()
    for domain, name in KNOWN_PUBLISHERS.items():
        if host == domain or host.endswith("." + domain):
            return name
    return None


# ---------------------------------------------------------------- bytes to text

def _read_documents(path: Path, relpath: str) -> tuple[list[Document], list[str]]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise Unusable(f"file is too large ({size / 2**20:.0f} MB; the limit is "
                           f"{MAX_FILE_BYTES // 2**20} MB): split it into smaller files")
        data = path.read_bytes()
    except PermissionError:
        raise Unusable("permission denied: the file cannot be read") from None
    except FileNotFoundError:
        raise Unusable("file not found (a broken link?)") from None
    except IsADirectoryError:
        raise Unusable("is a folder, not a file") from None
    except OSError as exc:
        raise Unusable(f"cannot be read: {exc.strerror or exc}") from None
    text, warnings = decode_bytes(data)
    return parse_text(text, Path(relpath).suffix.lower(), len(data), warnings), warnings


def decode_bytes(data: bytes) -> tuple[str, list[str]]:
    """The text of a file's bytes, and warnings about guessed encodings; raises Unusable."""
    if not data.strip():
        raise Unusable("empty file" if not data else "empty file (only white space)")
    warnings: list[str] = []
    bom = next((enc for mark, enc in BOMS if data.startswith(mark)), None)
    if bom:
        try:
            text = data.decode(bom)
        except UnicodeDecodeError:
            text = data.decode(bom, errors="replace")
            warnings.append(f"some bytes are not valid {bom.upper()}; replaced them")
    else:
        kind = next((name for magic, name in MAGIC if data.startswith(magic)), None)
        if kind or b"\x00" in data[:65536]:
            raise Unusable(f"binary file ({kind or 'it holds NUL bytes'}), not text")
        text = _decode_without_bom(data, warnings)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:65536]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\n\t\f\v")
    if controls > 0.05 * len(sample):
        raise Unusable("binary file (mostly control characters), not text")
    if not text.strip():
        raise Unusable("empty file (only white space)")
    return text, warnings


def _decode_without_bom(data: bytes, warnings: list[str]) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp949")
        hangul = [i for i, c in enumerate(text) if "\uac00" <= c <= "\ud7a3"]
        paired = sum(1 for i in hangul if i + 1 < len(text) and "\uac00" <= text[i + 1] <= "\ud7a3")
        if len(hangul) >= 2 and paired >= 0.3 * len(hangul):  # Korean words, not stray pairs
            warnings.append("not UTF-8: decoded as Korean (CP949/EUC-KR)")
            return text
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    warnings.append("not UTF-8: decoded as Windows-1252 (Western European); some characters "
                    "may be wrong")
    return text


# ---------------------------------------------------------------- formats

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
        return _jsonl_documents(text, warnings)
    if kind == "json":
        try:
            value, salvage = load_json(text, nbytes)
        except ValueError as exc:
            if suffix in (".json", ".jsonl") or re.match(r"\s*[\[{]\s*\"", text):
                raise Unusable(f"not valid JSON: {exc}") from None
        else:
            return _json_documents(value, salvage, warnings)
        kind = "text"
    if kind == "html":
        return [_html_document(text)]
    front: dict[str, str] = {}
    title = None
    if kind == "markdown":
        text, title, front = markdown_to_text(text)
    doc = clean.clean_article(prepare_text(text), title)
    doc.title = front.get("title") or title or doc.title
    doc.url = _url(front.get("url") or front.get("link"))
    doc.published = parse_date(front.get("date") or front.get("published")) or doc.published
    doc.author = front.get("author") or doc.author
    doc.publisher = front.get("publisher")
    return [doc]


# ---------------------------------------------------------------- JSON

def load_json(text: str, nbytes: int) -> tuple[Any, str | None]:
    """Parsed JSON and, when it had to be salvaged, a note saying how; raises ValueError."""
    try:
        return json.loads(text, strict=False), None
    except RecursionError:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except json.JSONDecodeError:
        pass
    parser = TolerantJSON(text)
    value = parser.parse()
    if parser.cut:
        return value, f"JSON was cut off at byte {nbytes}"
    return value, "JSON was malformed; read it leniently"


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


def _jsonl_documents(text: str, warnings: list[str]) -> list[Document]:
    records: list[tuple[int, Any]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line, strict=False)))
        except (ValueError, RecursionError) as exc:
            warnings.append(f"line {number} is not valid JSON ({str(exc)[:80]}); line skipped")
    return _record_documents(records, warnings)


def _json_documents(value: Any, salvage: str | None, warnings: list[str]) -> list[Document]:
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


def _field(value: Any) -> str | None:
    """The text of a field: strings as they are; {"rendered": ...} and {"name": ...} unwrapped."""
    if isinstance(value, dict):
        value = next((value[k] for k in ("rendered", "value", "text", "name", "@value")
                      if isinstance(value.get(k), str)), None)
    if isinstance(value, list):
        parts = [_field(v) for v in value if not isinstance(v, list)]
        value = ", ".join(p for p in parts if p) or None
    return value.strip() or None if isinstance(value, str) else None


def _first(record: dict, keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if record.get(k) not in (None, "", [], {})), None)


def record_document(record: dict) -> Document:
    """One article from a JSON object (plain fields, WordPress REST or schema.org names)."""
    title = _field(_first(record, TITLE_KEYS))
    title = _one_line(html_to_text(title)) if title else None
    body = _first(record, BODY_KEYS)
    warnings = []
    if body is None and _first(record, SUMMARY_KEYS) is not None:
        body = _first(record, SUMMARY_KEYS)
        warnings.append("no article body: used the summary/description")
    body = "\n\n".join(filter(None, map(_field, body))) if isinstance(body, list) else _field(body)
    body = body or ""
    if HTML_TAG.search(body):
        body = html_to_text(body)
    doc = clean.clean_article(decode_escapes(body), title)
    publisher = _field(_first(record, PUBLISHER_KEYS))
    doc.title = title or doc.title
    doc.url = _url(_field(_first(record, URL_KEYS)))
    doc.published = next((d for d in map(parse_date, (record.get(k) for k in DATE_KEYS)) if d),
                         None) or doc.published
    doc.author = _author(_field(_first(record, AUTHOR_KEYS))) or doc.author
    doc.publisher = None if _url(publisher) else publisher
    doc.warnings = warnings
    return doc


def _author(value: str | None) -> str | None:
    """An author name as given, without a "By" and never a profile URL."""
    value = re.sub(r"(?i)^by\s+", "", value or "").strip()
    return value if value and not _url(value) else None


def _url(value: str | None) -> str | None:
    try:
        return value if value and re.match(r"https?://\S+$", value) and urlparse(value).hostname \
            else None
    except ValueError:  # e.g. a broken [IPv6] host
        return None


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- HTML pages

def _html_document(markup: str) -> Document:
    page = parse_page(markup)
    meta, ld = page.meta, _json_ld(page.captured["jsonld"])
    site_title = _first_text(page.captured["title"])
    parts = re.split(r"\s+[|–—:-]{1,2}\s+", site_title)
    title = (meta.get("og:title") or meta.get("twitter:title") or _field(ld.get("headline"))
             or _first_text(page.captured["h1"]) or max(parts, key=len, default=""))
    title = _one_line(title) or None
    text = page.text()
    doc = clean.clean_article(text, title)
    if not doc.text:
        doc = clean.clean_article(parse_page(markup, drop_chrome=False).text(), title)
    dates = [meta.get(k) for k in ("article:published_time", "og:published_time",
                                   "datepublished", "date", "pubdate", "publish-date",
                                   "dc.date", "dc.date.issued", "parsely-pub-date")]
    author = _author(meta.get("author") or meta.get("article:author") or meta.get("dc.creator"))
    doc.title = title or doc.title
    doc.url = _url(page.links.get("canonical") or meta.get("og:url") or _field(ld.get("url")))
    doc.published = next((d for d in map(parse_date, dates + [ld.get("datePublished")]
                                          + page.times) if d), None) or doc.published
    doc.author = author or _author(_field(ld.get("author"))) or doc.author
    doc.publisher = meta.get("og:site_name") or _field(ld.get("publisher"))
    return doc


def _first_text(chunks: list[str]) -> str:
    """The text of the first non-empty element among those captured (split by \\x1e)."""
    return next((t for t in map(_one_line, "".join(chunks).split("\x1e")) if t), "")


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
