"""Markup to plain text: HTML pages and fragments, Markdown, and the tags, entities and escapes
left in scraped text, each turned into paragraphs separated by blank lines.

The HTML pass also collects what a page says about itself in markup (meta tags, canonical
link, <time>, <title>, <h1>, JSON-LD) for the reader of HTML files to use.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import NamedTuple

BLOCK_TAGS = frozenset(
    "address article aside blockquote dd details div dl dt figcaption figure footer h1 h2 h3 "
    "h4 h5 h6 header hr li main nav ol p pre section summary table tbody td tfoot th thead tr "
    "ul".split())
SKIP_TAGS = frozenset(
    "script style noscript template svg canvas iframe object nav header footer aside form "
    "button select textarea menu dialog head".split())
VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())
INLINE_TAGS = ("a abbr b big cite code em font i img mark q s small span strong sub sup u "
               "time".split())
CHROME_ATTR = re.compile(
    r"\b(share|sharing|social|sns|nav|navbar|navigation|menu|breadcrumbs?|footer|sidebar|"
    r"related|recommend\w*|comments?|advert\w*|ads?|promo|newsletter|subscribe|cookies?|popup|"
    r"modal|toolbar|font-?size|print|widget|banner|masthead|pagination)\b", re.I)
ARTICLE_ATTR = re.compile(r"articlebody|(article|story|entry|post)[-_]?(body|content|text)", re.I)
HTML_TAG = re.compile(r"</?(?:%s)\b[^<>]*>" % "|".join(sorted(BLOCK_TAGS | VOID_TAGS
                                                              | set(INLINE_TAGS))), re.I)


class PageParser(HTMLParser):
    """One pass over an HTML page: its text blocks (chrome elements skipped) and its metadata."""

    def __init__(self, drop_chrome: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_chrome = drop_chrome
        self.blocks: list[tuple[str, bool]] = []  # (text, inside the article element)
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.times: list[str] = []
        self.captured: dict[str, list[str]] = {"title": [], "h1": [], "jsonld": []}
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, skipping, in_article)
        self._buf: list[str] = []
        self._capture: str | None = None

    def _state(self) -> tuple[bool, bool]:
        return self._stack[-1][1:] if self._stack else (False, False)

    def _break(self) -> None:
        text = "".join(self._buf).strip()
        if text:
            self.blocks.append((text, self._state()[1]))
        self._buf = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        skipping, in_article = self._state()
        if tag == "meta":
            key = (a.get("property") or a.get("name") or a.get("itemprop") or "").lower()
            if key and a.get("content"):
                self.meta.setdefault(key, a["content"])
        elif tag == "link" and a.get("href"):
            self.links.setdefault(a.get("rel", "").lower(), a["href"])
        elif tag == "time" and a.get("datetime"):
            self.times.append(a["datetime"])
        if tag in VOID_TAGS:
            if tag in ("br", "hr") and not skipping:
                self._buf.append("\n") if tag == "br" else self._break()
            return
        marks = " ".join((a.get("class", ""), a.get("id", ""), a.get("role", "")))
        skip = tag in SKIP_TAGS or "hidden" in a or a.get("aria-hidden") == "true" or (
            self.drop_chrome and tag not in ("html", "body", "main", "article")
            and bool(CHROME_ATTR.search(marks)))
        if tag in BLOCK_TAGS:
            self._break()
        article = in_article or tag == "article" or bool(
            ARTICLE_ATTR.search(marks + " " + a.get("itemprop", "")))
        self._stack.append((tag, skipping or skip, article))
        if tag == "li" and not (skipping or skip):
            self._buf.append("• ")
        if tag in ("title", "h1") or (tag == "script" and "ld+json" in a.get("type", "")):
            self._capture = "jsonld" if tag == "script" else tag
            self.captured[self._capture].append("\x1e")  # one record per element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self._break()
        if tag in ("title", "h1", "script"):
            self._capture = None
        for i in range(len(self._stack) - 1, -1, -1):  # close it and whatever was left open in it
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._capture:
            self.captured[self._capture].append(data)
        if self._state()[0] or self._capture in ("title", "jsonld"):
            return
        for i, part in enumerate(re.split(r"[ \t\r\f\v]*\n[ \t\r\f\v]*\n\s*", data)):
            if i:
                self._break()  # a blank line is a paragraph break (as in WordPress content)
            self._buf.append(re.sub(r"\s+", " ", part))

    def text(self) -> str:
        self._break()
        inside = [t for t, in_article in self.blocks if in_article]
        blocks = inside if word_count(" ".join(inside)) >= 40 else [t for t, _ in self.blocks]
        return "\n\n".join(blocks)


def parse_page(markup: str, drop_chrome: bool = True) -> PageParser:
    parser = PageParser(drop_chrome)
    parser.feed(markup)
    parser.close()
    return parser


def html_to_text(markup: str) -> str:
    """The visible text of an HTML page or fragment, one block a paragraph."""
    text = parse_page(markup).text()
    return text if re.search(r"[^\W\d_]", text) else parse_page(markup, drop_chrome=False).text()


def strip_tags(text: str) -> str:
    """Remove stray HTML tags from text that is not an HTML page, keeping line structure."""
    def replace(match: re.Match) -> str:
        name = re.match(r"</?(\w+)", match.group()).group(1).lower()
        return "\n" if name == "br" else "\n\n" if name in BLOCK_TAGS else ""
    return HTML_TAG.sub(replace, text)


def decode_escapes(text: str) -> str:
    """Decode HTML entities and JSON escapes (\\u2019, \\/) left in scraped text."""
    text = re.sub(r"&(#\d+|#x[0-9a-f]+|[a-z][a-z0-9]{1,8});",
                  lambda m: html.unescape(m.group()), text, flags=re.I)
    if len(re.findall(r"\\u[0-9a-fA-F]{4}|\\/", text)) >= 2:
        text = re.sub(r"(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4})",
                      lambda m: m.group().encode().decode("unicode_escape").encode(
                          "utf-16", "surrogatepass").decode("utf-16"), text)
        text = text.replace("\\/", "/").replace("\\n", "\n")
    return text


class MarkdownText(NamedTuple):
    """A Markdown article as plain text, its first ``# `` heading, and its front matter."""

    text: str
    title: str | None
    front: dict[str, str]


def markdown_to_text(text: str) -> MarkdownText:
    """Plain text of a Markdown article, its first ``# `` heading, and its front matter."""
    front: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[0].strip() == "---" and "---" in [x.strip() for x in lines[1:60]]:
        end = [x.strip() for x in lines].index("---", 1)
        for line in lines[1:end]:
            key, sep, value = line.partition(":")
            if sep and value.strip():
                front[key.strip().lower()] = value.strip().strip("\"'")
        lines = lines[end + 1:]
    title, paragraphs, current, fenced = None, [], [], False

    def flush() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()
    for raw in lines:
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            fenced = not fenced
            flush()
            continue
        heading = re.match(r"(#{1,6})\s+(.*?)\s*#*$", line)
        if re.fullmatch(r"=+|-{3,}|\*{3,}|_{3,}", line) and not fenced:
            if line.startswith("=") and current and title is None:
                title = current.pop()
            flush()
        elif heading and not fenced:
            flush()
            if heading.group(1) == "#" and title is None:
                title = _inline_markdown(heading.group(2))
            else:
                paragraphs.append(_inline_markdown(heading.group(2)))
        elif not line or re.match(r"\[[^\]]+\]:\s+\S+", line):
            flush()
        elif re.match(r"([-*+]|\d+[.)])\s+", line) or fenced:
            flush()
            paragraphs.append(re.sub(r"^[-*+]\s+", "• ", _inline_markdown(line)))
        else:
            current.append(_inline_markdown(re.sub(r"^(>\s?)+", "", line)))
    flush()
    return MarkdownText("\n\n".join(p for p in paragraphs if p.strip()), title, front)


def _inline_markdown(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\](\([^)]*\)|\[[^\]]*\])", r"\1", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"\1", text)
    return re.sub(r"`([^`]+)`", r"\1", text)


def word_count(text: str) -> int:
    """How many words ``text`` holds, for the length rules of the article and of cleaning."""
    cjk = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", text))  # scripts written without spaces
    # Korean puts spaces between words, but a Korean word carries what two or three English
    # ones do: count its syllables the way the Chinese and Japanese characters are counted.
    hangul = len(re.findall(r"[\uac00-\ud7a3]", text))
    return max(len(text.split()), (cjk + hangul) // 2)


def prepare_text(text: str) -> str:
    """Plain text as scraped: stray tags, entities and escapes removed."""
    return decode_escapes(strip_tags(text))
