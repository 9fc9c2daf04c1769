"""HTML to an article: the body by trafilatura, the page's own metadata first, credit lines kept.

``read_page`` is how ingestion reads HTML wherever it is found (``.html`` files, text files
that are really saved pages, the HTML fields of WordPress/CMS JSON, wrapped by ``jsonfiles``):

- **Body**: ``trafilatura.bare_extraction`` with ``favor_precision=True`` and no comments (on
  ``../shared/eval/article-extraction`` it scored F1 0.964 against 0.960 for the defaults and
  0.880 for the project's own reader; ``benchmarks/bench_ingest.py``). Each paragraph it gives
  becomes one paragraph of the text (blank lines between them). When trafilatura reads nothing
  (or fails), the project's own reader (``markup.parse_page`` + ``clean.clean_article``) is the
  fallback, so that no page either of them reads comes out empty.
- **Credits**: bylines, "Reported by / Translated by / Written by" lines, photo credits that
  trafilatura leaves out are put back from the project's own reading of the page (``read_tags``:
  its visible blocks in page order, from an lxml parse): short blocks
  near the article that ``is_credit_line`` accepts (a credit opening, or naming the page's own
  author metadata) and that the text does not hold yet, each put where the page has it (before
  the first paragraph that follows it in the page, else at the end). ``credit_lines`` gives the offsets of the credit
  paragraphs of a text, for whoever wants to mark or rank them.
- **Metadata**: trafilatura's (JSON-LD, OpenGraph, meta tags, htmldate for the date) first,
  then the project's own reading of the page's tags (``<time datetime>``, canonical link,
  ``<h1>``/``<title>``), then a "By Name" credit line for the author. Two exceptions: the URL is
  the page's canonical link first (trafilatura's may be a guess), and the publisher the page's
  ``og:site_name`` or its article's JSON-LD publisher before trafilatura's site name (which may
  be the name of a JSON-LD WebSite around the article).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from .dates import parse_date
from .markup import BLOCK_TAGS, SKIP_TAGS, parse_page, word_count
from .metadata import author_name, http_url, one_line
from .types import Document

TRAFILATURA_OPTIONS = {"favor_precision": True, "include_comments": False, "include_tables": True,
                       "with_metadata": True, "deduplicate": False}
# A credit opening: who wrote, reported, translated, edited the story (a line of up to 40 words).
CREDIT_BY = re.compile(
    r"(?:by\b|(?:story|text|reporting|reported|written|translated|edited|compiled|produced|"
    r"additional reporting)(?:\s+in\s+\w+)?\s+by\b|(?:reporter|correspondent|author|"
    r"translation|translator|editor|editing)s?\s*[:：|])", re.I)
# A picture's or a source's credit: "Photo: …", "(Image credit: …)", "© …" (up to 12 words).
CREDIT_MEDIA = re.compile(
    r"(?:\(?(?:photos?|photographs?|pictures?|images?|video|illustrations?|graphics?)"
    r"(?:\s+(?:credit|courtesy))?(?:\s*[:：|]|\s+by\b)|\(?(?:credits?|courtesy|source)\s*[:：|]|"
    r"\(?©)", re.I)
CREDIT_MAX_WORDS, MEDIA_MAX_WORDS = 40, 12
NEAR_ARTICLE = 8  # blocks before and after the article's own in which credits are looked for


def is_credit_line(line: str, authors: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether ``line`` reads as a credit line of an article.

    A credit opening of up to 40 words ("By …", "Reported by …", "Translated by …", "Written
    in English by …", "Reporter: …"); a picture or source credit of up to 12 words ("Photo: …",
    "(Image credit: …)", "© …", but not a site's copyright notice); or a line about one of
    ``authors`` (the page's own author metadata): opening with the name (an author note, up to
    40 words) or naming it in up to 12 words (a sign-off).
    """
    line = one_line(line).lstrip("-–—•*·> ").strip()
    words = word_count(line)
    if words < 2 or words > CREDIT_MAX_WORDS:
        return False
    if CREDIT_BY.match(line):
        return True
    if CREDIT_MEDIA.match(line):
        return words <= MEDIA_MAX_WORDS and not re.search(r"(?i)rights reserved|privacy", line)
    folded = line.casefold()
    for author in authors:
        name = one_line(author).casefold()
        if len(name) > 3 and (folded.startswith(name) or (words <= MEDIA_MAX_WORDS and name in folded)):
            return True
    return False


def credit_lines(text: str, authors: tuple[str, ...] | list[str] = ()) -> list[tuple[int, int]]:
    """The (start, end) offsets of the paragraphs of ``text`` that are credit lines."""
    spans, pos = [], 0
    for part in text.split("\n\n"):
        if is_credit_line(part, authors):
            spans.append((pos, pos + len(part)))
        pos += len(part) + 2
    return spans


def read_page(markup: str, fragment: bool = False, title: str | None = None) -> Document:
    """The article of an HTML page (``fragment``: an article body's HTML, such as a CMS field).

    Never empty when either trafilatura or the project's reader finds text; the Document's
    metadata fields are filled from the page's own metadata (see the module docstring). A
    fragment's metadata is left to its record (the fields of the JSON it came from), and its
    text is cleaned as any other file's (``clean.clean_article``, a paragraph repeating
    ``title`` dropped): CMS fields carry inline chrome ("Next page", link lists) of their own.
    """
    page = read_tags(markup)
    ours = _page_metadata(page)
    extracted = _trafilatura(_as_page(markup) if fragment else markup)
    text = _body_text(extracted) if extracted else ""
    if not re.search(r"[^\W\d_]", text):
        doc = _our_reader(markup, title if fragment else ours.get("title"))
        doc.warnings.append("trafilatura found no article text; read with the project's own reader")
        if fragment:
            doc.title = ""
            return doc
        extracted = extracted or {}
    else:
        doc = Document(doc_id="", text=text)
    meta = {} if fragment else {k: extracted.get(k) for k in ("title", "author", "date", "sitename", "url")}
    title = one_line(meta.get("title") or "") or ours.get("title") or doc.title or ""
    author = author_name(re.sub(r"\s*;\s*", ", ", meta.get("author") or "")) or ours.get("author") or doc.author
    if doc.text is text:
        site = {_key(x) for x in (meta.get("sitename"), ours.get("publisher")) if x}
        names = [n for a in (author, ours.get("author")) if a for n in re.split(r"\s*[;,]\s*|\s+and\s+", a)
                 if _key(n) and _key(n) not in site and len(n.split()) >= 2]  # persons, not the site
        doc.text = _with_credits(text, page, names, title)
        for headline in {title, ours.get("h1") or ""}:  # the headline is the title, not text
            doc.text = _without_title(doc.text, headline)
        author = author or _author_from_credits(doc.text)
    if fragment:  # a CMS field: cleaned as the text of any other file (inline chrome)
        from .clean import clean_article

        cleaned = clean_article(re.sub(r"\n+", "\n\n", doc.text), title)  # a line a unit
        return cleaned if cleaned.text else doc
    doc.title = title
    doc.author = author
    doc.published = parse_date(meta.get("date")) or ours.get("published") or doc.published
    doc.url = http_url(ours.get("url")) or http_url(meta.get("url"))
    # the article's own publisher (og:site_name, its JSON-LD publisher) before trafilatura's
    # site name, which may be the name of the JSON-LD WebSite around it
    doc.publisher = ours.get("publisher") or one_line(meta.get("sitename") or "") or None
    if doc.publisher and re.fullmatch(r"[\w.-]+\.[a-z]{2,}", doc.publisher, re.I):
        doc.publisher = None  # a host name, not a site's name: the URL's domain says it better
    return doc


def _as_page(fragment: str) -> str:
    """An HTML fragment as a page whose body is the article, so the extractor sees a page."""
    return f"<html><body><article>{fragment}</article></body></html>"


def _trafilatura(markup: str) -> dict[str, Any] | None:
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    try:
        found = trafilatura.bare_extraction(markup, **TRAFILATURA_OPTIONS)
    except Exception:  # noqa: BLE001 - a page that breaks the extractor goes to our reader
        return None
    if found is None:
        return None
    return found if isinstance(found, dict) else found.as_dict()


BODY_BLOCKS = frozenset("p head quote list item table row cell div code graphic".split())


def _body_text(extracted: dict[str, Any]) -> str:
    """trafilatura's body as paragraphs separated by blank lines: one a paragraph or heading,
    one a list item ("• ") and one a table row (cells between " | ")."""
    body = extracted.get("body")
    if body is None:
        return "\n\n".join(x for x in map(one_line, (extracted.get("text") or "").split("\n")) if x)
    return "\n\n".join(x for x in _blocks(body) if x.strip("• |"))


def _blocks(element) -> list[str]:
    """The paragraphs of an element of trafilatura's body, nested blocks each on their own."""
    if element.tag == "row":
        return [" | ".join(filter(None, (one_line(" ".join(c.itertext())) for c in element)))]
    prefix = "• " if element.tag == "item" else ""
    out, buf = [], [element.text or ""]

    def flush() -> None:  # a line break (<lb/>, or kept by trafilatura) stays one
        lines = [x for x in map(one_line, "".join(buf).split("\n")) if x]
        if lines:
            out.append(prefix + "\n".join(lines))
        buf.clear()
    for child in element:
        if child.tag in BODY_BLOCKS:
            flush()
            out += _blocks(child)
        else:
            buf.append("\n" if child.tag == "lb" else "".join(child.itertext()))
        buf.append(child.tail or "")
    flush()
    return out


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def _with_credits(text: str, page: PageTags, authors: list[str], title: str) -> str:
    """``text`` with the page's credit lines near the article that it does not hold yet, each
    put where the page has it (before the first paragraph that comes after it in the page)."""
    blocks = page.blocks
    paragraphs = text.split("\n\n")
    where: dict[str, int] = {}
    for i, block in enumerate(blocks):
        where.setdefault(_key(block), i)
    at = [where.get(_key(p)) for p in paragraphs]
    inside = [i for i in at if i is not None]
    if not inside:
        return text
    first, last = min(inside), max(inside)
    held, credits = _key(text), []
    for i in range(max(0, first - NEAR_ARTICLE), min(len(blocks), last + NEAR_ARTICLE + 1)):
        block, key = blocks[i], _key(blocks[i])
        if (key and key not in held and key != _key(title) and is_credit_line(block, authors)
                and not any(key in k for _, k in credits)):
            credits.append((i, key))
            held += " " + key
    out, pending = [], list(credits)
    for paragraph, i in zip(paragraphs, at):
        while pending and i is not None and pending[0][0] < i:
            out.append(blocks[pending.pop(0)[0]])
        out.append(paragraph)
    return "\n\n".join(out + [blocks[i] for i, _ in pending])


def _without_title(text: str, title: str) -> str:
    """``text`` without paragraphs among its first three that only repeat the headline."""
    paragraphs = text.split("\n\n")
    head = [p for p in paragraphs[:3] if _key(p) != _key(title)] if title else paragraphs[:3]
    rest = head + paragraphs[3:]
    return "\n\n".join(rest) if rest else text


def _author_from_credits(text: str) -> str | None:
    """The names of the first "By …" credit paragraph of ``text``, if it is one."""
    for part in text.split("\n\n")[:12]:
        match = re.match(r"(?:by|(?:reported|written|story)\s+by)\s*:?\s+(.+)", part, re.I)
        if not match or word_count(part) > 12:
            continue
        names = []
        for piece in re.split(r"\s*(?:,|;|\band\b|&|\|)\s*", match.group(1)):
            piece = re.split(r"\s+(?:for|of|at|in)\s|[.(]\s|\.$|\s[-–—|]\s", piece.strip())[0].strip()
            if not re.fullmatch(r"(?:[A-Z][\w'’.-]*\s?){1,5}", piece):
                break
            names.append(piece)
        if names:
            return ", ".join(names)
    return None


# ---------------------------------------------------------------- the project's own reader

def _our_reader(markup: str, title: str | None) -> Document:
    """The project's reader: the page's visible text (chrome elements skipped), cleaned."""
    from .clean import clean_article

    doc = clean_article(parse_page(markup).text(), title)
    if not doc.text:
        doc = clean_article(parse_page(markup, drop_chrome=False).text(), title)
    doc.title = title or doc.title
    return doc


class PageTags:
    """What the project's own parse of a page holds: its visible text blocks in page order
    (script, style, navigation, header, footer, aside and hidden elements left out), its meta
    tags, links, ``<time datetime>`` values, and the text of its ``<title>``, ``<h1>`` and JSON-LD
    scripts (each element a record, after a \\x1e)."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.times: list[str] = []
        self.captured: dict[str, list[str]] = {"title": [], "h1": [], "jsonld": []}


def read_tags(markup: str) -> PageTags:
    """The page's blocks and tags, parsed by lxml (as trafilatura parses it); markup lxml
    cannot parse goes through the project's own HTML parser instead."""
    from trafilatura import load_html

    try:
        tree = load_html(markup)
    except Exception:  # noqa: BLE001 - lxml refused it: the slower, forgiving parser
        tree = None
    tags = PageTags()
    if tree is None:
        parsed = parse_page(markup, drop_chrome=False)
        parsed._break()
        tags.blocks = [one_line(t) for t, _ in parsed.blocks]
        tags.meta, tags.links, tags.times, tags.captured = (parsed.meta, parsed.links, parsed.times,
                                                             parsed.captured)
        return tags
    for element in tree.iter("meta"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").lower()
        if key and element.get("content"):
            tags.meta.setdefault(key, element.get("content"))
    for element in tree.iter("link"):
        if element.get("href"):
            tags.links.setdefault((element.get("rel") or "").lower(), element.get("href"))
    tags.times = [e.get("datetime") for e in tree.iter("time") if e.get("datetime")]
    for name, elements in (("title", tree.iter("title")), ("h1", tree.iter("h1")),
                           ("jsonld", (e for e in tree.iter("script") if "ld+json" in (e.get("type") or "")))):
        for element in elements:
            tags.captured[name] += ["\x1e", element.text_content()]
    body = tree.find(".//body")
    tags.blocks = _visible_blocks(body if body is not None else tree)
    return tags


def _visible_blocks(root) -> list[str]:
    out: list[str] = []
    buf: list[str] = []

    def cut() -> None:
        text = one_line("".join(buf))
        if text:
            out.append(text)
        buf.clear()

    def walk(element) -> None:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if not tag or tag in SKIP_TAGS or element.get("hidden") is not None or (
                element.get("aria-hidden") == "true"):
            return
        block = tag in BLOCK_TAGS or tag == "br"
        if block:
            cut()
        if tag == "li":
            buf.append("• ")
        buf.append(element.text or "")
        for child in element:
            walk(child)
            buf.append(child.tail or "")
        if block:
            cut()
    walk(root)
    cut()
    return out


def _page_metadata(page: PageTags) -> dict[str, str | None]:
    """What the page's own tags say: title, its first <h1>, url, published, author, publisher."""
    meta, ld = page.meta, _json_ld(page.captured["jsonld"])
    site_title = _first_text(page.captured["title"])
    parts = re.split(r"\s+[|–—:-]{1,2}\s+", site_title)
    title = (meta.get("og:title") or meta.get("twitter:title") or _field(ld.get("headline"))
             or _first_text(page.captured["h1"]) or max(parts, key=len, default=""))
    dates = [meta.get(k) for k in ("article:published_time", "og:published_time",
                                   "datepublished", "date", "pubdate", "publish-date",
                                   "dc.date", "dc.date.issued", "parsely-pub-date")]
    author = author_name(meta.get("author") or meta.get("article:author") or meta.get("dc.creator"))
    return {
        "title": one_line(title or "") or None,
        "h1": _first_text(page.captured["h1"]) or None,
        "url": http_url(page.links.get("canonical") or meta.get("og:url") or _field(ld.get("url"))),
        "published": next((d for d in map(parse_date, dates + [_field(ld.get("datePublished"))]
                                           + page.times) if d), None),
        "author": author or author_name(_field(ld.get("author"))),
        "publisher": meta.get("og:site_name") or _field(ld.get("publisher")),
    }


def _field(value: Any) -> str | None:
    if isinstance(value, dict):
        value = next((value[k] for k in ("name", "@value", "value", "text") if isinstance(value.get(k), str)), None)
    if isinstance(value, list):
        parts = [_field(v) for v in value if not isinstance(v, list)]
        value = ", ".join(p for p in parts if p) or None
    return value.strip() or None if isinstance(value, str) else None


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
