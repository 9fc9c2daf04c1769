"""Cleaning: from a scraped page's plain text to the article body, with the headline, byline
and dateline the text gives away (markup is turned into text before, in ``markup``).

It works like jusText. The text is cut into blocks (a line or a paragraph each) and each block
is *bad* (page chrome: share buttons, menus, "Top 10 Stories", "Next page", no letters, a run
of short bullet items), *good* (a long, sentence-like block) or *short* (anything else). Good
blocks are kept, and so are short ones lying between good ones (sub-headings); whatever comes
before the first good block or after the last one is dropped, except what is taken as the
headline, byline or dateline. A block repeating one of the few before it (a caption printed
twice) is dropped.
"""
from __future__ import annotations

import re

from .dates import find_date, parse_date
from .markup import html_to_text, markdown_to_text, word_count
from .types import Document

# The date and markup functions moved to their own modules; callers still find them here.
__all__ = ["BAD", "GOOD", "SHORT", "classify", "clean_article", "find_date", "html_to_text",
           "markdown_to_text", "parse_date", "split_units"]

GOOD, SHORT, BAD = "good", "short", "bad"
BULLET = re.compile(r"^[•·▪●○◦‣⁃*\-–—]\s+")
SECTION_MARK = re.compile(r"^[◆◇■□▶►▷▸※★☆▲△]")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A block ending in sentence punctuation (and closing quotes): what a brief is made of.
ENDS_LIKE_SENTENCE = re.compile(r"[.!?。！？…][\"'”’»)\]]*$")
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
        keep = [i for i in live if ENDS_LIKE_SENTENCE.search(units[i])]
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
