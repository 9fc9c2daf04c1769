"""Credits: bylines, "Reported by / Translated by / Written in English by" lines, photo credits and
notes about the reporter. They are article text (ingestion keeps them, citable), marked as
credits so that the engine can rank them for questions about who wrote, reported, translated or
photographed a story, and keep them out of the way otherwise.

Everything here is a pure function of text, so the cleaner (which marks the credits of a
document), the engine (which reads an article's credit sentences) and ``Engine.document`` agree
by construction: ``credit_spans(text)`` of a cleaned text gives the same spans each time.
"""
from __future__ import annotations

import re
from typing import Iterable, NamedTuple

from .lexical import tokenize

NAME_TOKEN = r"(?:[A-Z][\w'’.-]*|(?:de|van|von|der|den|da|del|dos|bin|al|le|la|du))"
NAME = rf"[A-Z][\w'’.-]*(?:\s+{NAME_TOKEN}){{0,4}}"
# The role a "... by Name" phrase gives: what the person did for the story.
ROLES = {
    "writer": r"(?:written|rewritten|adapted)\s+(?:in|into)\s+[A-Z]\w+",  # the English version's writer
    "author": r"(?:story|text|words|report(?:ed|ing)?|written|writing|compiled|"
              r"produced|(?:additional|further)\s+reporting|research(?:ed)?|interview(?:ed|s)?)",
    "translator": r"(?:translat(?:ed|ion)(?:\s+(?:from|into)\s+[A-Z]\w+)?)",
    "editor": r"(?:edit(?:ed|ing))",
    "photographer": r"(?:photo(?:graph)?s?(?:\s+taken)?|photographed|pictures?|images?|video|"
                    r"graphics?|illustrat(?:ed|ions?))",
}
# "<role> by Name" opening the block or one of its sentences (not "... was reported by Yonhap"
# inside an article's sentence).
ROLE_BY = re.compile(r"(?:^|(?<=[.;!?)] )|(?<=[(\[]))(?i:(?P<role>" + "|".join(f"(?P<{k}>{v})" for k, v in ROLES.items())
                     + rf"))\s+(?i:by)[:\s]\s*(?P<name>{NAME})")
BYLINE = re.compile(rf"^(?:by|from)[:\s]\s*(?P<name>{NAME})", re.I)
# "Photo: Name", "Image: Agency", "Credit: Name", and a caption's trailing "/ Agency".
PHOTO_LABEL = re.compile(rf"\b(?:photo(?:graph)?s?|image|picture|credit|source)(?:\s+credit)?\s*:\s*"
                         rf"(?P<name>{NAME})", re.I)
# "-- Name" signing a section; "Contributing: Name" (who else reported).
SIGNED = re.compile(rf"^(?:[-–—]{{1,2}}\s*|(?i:contribut(?:ing|ors?|ed by)|additional reporting)\s*:?\s*)(?P<name>{NAME})\s*$")
CAPTION_SLASH = re.compile(rf"\s/\s*(?P<name>{NAME})\s*\.?$")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A note about the reporter: a name and what the reporter is or has done, with the trade's words.
BIO = re.compile(rf"^(?P<name>{NAME})\s+(?:is|was|has been|has|holds|covers|writes|reports|joined|"
                 rf"studied|graduated)\b")
BIO_WORDS = re.compile(r"\b(?:reporters?|correspondents?|journalists?|editors?|writers?|columnists?|"
                       r"contributors?|photographers?|photojournalists?|freelance (?:reporter|writer|journalist)|"
                       r"can be reached)\b", re.I)
MAX_CREDIT_WORDS = 60  # a credit line or a reporter's note; an article paragraph is longer


class Credit(NamedTuple):
    """A person (or agency) a credit names, and the role it gives: author, writer (of a version in
    another language), translator, editor, photographer."""

    role: str
    name: str


def _names(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" .,;:")


def _trim_name(name: str) -> str:
    """A name ends before a lower-case word, a sentence end or a digit."""
    words = []
    for token in name.split():
        core = token.rstrip(".,;:")
        if not core or not (core[0].isupper() or core in {"de", "van", "von", "der", "den", "da", "del",
                                                          "dos", "bin", "al", "le", "la", "du"}):
            break
        words.append(core)
        if token != core or core.endswith("."):
            break
    while words and not words[-1][0].isupper():
        words.pop()
    return " ".join(words)


def credits_in(unit: str) -> list[Credit]:
    """The credits a block of text gives (empty when it is not a credit block).

    A credit block is short (at most ``MAX_CREDIT_WORDS`` words) and is a byline ("By Name"),
    a "<role> by Name" line ("Reported by ... Translated by ... Written in English by ..."), a
    photo credit ("Photo: Name", a caption's "/ Agency"), a sign-off ("Name name@site"), or a note
    about the reporter ("Name is a correspondent ...", "Name has a M.A. in ... from ...").
    """
    parts = unit.split(None, MAX_CREDIT_WORDS)  # stops counting past the limit: paragraphs are long
    if not parts or len(parts) > MAX_CREDIT_WORDS:
        return []
    unit, words = " ".join(parts), len(parts)
    found: list[Credit] = []
    if words <= 12 and (m := BYLINE.match(unit)):
        for part in re.split(r"\s*(?:,|;|\band\b|&)\s*", unit[m.start("name"):]):
            name = _trim_name(re.split(r"\s+(?:for|of|at|with|in)\s", part)[0])
            if name and len(name) > 2 and not re.search(r"\d", name):
                found.append(Credit("author", name))
            else:
                break
    pos = 0
    while m := ROLE_BY.search(unit, pos):  # a name may run into the next credit: search on from it
        pos = m.start("name")
        role = next(k for k in ROLES if m.group(k))
        tail = unit[m.start("name"):]
        for part in re.split(r"\s*(?:,|\band\b|&)\s*", tail):
            name = _trim_name(re.split(r"\s+(?:for|of|at|with|in|from)\s", part)[0])
            if not name:
                break
            found.append(Credit(role, name))
            if re.search(r"[.;]\s*$|[.;]\s", part) and not part.rstrip().endswith(name):
                break
            if part.rstrip(" ").endswith("."):
                break
    if words <= 8 and (m := SIGNED.match(unit)):
        found.append(Credit("author", _trim_name(m.group("name"))))
    for m in PHOTO_LABEL.finditer(unit):
        name = _trim_name(m.group("name"))
        if name:
            found.append(Credit("photographer", name))
    if not found and words > 8 and (m := CAPTION_SLASH.search(unit)):
        found.append(Credit("photographer", _trim_name(m.group("name"))))
    if not found and EMAIL.search(unit) and words <= 8:
        rest = re.sub(r"(?i)\b(e-?mail|contact|at)\b:?", " ", EMAIL.sub(" ", unit))
        rest = _names(re.sub(r"[()<>\[\]|,;:]|\s[–—-]+\s", " ", rest))
        if rest and _trim_name(rest) == rest and len(rest.split()) <= 5:
            found.append(Credit("author", rest))
    if not found and (m := BIO.match(unit)) and BIO_WORDS.search(unit):
        name = _trim_name(m.group("name"))
        if name and 1 <= len(name.split()) <= 5:
            found.append(Credit("author", name))
    return [c for c in found if c.name and len(c.name) > 1]


def is_credit(unit: str) -> bool:
    return bool(credits_in(unit))


BLOCK = re.compile(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*")  # a paragraph: lines up to a blank one


def credit_spans(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    """(start, end) in ``text`` of its credit blocks: the paragraphs (blocks between blank lines,
    as the cleaner joins them) that ``credits_in`` reads credits from. For a caption that ends in
    "/ Agency", only that tail is a credit (the caption itself is article text).

    ``lo``, ``hi``: only the blocks that overlap ``text[lo:hi]`` are read (a passage's own)."""
    hi = len(text) if hi is None else hi
    spans = []
    for m in BLOCK.finditer(text):
        if m.end() <= lo:
            continue
        if m.start() >= hi:
            break
        block = m.group(0)
        found = credits_in(block)
        if not found:
            continue
        slash = CAPTION_SLASH.search(block) if all(c.role == "photographer" for c in found) else None
        label = PHOTO_LABEL.search(block) if slash is None and all(c.role == "photographer" for c in found) else None
        if slash and len(block.split()) > 8:
            spans.append((m.start() + slash.start() + 1, m.end()))
        elif label and label.start() > 0 and len(block[:label.start()].split()) > 8:
            spans.append((m.start() + label.start(), m.end()))
        else:
            spans.append((m.start(), m.end()))
    return spans


def people(text: str) -> dict[str, list[str]]:
    """Names by role across the credit blocks of ``text``, first seen first, each once."""
    out: dict[str, list[str]] = {}
    for start, end in credit_spans(text):
        for credit in credits_in(text[start:end]):
            names = out.setdefault(credit.role, [])
            if credit.name not in names:
                names.append(credit.name)
    return out


# --- questions about credits -------------------------------------------------------------------

ASKS = re.compile(
    r"\b(?:who|whom|whose|which\s+(?:reporter|journalist|writer|author|correspondent|translator|"
    r"photographer|person|people))\b.*\b(?:wr[io]te|written|writ(?:e|es|ing)|report(?:ed|s|ing)?|"
    r"translat\w*|photograph\w*|took\s+the\s+(?:photo|picture)|author\w*|byline|edit(?:ed|s)?|"
    r"filed|compiled|produced|reporter|journalist|correspondent|writer)\b"
    r"|\b(?:author|reporter|journalist|correspondent|translator|photographer|byline|writer)s?\b",
    re.I | re.S)
CREDIT_WORDS = frozenset(tokenize(
    "who whom whose which what wrote written write writes writing report reported reports reporting "
    "reporter reporters translated translate translation translator photographed photograph photo "
    "picture took author authors byline edited editor filed compiled produced journalist correspondent "
    "writer version story article piece the a an of this that it by in for did was were is are has have "
    "do does about and"))


def asks_for_credits(question: str) -> bool:
    """Whether ``question`` asks who wrote, reported, translated, edited or photographed a story,
    or about its reporter."""
    return bool(ASKS.search(question))


def names_person(sentence: str) -> bool:
    """Whether ``sentence`` is a credit that names someone."""
    return any(c.name for c in credits_in(sentence))


def story_words(question: str) -> set[str]:
    """The question's words that say which story it is about (its credit words left out)."""
    return {t for t in tokenize(question) if t not in CREDIT_WORDS}


def story_match(question: str, article: str) -> float:
    """How much of the question's story words ``article`` (its title, publisher and text)
    holds: 1.0 when the question names no story (a follow-up's query carries the story)."""
    words = story_words(question)
    if not words:
        return 1.0
    have = set(tokenize(article))
    return len(words & have) / len(words)


def credit_sentences(spans: Iterable[tuple[int, int]], blocks: list[tuple[int, int]]) -> list[bool]:
    """For each sentence span, whether it lies mostly inside one of the credit ``blocks``
    (``credit_spans`` of the text, or those of them around the spans)."""
    flags = []
    for s, e in spans:
        inside = sum(max(0, min(e, b) - max(s, a)) for a, b in blocks)
        flags.append(inside * 2 > (e - s))
    return flags


# --- the engine's hook -------------------------------------------------------------------------

STORY_MATCH = 0.5  # at least half of the question's story words in the article


class Highlight(NamedTuple):
    """The sentence a passage highlights, and whether it is a credit chosen for a credit question."""

    start: int
    end: int
    credited: bool


def ranked_sentences(table, i: int) -> list[tuple[int, int, float]]:
    """(doc start, doc end, score) of the i-th candidate's sentences, in text order, scored as
    ``SentenceTable.best`` scores them."""
    from .retrieve import _scaled

    ids, sims, lex = table[i]
    w = table.blend
    blended = w.sentence * sims + w.sentence_bm25 * _scaled(lex, table.best_lexical())
    return [(int(table.rows[s][1]), int(table.rows[s][2]), float(b)) for s, b in zip(ids, blended)]


def _personal(name: str) -> bool:
    """A person's name, as far as text shows: two to five words, not "The ..." (an agency)."""
    return 2 <= len(name.split()) <= 5 and name.split()[0].lower() != "the"


def choose_highlight(question: str, article: str, doc_text: str, sentences: list[tuple[int, int, float]],
                     best: tuple[int, int]) -> Highlight:
    """The highlight of a passage (doc offsets). For a question about credits (``asks_for_credits``)
    in an article matching its story words, or one naming a person a credit of the passage names
    ("What did Mun Dong Hui study?"), the best-scored credit sentence that names someone;
    otherwise the best sentence, unless it is a credit, then the best other one.

    ``article``: the article's title, publisher and text (what its story words are looked for in);
    ``sentences``: (start, end, score) of the passage's sentences; ``best``: the retriever's choice.
    """
    spans = [(s, e) for s, e, _ in sentences]
    if not spans:
        return Highlight(best[0], best[1], False)
    # Only the credit blocks around the passage's sentences can flag or name one of them.
    blocks = credit_spans(doc_text, min(s for s, _ in spans), max(e for _, e in spans))
    if not blocks:
        return Highlight(best[0], best[1], False)
    flags = credit_sentences(spans, blocks)
    asked = set(tokenize(question))
    about = [(a, b) for a, b in blocks  # credit blocks naming a person (two words or more) the question names
             if any(c.role != "photographer" and _personal(c.name) and set(tokenize(c.name)) <= asked
                    for c in credits_in(doc_text[a:b]))]
    if about or (asks_for_credits(question) and story_match(question, article) >= STORY_MATCH):
        named = [(score, s, e) for (s, e, score), flag in zip(sentences, flags)
                 if flag and any(a <= s and e <= b and names_person(doc_text[a:b]) for a, b in (about or blocks))]
        if named:
            _, s, e = max(named, key=lambda x: x[0])
            return Highlight(s, e, True)
    if any(f and (s, e) == tuple(best) for (s, e), f in zip(spans, flags)):
        others = [(score, s, e) for (s, e, score), flag in zip(sentences, flags) if not flag]
        if others:
            _, s, e = max(others, key=lambda x: x[0])
            return Highlight(s, e, False)
    return Highlight(best[0], best[1], False)


def annotate(doc):
    """``doc`` (a ``Document`` read back from an index) with its credit spans, and its translator
    when it has none: both are read from its text, as ingestion read them."""
    doc.credits = credit_spans(doc.text)
    if not doc.translator:
        doc.translator = ", ".join(people(doc.text).get("translator", [])[:4]) or None
    return doc
