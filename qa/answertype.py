"""The kind of answer a question expects, and whether a piece of text holds one.

``expected(question)`` reads the question's wh-words ("who", "when", "how many", "which
country", ...) and gives ``"person"``, ``"org"``, ``"date"``, ``"number"``, ``"amount"``,
``"place"``, ``"name"`` (what something is called: "What was the battle called?") or ``None``. ``score(kind, text)`` says in 0..1 how much ``text`` looks like it holds
an answer of that kind, from patterns: dates (month names, years, days), numbers (digits and
spelled out), amounts (currency, percentages, number + million), capitalised name sequences
that do not merely open the sentence, and places after "in", "at", "from" and the like.

Patterns cost microseconds per sentence and need nothing but the text. Where the build found the
article's named entities (``qa.entities``: spaCy's English model), ``entity_score`` reads the
same kinds from their labels instead (``ENTITY_LABELS``); the quote selector uses it for a
sentence's own answer kind. Words the question itself holds do not count as the answer
(``exclude``): the answer to "Who founded Apple?" is not "Apple".
"""
from __future__ import annotations

import re
from functools import lru_cache

KINDS = ("person", "org", "date", "number", "amount", "place", "name")

# Up to three words between a wh-word and its noun ("which North Korean city"), none of them a
# verb of the question's own ("what did the company say" does not ask for a company).
_BETWEEN = r"(?:(?!(?:did|does|do|is|was|were|are|has|have|had|will|would|can|could|should|may|might)\b)\w[\w'’-]* ){0,3}"
_PERSON_NOUNS = (r"person|man|woman|men|women|people|player|players|president|leader|king|queen|"
                 r"minister|author|writer|singer|actor|actress|artist|scientist|officer|official|"
                 r"officials|director|chief|head|spokesman|spokeswoman|spokesperson|founder|emperor|"
                 r"general|pope|poet|composer|coach|captain|reporter|journalist|judge|governor|mayor|"
                 r"senator|chairman|candidate|child|son|daughter|wife|husband|brother|sister|father|"
                 r"mother|individual|defector|defectors|prime minister")
_ORG_NOUNS = (r"company|companies|firm|firms|team|teams|organi[sz]ations?|agency|agencies|party|"
              r"parties|group|groups|university|universities|club|clubs|bank|banks|network|"
              r"newspaper|band|school|college|institution|ministry|department|corporation|brand|"
              r"government|council|committee|union|army|unit|bureau|court|church|website|station")
_PLACE_NOUNS = (r"country|countries|city|cities|state|states|town|towns|region|regions|province|"
                r"provinces|county|village|continent|island|islands|river|nation|area|district|"
                r"borders|port|ports|capital|capitals|place|places|location|locations|venue|stadium|neighbo(?:u)?rhoods?|"
                r"streets?|areas|districts|villages|towns|counties|spots?|sites?")
_DATE_NOUNS = r"year|years|date|day|month|decade|century|time|era|period|season|week"

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in (
    ("amount", r"\bhow much\b|\bwhat (?:\w+ )?(?:percentage|percent|share|proportion|fraction|price|cost|"
               r"amount|sum|fee|salary|budget|rate|value)\b|\bhow (?:expensive|costly)\b"),
    ("number", r"\bhow (?:many|old|long|far|tall|high|big|large|deep|wide|often|heavy|fast)\b|"
               r"\bwhat (?:\w+ )?(?:number|size|age|population|distance|length|height|score)\b"),
    ("date", r"\bwhen\b|\b(?:what|which|in what|in which|on what|on which) " + _BETWEEN + r"(?:" + _DATE_NOUNS + r")\b|"
             r"\bsince when\b|\bhow long ago\b"),
    ("place", r"\bwhere\b|\b(?:what|which|in what|in which|from what|from which|to what|to which) "
              r"" + _BETWEEN + r"(?:" + _PLACE_NOUNS + r")\b"),
    ("org", r"\b(?:what|which|whose) " + _BETWEEN + r"(?:" + _ORG_NOUNS + r")\b"),
    ("name", r"\bwhat (?:is|was|are|were) (?:the|its|his|her|their) (?:\w+ )?names?\b(?! of (?:the |a |an )?(?:"
             + _PERSON_NOUNS + r")\b)|\bwhat (?:is|was|are|were) (?:\w+ ){1,4}(?:called|named|known as)\b"),
    ("person", r"\bwho(?:m|se)?\b|\b(?:what|which) " + _BETWEEN + r"(?:" + _PERSON_NOUNS + r")\b|"
               r"\bwhat (?:is|was) (?:the|his|her|their) name\b|\bnamed? whom\b"),
))


@lru_cache(maxsize=4096)
def expected(question: str) -> str | None:
    """The kind of answer ``question`` expects, from its wh-words; None when it does not say.

    The first kind whose pattern matches wins, in the order amount, number, date, place, org,
    person ("How much did the company pay?" is an amount, "Which company ..." an org even with
    "who" later in the question).
    """
    found: list[tuple[int, int, str]] = []
    for order, (kind, pattern) in enumerate(_RULES):
        match = pattern.search(question)
        if match:
            found.append((match.start(), order, kind))
    if not found:
        return None
    # The wh-phrase that comes first in the question; on the same start, the rule order.
    return min(found)[2]


MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
          r"jan\.?|feb\.?|mar\.?|apr\.?|jun\.?|jul\.?|aug\.?|sept?\.?|oct\.?|nov\.?|dec\.?")
DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
                "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
                "eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions|"
                "trillion|dozen|dozens|half|double|twice|triple")

_MONTH = re.compile(rf"\b(?:{MONTHS})(?=\W|$)(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?", re.I)
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b|\b'\d0s\b")
_DAY = re.compile(rf"\b(?:{DAYS})\b|\b(?:yesterday|today|last (?:week|month|year))\b|\b\d{{1,2}}(?:st|nd|rd|th)\s+century\b|"
                  r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b", re.I)
_DIGITS = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])|\b\d+(?:st|nd|rd|th)\b")
_SPELLED = re.compile(rf"\b(?:{NUMBER_WORDS})\b", re.I)
_CURRENCY = re.compile(r"[$£€¥₩]\s?\d|\b\d[\d,.]*\s?(?:%|percent\b|per cent\b|dollars?\b|euros?\b|pounds?\b|"
                       r"yen\b|yuan\b|won\b|rupees?\b|rubles?\b|roubles?\b|francs?\b|usd\b|eur\b|gbp\b|cents?\b)|"
                       r"\b(?:usd|eur|gbp|us\$|rmb|krw)\s?\d|\b\d[\d,.]*\s?(?:million|billion|trillion|bn|m)\b|"
                       rf"\b(?:{NUMBER_WORDS})\s+(?:percent|per cent|dollars|euros|pounds|yuan|won)\b", re.I)
# A capitalised word, optionally followed by more (with the particles names hold).
_NAME = re.compile(r"(?<![\w'’-])[A-Z][\w'’.-]*(?:\s+(?:(?:de|van|von|der|da|del|bin|al|le|la|du|of|the)\s+)?"
                   r"[A-Z][\w'’.-]*)*")
_PLACE_AFTER = re.compile(r"\b(?:in|at|from|near|to|into|across|outside|inside|throughout|toward|towards)\s+"
                          r"(?:the\s+)?([A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)")
_ORG_WORDS = re.compile(r"\b(?:Company|Corporation|Corp|Inc|Ltd|Group|Bureau|Ministry|Department|Agency|"
                        r"University|College|Party|Association|Council|Committee|Bank|Trading|Army|Force|"
                        r"Forces|Institute|Foundation|Union|Organi[sz]ation|Network|Club|Team|Times|News|"
                        r"Post|Service|Commission|Office|Court|Board|Church|Society|League)\b")
_TITLES = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sir|Lady|Lord|President|Minister|Gen|Col|Lt|Sgt|Capt|King|"
                     r"Queen|Prince|Princess|Pope|Saint|St|Senator|Sen|Rep|Gov|Mayor|Judge|Chairman)\b\.?\s+[A-Z]")
# Capitalised words that are not names (sentence openers, pronouns, months, days).
_NOT_NAMES = frozenset("""
i a an the this that these those he she it we they his her its our their my your you there here
however but and or so yet if when while although though after before because since as at in on
of for to from by with what which who whom whose where why how also then now still meanwhile
according mr mrs ms dr
""".split()) | frozenset(MONTHS.replace("\\.?", "").replace("\\", "").split("|")) | frozenset(DAYS.split("|"))


def _words(text: str) -> set[str]:
    return {w.casefold() for w in re.findall(r"\w+", text)}


def names(text: str, exclude: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Capitalised word sequences of ``text`` that read as names: not a lone sentence opener,
    not a pronoun, month or day, and not made only of words in ``exclude`` (case-folded)."""
    out = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        # Drop leading words that are capitalised only because they open the sentence.
        at = match.start()
        opener = at == 0 or re.search(r"[.!?:;\"“(]\s*$", text[:at]) is not None
        while words and (words[0].casefold().strip(".") in _NOT_NAMES or
                         (opener and len(words) == 1)):
            words = words[1:]
            opener = False
        if not words:
            continue
        for name in _split_at_stops(words):
            if not all(w.casefold().strip(".,'’") in exclude for w in name):
                out.append(" ".join(name))
    return out


def _split_at_stops(words: list[str]) -> list[list[str]]:
    """A capitalised run cut where a word ends a sentence ("Beijing. The"): a word of more
    than three letters ending in a full stop; initials and titles ("J.", "Mr.") do not."""
    parts, part = [], []
    for w in words:
        part.append(w)
        if w.endswith(".") and len(w.rstrip(".")) > 3:
            parts.append(part)
            part = []
    if part:
        parts.append(part)
    out = []
    for p in parts:
        p = [w.rstrip(".") if len(w.rstrip(".")) > 3 else w for w in p]
        while p and p[0].casefold().strip(".") in _NOT_NAMES:
            p = p[1:]
        if p:
            out.append(p)
    return out


def score(kind: str | None, text: str, exclude: frozenset[str] | set[str] = frozenset()) -> float:
    """How much ``text`` looks like it holds an answer of ``kind``, in 0..1 (0 for ``None``).

    ``exclude``: case-folded words of the question; a name made only of them does not count.
    1.0: a clear match (a month name or a year for a date, "$5 million" or "30%" for an amount,
    a two-word name for a person); 0.5: a weaker one (a weekday for a date, a bare number for
    an amount, a one-word name); 0 otherwise.
    """
    if kind is None:
        return 0.0
    if kind == "date":
        if _MONTH.search(text) or _YEAR.search(text):
            return 1.0
        return 0.5 if _DAY.search(text) else 0.0
    if kind == "amount":
        if _CURRENCY.search(text):
            return 1.0
        return 0.5 if _DIGITS.search(text) or _SPELLED.search(text) else 0.0
    if kind == "number":
        digits = [m for m in _DIGITS.finditer(text) if not _YEAR.fullmatch(m.group(0))]
        if digits or _CURRENCY.search(text):
            return 1.0
        if _SPELLED.search(text):
            return 1.0 if re.search(rf"\b(?:{NUMBER_WORDS})\s+\w", text, re.I) else 0.5
        return 0.5 if _YEAR.search(text) else 0.0
    if kind == "place":
        places = [p for p in _PLACE_AFTER.findall(text) if not _only_excluded(p, exclude)
                  and p.split()[0].casefold() not in _NOT_NAMES]
        if places:
            return 1.0
        return 0.5 if names(text, exclude) else 0.0
    found = names(text, exclude)
    if kind == "name":
        if any(len(n.split()) >= 2 for n in found) or re.search(r"[\"“][^\"”]+[\"”]", text):
            return 1.0
        return 0.5 if found else 0.0
    if kind == "org":
        if any(_ORG_WORDS.search(n) for n in found) or re.search(r"\b[A-Z]{2,}\b", text):
            return 1.0
        return 0.5 if found else 0.0
    if kind == "person":
        if _TITLES.search(text) or any(len(n.split()) >= 2 and not _ORG_WORDS.search(n) for n in found):
            return 1.0
        return 0.5 if found else 0.0
    raise ValueError(f"unknown answer kind {kind!r}: use one of {', '.join(KINDS)}")


# The named-entity labels (OntoNotes', as ``qa.entities`` finds them) that hold an answer of each
# kind clearly (1.0) or possibly (0.5): "who" may be answered by a group ("the North Koreans") or
# an organisation, "how many" by a span the recogniser reads as a date ("five years").
ENTITY_LABELS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "person": (frozenset({"PERSON"}), frozenset({"NORP", "ORG"})),
    "org": (frozenset({"ORG"}), frozenset({"NORP", "GPE", "PERSON"})),
    "date": (frozenset({"DATE"}), frozenset({"TIME"})),
    "number": (frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}), frozenset({"ORDINAL", "DATE", "TIME"})),
    "amount": (frozenset({"MONEY", "PERCENT"}), frozenset({"CARDINAL", "QUANTITY"})),
    "place": (frozenset({"GPE", "LOC", "FAC"}), frozenset({"ORG", "NORP"})),
    "name": (frozenset({"WORK_OF_ART", "EVENT", "PRODUCT", "LAW", "ORG", "PERSON", "FAC", "GPE", "LOC", "NORP",
                        "LANGUAGE"}), frozenset()),
}


def entity_score(kind: str | None, found: list[tuple[str, str]],
                 exclude: frozenset[str] | set[str] = frozenset()) -> float:
    """``score`` read from named entities instead of patterns: ``found`` is the (text, label) of
    each entity in the text; one whose words are all the question's own (``exclude``) does not
    count. 1.0 for an entity of a label that answers ``kind``, 0.5 for one that may, else 0."""
    if kind is None:
        return 0.0
    if kind not in ENTITY_LABELS:
        raise ValueError(f"unknown answer kind {kind!r}: use one of {', '.join(KINDS)}")
    strong, weak = ENTITY_LABELS[kind]
    best = 0.0
    for text, label in found:
        if label in strong or label in weak:
            if _words(text) <= exclude:
                continue
            if label in strong:
                return 1.0
            best = 0.5
    return best


def _only_excluded(name: str, exclude: frozenset[str] | set[str]) -> bool:
    return all(w.casefold().strip(".,'’") in exclude for w in name.split())


def holds(kind: str | None, text: str, exclude: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``text`` clearly holds an answer of ``kind`` (``score`` of 1)."""
    return score(kind, text, exclude) >= 1.0


def question_words(question: str) -> frozenset[str]:
    """The case-folded words of ``question``: what ``exclude`` takes."""
    return frozenset(_words(question))
