"""Cleaning: from a scraped page's plain text to the article body, with the headline, credits
and dateline the text gives away (markup is turned into text before, in ``markup``).

It works like jusText, by general signals only (no word lists from some site's pages). The text
is cut into blocks (a line or a paragraph each) and each block is

- *bad* (page chrome): no letters, a bare link or address, link arrows (``>>``), a menu bar
  (``a | b | c``), a teaser cut short ("Next: Title of another story..."), a run of short link-like lines (menus, share buttons: three or more lines of
  at most four words without sentence punctuation), a run of short bullet items, or a line that
  recurs across several files of the corpus (the same site's chrome: ``recurring``, which the
  build sets from the whole corpus);
- a *credit* (``qa.credits``): byline, "Reported by ... Translated by ..." line, photo credit,
  sign-off, note about the reporter. Credits are article text: they stay, marked, and give the
  author and translator;
- *good* (a long, sentence-like block) or *short* (anything else).

The good blocks fall into clusters, split where a chrome block (five or more bad blocks) lies
between two good ones; small clusters at either end (less than a fifth of the others' words:
teasers, a block of headlines after the story) are far from the article and dropped, as is a
list of links closing it (a heading without a colon followed only by bullet items). Within it, short blocks are kept
(sub-headings); before it, a headline and dateline are taken out; the credits just before and
after it are kept. A block repeating one of the few before it (a caption printed twice) is
dropped.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import re
from typing import Iterable, Iterator

from . import credits as credit_lines
from .dates import find_date, parse_date
from .markup import html_to_text, markdown_to_text, word_count
from .types import Document

# The date and markup functions moved to their own modules; callers still find them here.
__all__ = ["BAD", "CREDIT", "GOOD", "SHORT", "classify", "clean_article", "find_date", "html_to_text",
           "line_key", "markdown_to_text", "parse_date", "recording", "recurring", "split_units"]

GOOD, SHORT, BAD, CREDIT = "good", "short", "bad", "credit"
BULLET = re.compile(r"^[•·▪●○◦‣⁃*\-–—]\s+")
SECTION_MARK = re.compile(r"^[◆◇■□▶►▷▸※★☆▲△]")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A block ending in sentence punctuation (and closing quotes): what a brief is made of.
ENDS_LIKE_SENTENCE = re.compile(r"[.!?。！？…][\"'”’»)\]]*$")
# Link arrows and legal notices: typography and law, the same on every site.
CHROME_ANYWHERE = re.compile(r">>|<<|»»|««|all rights reserved|^©|^\(c\) ?\d{4}|^copyright\b")
MENU_WORDS = 4  # a link-like line: at most this many words, no sentence punctuation
CHROME_GAP = 5  # bad blocks between two good ones: a chrome block, where the article may end
FAR_SHARE = 0.2  # an end cluster with less than this share of the others' good words is not the article
MENU_RUN = 3  # this many link-like lines in a row are a menu (two can be a headline and a kicker)
# A line found in at least this many distinct files of the corpus is that site's chrome. Two
# files can share lines honestly (two reports of one story quoting the same sentence, a story and
# its follow-up, a page saved twice); chrome repeats on every page of a site.
RECURRING_MIN_FILES = 3
RECURRING_MAX_WORDS = 40  # longer blocks are article paragraphs: not counted, never chrome


# The corpus-wide chrome a build hands to the cleaning of each file (line keys), and the keys
# the cleaning of a file saw (for the build to count). Context variables: each reader thread and
# Ray task sets its own.
_RECURRING: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("recurring", default=frozenset())
_RECORDER: contextvars.ContextVar[set | None] = contextvars.ContextVar("recorder", default=None)


def line_key(unit: str) -> str:
    """The key a block is counted by across files: its words, lower-case, digits as 0 (a footer's
    year, a count of comments), hashed to 16 hex digits."""
    words = re.sub(r"\d", "0", re.sub(r"[\W_]+", " ", unit.lower())).strip()
    return hashlib.blake2b(words.encode(), digest_size=8).hexdigest()


@contextlib.contextmanager
def recurring(keys: Iterable[str]) -> Iterator[None]:
    """Within it, blocks whose ``line_key`` is in ``keys`` are chrome (credits excepted)."""
    token = _RECURRING.set(frozenset(keys))
    try:
        yield
    finally:
        _RECURRING.reset(token)


@contextlib.contextmanager
def recording() -> Iterator[set[str]]:
    """Within it, the ``line_key`` of every countable block cleaned is added to the set yielded."""
    seen: set[str] = set()
    token = _RECORDER.set(seen)
    try:
        yield seen
    finally:
        _RECORDER.reset(token)


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
    """``bad`` (no letters, a link, link arrows, a menu bar), ``credit``, ``good`` (long and
    sentence-like) or ``short``. Whether a short line is a menu item depends on its neighbours,
    and whether a line is a site's chrome on the corpus: ``clean_article`` decides those."""
    key = re.sub(r"^[\W_]+", "", unit.lower())
    if (len(re.findall(r"[^\W\d_]", unit)) <= 2 or CHROME_ANYWHERE.search(key)
            or re.fullmatch(r"(https?://|www\.)\S+|\S+@\S+", key)):
        return BAD
    if word_count(unit) <= 12 and re.search(r"(\.\.\.|…)[\"'”’»)\]]*$", unit):
        return BAD  # a teaser cut short: a link to another page or story
    segments = re.split(r"\s[|›»>]\s", unit)
    if len(segments) >= 3 and all(len(s.split()) <= 3 for s in segments):  # a menu bar
        return BAD
    if credit_lines.is_credit(unit):
        return CREDIT
    words = word_count(unit)
    headline_like = _capital_ratio(unit) >= 0.6 and not unit.rstrip("\"'”’)]").endswith(".")
    if words >= 10 and re.search(r"[.!?。！？]", unit) and not headline_like:
        return GOOD
    return SHORT


def _link_like(unit: str) -> bool:
    """At most ``MENU_WORDS`` words of two letters or more, and no sentence end."""
    words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", unit) if len(w) >= 2]
    return len(words) <= MENU_WORDS and not ENDS_LIKE_SENTENCE.search(unit)


def clean_article(text: str, title: str | None = None) -> Document:
    """Keep the article body of ``text``, its credits marked; take headline and dateline out.

    The Document holds the body, its credit spans and the headline, author, translator and date
    the text itself gave away; the reader of the file fills in the rest (metadata first). With
    ``title`` given (from a JSON field or HTML meta), a headline line repeating it is dropped;
    without, the first title-like line before the body is taken as the title.
    """
    units = _dedupe(split_units(text))
    recorder = _RECORDER.get()
    if recorder is not None:
        recorder.update(line_key(u) for u in units if word_count(u) <= RECURRING_MAX_WORDS)
    kinds = [classify(u) for u in units]
    _mark_recurring(units, kinds, _RECURRING.get())
    _mark_menus(units, kinds)
    out, drop = Document(doc_id="", text=""), set()
    goods = _main_cluster(units, kinds)
    first = goods[0] if goods else len(units)
    for i, unit in enumerate(units[:max(10, first + 3)]):
        if kinds[i] not in (GOOD, CREDIT, BAD) and (day := _dateline(unit)):
            out.published = out.published or day
            drop.add(i)
    if goods and not out.published:
        out.published = _lead_dateline(units[goods[0]])
    if title:
        drop.update(i for i in range(min(len(units), 8)) if _key(units[i]) == _key(title))
    else:
        for i in range(first):  # the first title-like line before the article
            if i not in drop and kinds[i] == SHORT and _title_like(units[i]):
                out.title = units[i]
                drop.add(i)
                break
    live = [i for i in range(len(units)) if i not in drop and kinds[i] != BAD]
    if goods:
        keep = set(i for i in live if goods[0] <= i <= goods[-1])
        keep.update(_credits_near(units, kinds, goods, drop))
        keep = sorted(keep)
    else:  # no long paragraph: a brief, if it has sentences at all, and its credits
        keep = [i for i in live if ENDS_LIKE_SENTENCE.search(units[i]) or kinds[i] == CREDIT]
    out.text = "\n\n".join(units[i] for i in keep)
    out.credits = credit_lines.credit_spans(out.text)
    found = credit_lines.people(out.text)
    out.author = ", ".join((found.get("author") or found.get("writer") or [])[:4]) or None
    out.translator = ", ".join(found.get("translator", [])[:4]) or None
    return out


def _mark_recurring(units: list[str], kinds: list[str], keys: frozenset[str]) -> None:
    """Blocks that are the corpus's recurring chrome become bad, unless that would take half of
    the article's good words (then the file shares its article with others: a copy, not chrome)."""
    if not keys:
        return
    hits = [i for i, u in enumerate(units) if kinds[i] not in (BAD, CREDIT)
            and word_count(u) <= RECURRING_MAX_WORDS and line_key(u) in keys]
    good_words = sum(word_count(u) for u, k in zip(units, kinds) if k == GOOD)
    lost = sum(word_count(units[i]) for i in hits if kinds[i] == GOOD)
    if good_words and lost * 2 >= good_words:
        return
    for i in hits:
        kinds[i] = BAD


def _mark_menus(units: list[str], kinds: list[str]) -> None:
    """Runs of short link-like lines (a menu, share buttons) and of short bullet items become bad."""
    i = 0
    while i < len(units):
        j = i
        while j < len(units) and kinds[j] == SHORT and _link_like(units[j]):
            j += 1
        if j - i >= MENU_RUN:
            for x in range(i, j):
                kinds[x] = BAD
        i = max(j, i + 1)
    for i, unit in enumerate(units):
        neighbours = [units[j] for j in (i - 1, i + 1) if 0 <= j < len(units)]
        if BULLET.match(unit) and kinds[i] == SHORT and any(BULLET.match(x) for x in neighbours):
            kinds[i] = BAD


def _main_cluster(units: list[str], kinds: list[str]) -> list[int]:
    """The good blocks of the article. Good blocks are split into clusters where a chrome block
    (at least ``CHROME_GAP`` bad blocks: a menu, share buttons) lies between two; a cluster at
    either end holding less than ``FAR_SHARE`` of the good words of the others (teasers, a block
    of headlines) is far from the article and dropped, until one is left or none is so small."""
    goods = [i for i, k in enumerate(kinds) if k == GOOD]
    clusters: list[list[int]] = []
    for i in goods:
        if clusters and [kinds[x] for x in range(clusters[-1][-1] + 1, i)].count(BAD) < CHROME_GAP:
            clusters[-1].append(i)
        else:
            clusters.append([i])
    size = [sum(word_count(units[i]) for i in c) for c in clusters]
    lo, hi = 0, len(clusters)
    while hi - lo > 1:
        rest = sum(size[lo:hi])
        if size[lo] <= size[hi - 1] and size[lo] < FAR_SHARE * (rest - size[lo]):
            lo += 1
        elif size[hi - 1] < FAR_SHARE * (rest - size[hi - 1]):
            hi -= 1
        else:
            break
    main = [i for c in clusters[lo:hi] for i in c]
    return _without_link_list(units, kinds, main)


def _without_link_list(units: list[str], kinds: list[str], goods: list[int]) -> list[int]:
    """``goods`` without a list of links closing the article: a heading that does not introduce
    what follows (no colon, no sentence end) followed by nothing but bullet items to the end."""
    body = [i for i in goods if not BULLET.match(units[i])]
    if not body or body[-1] == goods[-1]:
        return goods
    heading = next((i for i in range(body[-1] + 1, goods[-1]) if kinds[i] == SHORT), None)
    if heading is None or re.search(r"[:：.!?]$", units[heading]):
        return goods
    rest = [i for i in range(heading + 1, len(units)) if kinds[i] not in (BAD, CREDIT)]
    if rest and all(BULLET.match(units[i]) for i in rest):
        for i in [heading] + rest:
            kinds[i] = BAD
        return [i for i in goods if i < heading]
    return goods


def _credits_near(units: list[str], kinds: list[str], goods: list[int], drop: set[int]) -> list[int]:
    """The credits just before and just after the article's good blocks: each side, until a good
    block or three other kept blocks (a byline over the headline, credits under the story)."""
    found = []
    for step, start in ((-1, goods[0] - 1), (1, goods[-1] + 1)):
        others, i = 0, start
        while 0 <= i < len(units) and kinds[i] != GOOD and others < 3:
            if kinds[i] == CREDIT and i not in drop:
                found.append(i)
            elif kinds[i] != BAD and i not in drop:
                others += 1
            i += step
    return found


def _dedupe(units: list[str]) -> list[str]:
    kept, recent = [], []
    for unit in units:
        key = _key(unit)
        if len(key.split()) >= 3 and key in recent:
            continue
        kept.append(unit)
        recent = (recent + [key])[-3:]
    return kept


def _dateline(unit: str) -> str | None:
    """The date of a line that is only a date (with labels like "Posted" or a time)."""
    found = find_date(unit) if word_count(unit) <= 12 else None
    if not found:
        return None
    rest = unit.replace(found.match.group(), " ")
    rest = re.sub(r"(?i)\b(posted|published|updated|modified|date|time|on|at|am|pm|kst|gmt|utc|"
                  r"mon|tue|wed|thu|fri|sat|sun)\w*\b|[\d:.,|/()+\-–—]+", " ", rest)
    return found.iso if len(rest.split()) <= 1 else None


def _lead_dateline(unit: str) -> str | None:
    """The date of a news dateline opening the first paragraph: "SEOUL, Jan. 21, 2019 --"."""
    found = find_date(unit[:80])
    if not found or not re.fullmatch(r"[A-Z][\w .'’-]{1,40},?\s*", unit[:found.match.start()]):
        return None
    after = unit[found.match.end():]
    return found.iso if re.match(r"\s*(\([^)]*\))?\s*(--|—|–|-|:)", after) else None


def _title_like(unit: str) -> bool:
    return (3 <= word_count(unit) <= 30 and not BULLET.match(unit) and not SECTION_MARK.match(unit)
            and not unit.endswith(".") and not EMAIL.search(unit)
            and not unit.islower())
