"""Which earlier questions of a conversation a question depends on, decided per question.

A question is searched with its conversation only when it shows that it needs it, and only
when the search with the conversation is the better-supported reading:

1. ``cues``: evidence in the question's own words that it leans on what came before: a
   reference word (it, they, he, she, there, then, that ..., "this story"; not "this week",
   the existential "there is", nor a possessive after a name the question gives), an ellipsis
   ("and in 2019?", "what about Daily NK?"), or too few content words to stand alone.
   Without a cue the question is searched alone, exactly as if it had no history.
2. ``thread``: the earlier question(s) it continues: the latest earlier question that stands
   alone by itself (preferring one that shares content words with the question, so that a
   question may refer back past the last one), with the follow-ups asked after it.
3. ``prefer_history``: both readings are searched (one more query vector, encoded in the same
   batch) and the history is kept when its best passage is at least as confident as the
   question's own best and the question's own search still supports it (``own_support``),
   or when the question is too vague, and too unsure alone, for its own search to judge.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Sequence

import numpy as np

from .lexical import tokenize

# Words that stand for something named earlier. "that"/"this"/"those"/"these" also start
# relative clauses and name things in place ("the company that ..."), so they count only at
# the end of the question or before a generic noun (see ``_DEMONSTRATIVE``).
REFERENCE_WORDS = frozenset(
    "it its it's itself they them their theirs themselves he him his himself she her hers "
    "herself there then".split())
GENERIC_NOUNS = (
    "story|report|article|news|case|event|incident|year|day|month|week|time|period|place|city|"
    "country|area|region|company|firm|group|organisation|organization|man|woman|person|people|"
    "official|deal|agreement|decision|law|rule|ban|plan|attack|war|move|program|programme|"
    "project|game|match|team|book|film|show|document|study|survey|figure|number|amount|one|ones")
_DEMONSTRATIVE = re.compile(
    rf"\b(?:that|this|those|these)\b(?:\s*[?.!]*\s*$|\s+(?:{GENERIC_NOUNS})s?\b)", re.I)
# "this week", "these days": the time of asking, read against the question's day (qa/timewords.py),
# not something named earlier ("that year" still is).
_DEICTIC_TIME = re.compile(
    r"\b(?:this|these)\s+(?:past\s+|coming\s+)?(?:year|day|month|week|weekend|time|period|season|"
    r"quarter|decade|century|morning|afternoon|evening)s?\b", re.I)
# Existential "there" ("how many are there in Warsaw?", "there were ...") points at no place.
_EXISTENTIAL_THERE = re.compile(
    r"\b(?:is|are|was|were|be|been)\s+there\b(?!\s*[?.!]*\s*$)|"
    r"\bthere\s+(?:is|are|was|were|be|been|exist|exists|existed|remain|remains|remained)\b", re.I)
# A possessive determiner names its owner in the question itself when a name comes before it
# ("Why did Tesla leave his job?", "What did North Korean smugglers ask their partners for?"):
# the usual reading in English. Object pronouns (it, them, him) cannot stand for their own
# clause's subject, and a possessive with no name before it ("What was his profession?") still
# points back.
POSSESSIVES = frozenset("its their his her".split())
_ELLIPSIS = re.compile(r"^\s*(?:and|but|also|so|what about|how about|same for|as for)\b", re.I)
_WORD = re.compile(r"[\w'’]+")
MIN_CONTENT_WORDS = 3  # fewer content words than this: too vague to be searched alone
# A question asked after another topic that the history drags to that topic's article scores
# that article low on its own words; a real follow-up's article stays near its own best.
MIN_OWN_SUPPORT = 0.6


class Cues(NamedTuple):
    """What in a question's words says it leans on the conversation."""

    reference: bool  # a reference word (it, they, that ...)
    ellipsis: bool  # starts like a continuation ("and ...", "what about ...")
    vague: bool  # fewer than MIN_CONTENT_WORDS content words

    def __bool__(self) -> bool:
        return self.reference or self.ellipsis or self.vague


def _named_before(words: Sequence[str], i: int) -> bool:
    """Whether a capitalised word (a name) comes before ``words[i]``, the question's first word
    aside (capitalised as the start of a sentence)."""
    return any(w[:1].isupper() for w in words[1:i])


def _unthere(match: re.Match) -> str:
    return re.sub("there", "_", match.group(0), flags=re.I)


def reference_words(question: str) -> list[str]:
    """The words of ``question`` that stand for something named earlier in the conversation
    (see ``REFERENCE_WORDS``, ``POSSESSIVES``; "this week" and existential "there" excluded)."""
    text = _EXISTENTIAL_THERE.sub(_unthere, _DEICTIC_TIME.sub(" ", question))
    words = _WORD.findall(text)
    found = []
    for i, word in enumerate(words):
        w = word.lower().replace("’", "'")
        if w in REFERENCE_WORDS and not (w in POSSESSIVES and _named_before(words, i)):
            found.append(word)
    found.extend(m.group(0) for m in _DEMONSTRATIVE.finditer(text))
    return found


def cues(question: str) -> Cues:
    """The evidence in ``question`` itself that it continues the conversation."""
    reference = bool(reference_words(question))
    return Cues(reference, bool(_ELLIPSIS.match(question)), len(set(tokenize(question))) < MIN_CONTENT_WORDS)


def thread(question: str, history: Sequence[str]) -> list[str]:
    """The earlier questions ``question`` continues, oldest first (empty: none).

    The anchor is an earlier question that stands alone (no cue): the latest that shares a
    content word with ``question``, else the latest of all; the follow-ups asked after the
    anchor (questions with cues, up to the next standalone one) come with it, since they
    continue the same subject. With no standalone earlier question, the whole history.
    """
    if not history:
        return []
    standalone = [i for i, h in enumerate(history) if not cues(h)]
    if not standalone:
        return list(history)
    own = set(tokenize(question))
    sharing = [i for i in standalone if own & set(tokenize(history[i]))]
    anchor = (sharing or standalone)[-1]
    used = [history[anchor]]
    for h in history[anchor + 1:]:
        if not cues(h):
            break
        used.append(h)
    return used


MAX_QUERY_CHARS = 4001  # a searched text at most as long as two questions of the most allowed


def expanded_query(question: str, used: Sequence[str]) -> str:
    """What is searched for a follow-up: its thread's questions (their end, when long), then
    the question itself."""
    thread_text = " ".join(used)[-max(MAX_QUERY_CHARS - len(question) - 1, 0):]
    return f"{thread_text} {question}" if thread_text else question


def own_support(own_rows: np.ndarray, own_scores: np.ndarray, row: int) -> float:
    """How well the question's own search supports chunk ``row`` (the history reading's best):
    its own score over its own best score; 0 when the row is not among its own candidates.
    ``own_scores``: the hybrid blend of each row (``Candidates.confidence``), in every mode."""
    where = np.flatnonzero(own_rows == row)
    top = float(own_scores.max()) if len(own_scores) else 0.0
    if not len(where) or top <= 0:
        return 0.0
    return float(own_scores[where[0]] / top)


def prefer_history(own_confidence: float, history_confidence: float, support: float,
                   confident: float, vague: bool = False) -> bool:
    """Keep the history when its reading's best passage is at least as confident as the
    question's own best, and the question itself still supports that passage (``support``,
    ``own_support``) at least ``MIN_OWN_SUPPORT`` of its own best; or, for a question too
    vague to stand alone (``Cues.vague``) that is not confident alone either (below the
    engine's abstention threshold ``confident``), whose own search cannot judge."""
    if history_confidence < own_confidence:
        return False
    return support >= MIN_OWN_SUPPORT or (vague and own_confidence < confident)
