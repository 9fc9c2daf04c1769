"""Cleaning: from a scraped page to the article body, with what the text says about itself.

It works like jusText. The text is cut into blocks (a line or a paragraph each) and each block
is *bad* (page chrome: share buttons, menus, "Top 10 Stories", "Next page", no letters, a run
of short bullet items), *good* (a long, sentence-like block) or *short* (anything else). Good
blocks are kept, and so are short ones lying between good ones (sub-headings); whatever comes
before the first good block or after the last one is dropped, except what is taken as the
headline, byline or dateline. A block repeating one of the few before it (a caption printed
twice) is dropped.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
from html.parser import HTMLParser

from .types import Document

# ---------------------------------------------------------------- HTML and escapes to text

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


def markdown_to_text(text: str) -> tuple[str, str | None, dict[str, str]]:
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
    return "\n\n".join(p for p in paragraphs if p.strip()), title, front


def _inline_markdown(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\](\([^)]*\)|\[[^\]]*\])", r"\1", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"\1", text)
    return re.sub(r"`([^`]+)`", r"\1", text)


# ---------------------------------------------------------------- dates

MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
DATE_PATTERNS = [
    (re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), ("y", "m", "d")),
    (re.compile(_MON + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.I), ("b", "d", "y")),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + _MON + r",?\s+(\d{4})\b", re.I), ("d", "b", "y")),
    (re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일"), ("y", "m", "d")),
]


def find_date(text: str) -> tuple[str, re.Match] | None:
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
    return min(found)[1:] if found else None


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
    return found[0] if found else None


# ---------------------------------------------------------------- blocks and page chrome

GOOD, SHORT, BAD = "good", "short", "bad"
BULLET = re.compile(r"^[•·▪●○◦‣⁃*\-–—]\s+")
SECTION_MARK = re.compile(r"^[◆◇■□▶►▷▸※★☆▲△]")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SENTENCE_END = re.compile(r"[.!?。！？…][\"'”’»)\]]*$")
# Chrome words, for blocks of at most five words.
CHROME_SHORT = re.compile(
    r"\b(share\w*|facebook|twitter|kakao\w*|whatsapp|linkedin|telegram|pinterest|reddit|e-?mail|"
    r"mail|print|comments?|font|text ?size|settings|menu|close|tweet|log ?in|sign ?(in|up)|subscribe\w*|"
    r"newsletters?|advertisement|sponsored|related|recommend\w*|trending|most (read|viewed|popular)|"
    r"top \d+|read more|full site|listening options|go top|back to top|skip to|cookies?|privacy|"
    r"terms of|copyright|rights reserved|follow us|download|bookmark|"
    r"(next|previous|prev) (page|article|story|post)|more (stories|news|articles)|photo gallery)\b")
# Chrome openings, for blocks of any length (checked without leading punctuation).
CHROME_START = re.compile(
    r"((next|previous|prev) ?(page|article|story|post)\b|related (articles?|stories|news|posts|"
    r"content|coverage|links?|reading)\b|recommended (for you|articles?|stories|reading)\b|"
    r"recommendations\b|read (more|also|next)\b|(see|watch) also\b|also read\b|"
    r"more (stories|news|articles) (from|by|on|in)\b|copyright\b|\(c\) ?\d{4}|"
    r"(click|tap) here\b|advertisement\b|sponsored (content|links?)\b|"
    r"(subscribe|sign up) (to|for|now)\b|follow us\b|top \d+ (stories|news|articles)\b|"
    r"(part|page) ?\d+ ?(>>|»))")
CHROME_ANYWHERE = re.compile(r">>>|<<<|»»|««|all rights reserved|^©")
# Where the article ends and the site's lists of other stories begin.
END_MARKER = re.compile(
    r"(related (articles?|stories|news|posts|content|coverage)|recommend(ed|ations)|"
    r"top \d+ (stories|news)|more (stories|news|articles)|you (may|might) also like|"
    r"most (read|viewed|popular)|trending( now)?|comments? ?(\(\d+\))?$)")
PARTICLES = frozenset("de van von der den da del dos bin al le la du".split())


def word_count(text: str) -> int:
    cjk = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", text))  # scripts written without spaces
    # Korean puts spaces between words, but a Korean word carries what two or three English
    # ones do: count its syllables the way the Chinese and Japanese characters are counted.
    hangul = len(re.findall(r"[\uac00-\ud7a3]", text))
    return max(len(text.split()), (cjk + hangul) // 2)


def prepare_text(text: str) -> str:
    """Plain text as scraped: stray tags, entities and escapes removed."""
    return decode_escapes(strip_tags(text))


def split_units(text: str) -> list[str]:
    """Blocks of the text: its lines, with hard-wrapped lines of one paragraph joined."""
    units: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\u200b", "").replace("\ufeff", "")):
        merged: list[str] = []
        for line in (re.sub(r"\s+", " ", x).strip() for x in block.split("\n")):
            if line and merged and _continues(merged[-1], line):
                merged[-1] += " " + line
            elif line:
                merged.append(line)
        units.extend(merged)
    return units


def _continues(prev: str, line: str) -> bool:
    if any(p.match(x) for p in (BULLET, SECTION_MARK) for x in (prev, line)):
        return False
    if re.search(r"[.!?:;。”\"’)\]]$", prev):
        return False
    return line[:1].islower() or (len(prev) >= 60 and _capital_ratio(prev) < 0.6)


def _capital_ratio(text: str) -> float:
    words = [w.lstrip("\"'“‘([") for w in text.split()]
    words = [w for w in words if w[:1].isalpha()]
    return sum(w[0].isupper() for w in words) / len(words) if words else 0.0


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def classify(unit: str) -> str:
    """``bad`` (chrome or no letters), ``good`` (long and sentence-like) or ``short``."""
    key = re.sub(r"^[\W_]+", "", unit.lower())
    if (len(re.findall(r"[^\W\d_]", unit)) <= 2 or CHROME_START.match(key)
            or CHROME_ANYWHERE.search(key) or re.fullmatch(r"(https?://|www\.)\S+|\S+@\S+", key)):
        return BAD
    words = word_count(unit)
    segments = re.split(r"\s[|›»>]\s", unit)
    if (words <= 5 and CHROME_SHORT.search(key)) or (
            len(segments) >= 3 and all(len(s.split()) <= 3 for s in segments)):  # a menu bar
        return BAD
    headline_like = _capital_ratio(unit) >= 0.6 and not unit.rstrip("\"'”’)]").endswith(".")
    if words >= 10 and re.search(r"[.!?。！？]", unit) and not headline_like:
        return GOOD
    return SHORT


def clean_article(text: str, title: str | None = None) -> Document:
    """Keep the article body of ``text``; take headline, byline and dateline out of it.

    The Document holds the body and the headline, author and date the text itself gave away;
    the reader of the file fills in the rest. With ``title`` given (from a JSON field or HTML
    meta), a headline line repeating it is dropped; without, the first title-like line before
    the body is taken as the title.
    """
    units = _dedupe(split_units(text))
    kinds = [classify(u) for u in units]
    for i, unit in enumerate(units):  # a run of short bullet items is a menu
        neighbours = [units[j] for j in (i - 1, i + 1) if 0 <= j < len(units)]
        if BULLET.match(unit) and kinds[i] == SHORT and any(BULLET.match(x) for x in neighbours):
            kinds[i] = BAD
    out, drop = Document(doc_id="", text=""), set()
    goods = [i for i, k in enumerate(kinds) if k == GOOD] or [len(units)]
    for i, unit in enumerate(units):
        top, end = i < max(10, goods[0] + 3), i >= goods[-1] - 1
        author = (_byline(unit) if top or end else None) or (_signoff(unit) if end else None)
        if author:
            out.author = out.author or author
            drop.add(i)
        elif top and kinds[i] != GOOD and (day := _dateline(unit)):
            out.published = out.published or day
            drop.add(i)
    goods = [i for i in goods if i not in drop and i < len(units)]
    if goods and not out.published:
        out.published = _lead_dateline(units[goods[0]])
    if title:
        drop.update(i for i in range(min(len(units), 8)) if _key(units[i]) == _key(title))
    else:
        for i in range(goods[0] if goods else len(units)):
            if i not in drop and kinds[i] == SHORT and _title_like(units[i]):
                out.title = units[i]
                drop.add(i)
                break
    live = [i for i in range(len(units)) if i not in drop and kinds[i] != BAD]
    if goods:
        end = _article_end(units, goods)
        goods = [i for i in goods if i < end]
        keep = [i for i in live if goods[0] <= i <= goods[-1]]
    else:  # no long paragraph: a brief, if it has sentences at all
        keep = [i for i in live if SENTENCE_END.search(units[i])]
    out.text = "\n\n".join(units[i] for i in keep)
    return out


def _dedupe(units: list[str]) -> list[str]:
    kept, recent = [], []
    for unit in units:
        key = _key(unit)
        if len(key.split()) >= 3 and key in recent:
            continue
        kept.append(unit)
        recent = (recent + [key])[-3:]
    return kept


def _article_end(units: list[str], goods: list[int]) -> int:
    """Index of a "Related articles"-like marker after which little article text follows."""
    total = sum(word_count(units[i]) for i in goods)
    after, all_bullets = total, True  # good words, and whether all are bullets, after a point
    position = 0
    for i in range(goods[0] + 1, len(units)):
        while position < len(goods) and goods[position] <= i:
            after -= word_count(units[goods[position]])
            position += 1
        if END_MARKER.match(re.sub(r"^[\W_]+", "", units[i].lower())):
            later = goods[position:]
            if after < 0.25 * total or (after < 0.5 * total
                                        and all(BULLET.match(units[j]) for j in later)):
                return i
    return len(units)


def _is_name(text: str) -> bool:
    tokens = text.split()
    return (0 < len(tokens) <= 5 and not re.search(r"\d", text)
            and all(re.fullmatch(r"[A-Z][\w'’.-]*", t) or t in PARTICLES for t in tokens)
            and any(len(t) > 2 for t in tokens))


def _byline(unit: str) -> str | None:
    """The author of a "By Name" byline or a "Reported by Name for ..." credit line."""
    match = re.match(r"(?:by[:\s]|(?:reported|written|story|compiled|produced)\s+by\s)\s*(.+)",
                     unit, re.I)
    if not match or word_count(unit) > (12 if unit[:2].lower() == "by" else 40):
        return None
    names = []
    for part in re.split(r"\s*(?:,|;|\band\b|&|\||/)\s*", match.group(1)):
        part = re.split(r"\s+(?:for|of|at|with|in)\s|[.(]\s|\.$", part.strip())[0].strip()
        if not _is_name(part):
            break
        names.append(part)
    return ", ".join(names) or None


def _signoff(unit: str) -> str | None:
    """The author of a "Name email@site" sign-off or of an author bio with a contact."""
    if not (EMAIL.search(unit) or "can be reached" in unit):
        return None
    if word_count(unit) <= 8:
        rest = re.sub(r"(?i)\b(e-?mail|contact|at)\b:?", " ", EMAIL.sub(" ", unit))
        rest = re.sub(r"\s+", " ", rest).strip(" ,;:-–—|()<>[]")
        return rest if _is_name(rest) else None
    bio = re.match(r"((?:[A-Z][\w'’.-]*\s+){2,4}?)(?:is|was|has been)\s", unit)
    return bio.group(1).strip() if bio and _is_name(bio.group(1)) else None


def _dateline(unit: str) -> str | None:
    """The date of a line that is only a date (with labels like "Posted" or a time)."""
    found = find_date(unit) if word_count(unit) <= 12 else None
    if not found:
        return None
    rest = unit.replace(found[1].group(), " ")
    rest = re.sub(r"(?i)\b(posted|published|updated|modified|date|time|on|at|am|pm|kst|gmt|utc|"
                  r"mon|tue|wed|thu|fri|sat|sun)\w*\b|[\d:.,|/()+\-–—]+", " ", rest)
    return found[0] if len(rest.split()) <= 1 else None


def _lead_dateline(unit: str) -> str | None:
    """The date of a news dateline opening the first paragraph: "SEOUL, Jan. 21, 2019 --"."""
    found = find_date(unit[:80])
    if not found or not re.fullmatch(r"[A-Z][\w .'’-]{1,40},?\s*", unit[:found[1].start()]):
        return None
    return found[0] if re.match(r"\s*(\([^)]*\))?\s*(--|—|–|-|:)", unit[found[1].end():]) else None


def _title_like(unit: str) -> bool:
    return (3 <= word_count(unit) <= 30 and not BULLET.match(unit) and not SECTION_MARK.match(unit)
            and not unit.endswith(".") and not EMAIL.search(unit)
            and not unit.islower())
