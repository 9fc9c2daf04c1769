"""The quoted sentence: which sentence of a shown passage answers the question.

Every passage is shown with one highlighted sentence, and the first passage's is the quote a
reader in a hurry takes for the answer. The retriever's own choice (``SentenceTable.best``) is
the sentence with the best blend of cosine and BM25 with the question; this module chooses
instead from more signals of each sentence of the passage (``FEATURES``):

- its cosine and BM25 with the question (as they are, and against the passage's best),
- how much of the question's terms it covers (stemmed, IDF-weighted), alone and with its
  neighbours, and how close together the terms it holds stand,
- whether it holds the kind of answer the question expects (a person for "who", a date for
  "when", a number for "how many", ...: from the named entities the build found in the article,
  ``qa.entities``, or from patterns, ``qa.answertype``), and what it adds to the question,
- its place in the passage and in the article, its length, whether it opens with a word that
  refers back ("He", "It", "The company").

A logistic model over these (weights in ``quote_model.json``, trained by
``benchmarks/train_quote.py`` on half of squad-dev, whose answers mark the sentence; numpy only
here) scores each sentence; the passage's best scored is quoted, with the sentence before it
when it opens by referring back to it (``needs_previous``), and with its neighbour when that
one is the runner-up by less than the model's ``adjacent_margin`` (the model cannot tell which
of the two answers: quoting both costs a sentence, choosing wrong costs the answer). ``whole`` keeps a highlight from
cutting a sentence's first words where the splitter cut after "Mr." or an initial.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import answertype
from .bm25 import STOPWORDS, TOKEN_RE, _stemmer
from .lexical import tokenize

MODEL_FILE = Path(__file__).with_name("quote_model.json")

FEATURES = (
    "cosine", "cosine_best", "bm25", "bm25_gap", "coverage", "coverage_best", "coverage_window",
    "pairs", "proximity", "answer_type", "answer_type_window", "type_and_coverage", "new_words",
    "first_in_passage", "position_in_passage", "position_in_article", "log_words", "short",
    "refers_back", "previous_coverage", "next_coverage", "rarest_term", "terms_elsewhere",
)

# Words opening a sentence that refer back to something named before it.
REFERRING = re.compile(
    r"^[\"“']?(?:he|she|it|they|his|her|its|their|him|them|this|that|these|those|there|such|"
    r"the (?:company|firm|group|team|organi[sz]ation|agency|ministry|government|man|woman|city|"
    r"country|band|club|party|state|university|school|move|report|plan|deal|program(?:me)?|"
    r"official|source|regime|project|book|film|album|song|show|series|event|building|church)|"
    r"both|the two|the latter|the former)\b", re.I)
SHORT_WORDS = 6  # a sentence of fewer words is short (a fragment, a heading, "He did.")

# Abbreviations a full stop ends without ending the sentence: titles and the like, always
# followed by more of the same sentence ("Mr. Kim"), and others that may also end one ("U.S.",
# "Inc."): a highlight starting right after a title or an initial was cut by the sentence
# splitter, and the cut is undone (``whole``); after the others, only when the highlight goes
# on in lower case.
TITLES = frozenset("""
mr mrs ms dr prof sr jr st gen col lt sgt capt cmdr adm maj rep sen gov pres rev hon mt ft no
vol fig vs
""".split())
ABBREVIATIONS = TITLES | frozenset("""
inc ltd corp co bros dept univ est approx etc jan feb mar apr jun jul aug sep sept oct nov dec
u.s u.k u.n e.g i.e a.m p.m
""".split())
_LAST_WORD = re.compile(r"([\w.]+)\.[\"'”’)\]]*\s*$")


@dataclass
class Passage:
    """One shown passage's sentences and their retrieval scores.

    ``spans``: (start, end) of each sentence in ``doc_text``, in text order; ``cosines`` and
    ``bm25``: each sentence's cosine and BM25 with the question; ``best_bm25``: the best sentence
    BM25 among all candidates of the question (what the retriever scales by). ``entities``: the
    named entities (start, end, label) of ``doc_text`` the build found (``qa.entities``), or
    None when it found none: each sentence's answer kind is then read from patterns.
    """

    doc_text: str
    spans: Sequence[tuple[int, int]]
    cosines: np.ndarray
    bm25: np.ndarray
    best_bm25: float
    start: int = 0
    end: int = -1
    entities: Sequence[tuple[int, int, str]] | None = None


class Question:
    """A question as the selector reads it: its expected answer kind, its stemmed terms with
    their IDF, its words (which do not count as the answer)."""

    def __init__(self, text: str, idf: Callable[[str], float] | None = None) -> None:
        self.text = text
        self.kind = answertype.expected(text)
        self.exclude = answertype.question_words(text)
        tokens = tokenize(text)
        terms = list(dict.fromkeys(tokens))
        self.weights = {t: (idf(t) if idf else 1.0) for t in terms}
        self.pairs = set(zip(tokens, tokens[1:]))  # the question's adjacent terms: its phrases
        self.total = sum(self.weights.values()) or 1.0
        self.rarest = max(self.weights, key=self.weights.get) if self.weights else None


def _coverage(q: Question, tokens: set[str]) -> float:
    return sum(w for t, w in q.weights.items() if t in tokens) / q.total


def _proximity(q: Question, tokens: list[str]) -> float:
    """How tightly the question's terms stand together in the sentence: the distinct terms
    found divided by the shortest window of tokens holding them all (0 with fewer than two)."""
    hits = [(i, t) for i, t in enumerate(tokens) if t in q.weights]
    need = len({t for _, t in hits})
    if need < 2:
        return 0.0
    best, counts, left = len(tokens), {}, 0
    for right, (i, t) in enumerate(hits):  # the shortest run of hits holding every term found
        counts[t] = counts.get(t, 0) + 1
        while len(counts) == need:
            best = min(best, i - hits[left][0] + 1)
            u = hits[left][1]
            counts[u] -= 1
            if not counts[u]:
                del counts[u]
            left += 1
    return need / best


def _tokenize_all(texts: list[str]) -> list[list[str]]:
    """``tokenize`` of each text, the stemmer called once for all of them."""
    words = [[w for w in TOKEN_RE.findall(t.lower()) if w not in STOPWORDS] for t in texts]
    stems = _stemmer().stemWords([w for ws in words for w in ws])
    out, at = [], 0
    for ws in words:
        out.append(stems[at:at + len(ws)])
        at += len(ws)
    return out


def entity_kind_scores(q: Question, p: Passage) -> np.ndarray:
    """Whether each sentence holds an entity of the kind of answer asked for, from the passage's
    named entities (``answertype.entity_score``; ``p.entities`` must not be None)."""
    out = np.zeros(len(p.spans))
    if not q.kind:
        return out
    strong, weak = answertype.ENTITY_LABELS[q.kind]
    ents = [x for x in p.entities or () if x[2] in strong or x[2] in weak]
    for j, (s, e) in enumerate(p.spans):
        found = [(p.doc_text[a:b], label) for a, b, label in ents if a >= s and b <= e]
        if found:
            out[j] = answertype.entity_score(q.kind, found, q.exclude)
    return out


def features(q: Question, p: Passage) -> np.ndarray:
    """One row of ``FEATURES`` per sentence of the passage."""
    n = len(p.spans)
    texts = [p.doc_text[s:e] for s, e in p.spans]
    tokens = _tokenize_all(texts)
    sets = [set(t) for t in tokens]
    cov = np.array([_coverage(q, s) for s in sets])
    cos = np.asarray(p.cosines, dtype="float64")
    lex = np.asarray(p.bm25, dtype="float64")
    top_lex = float(lex.max()) if n else 0.0
    # The answer kind from patterns; the sentence's own column from its named entities when the
    # build found them (its neighbours' and the product with coverage keep the patterns: README,
    # "The quoted sentence").
    kind_scores = np.array([answertype.score(q.kind, t, q.exclude) for t in texts]) if q.kind else np.zeros(n)
    own_kind = entity_kind_scores(q, p) if p.entities is not None else kind_scores
    doc_len = max(len(p.doc_text), 1)
    rows = np.zeros((n, len(FEATURES)))
    top_cos, top_cov = (float(cos.max()), float(cov.max())) if n else (0.0, 0.0)
    elsewhere = set().union(*sets) if sets else set()  # the question's terms the passage has
    for j in range(n):
        window = sets[j] | (sets[j - 1] if j else set()) | (sets[j + 1] if j + 1 < n else set())
        words = len(texts[j].split())
        new = [t for t in tokens[j] if t not in q.weights]
        pairs = len(q.pairs & set(zip(tokens[j], tokens[j][1:]))) / len(q.pairs) if q.pairs else 0.0
        rows[j] = (
            cos[j], float(cos[j] >= top_cos),
            lex[j] / p.best_bm25 if p.best_bm25 > 0 else 0.0, lex[j] / top_lex if top_lex > 0 else 0.0,
            cov[j], float(cov[j] >= top_cov and top_cov > 0), _coverage(q, window), pairs,
            _proximity(q, tokens[j]),
            own_kind[j], max(kind_scores[max(j - 1, 0):j + 2]) if n else 0.0, kind_scores[j] * cov[j],
            len(new) / max(len(tokens[j]), 1),
            float(j == 0), j / max(n - 1, 1), p.spans[j][0] / doc_len,
            math.log1p(words), float(words < SHORT_WORDS), float(bool(REFERRING.match(texts[j]))),
            cov[j - 1] if j else 0.0, cov[j + 1] if j + 1 < n else 0.0,
            float(q.rarest in sets[j]) if q.rarest else 0.0,
            _coverage(q, elsewhere - sets[j]) if n > 1 else 0.0,
        )
    return rows


def expand(rows: np.ndarray, pairwise: bool) -> np.ndarray:
    """The model's inputs: the features, and with ``pairwise`` every product of two of them
    (each with itself too), upper triangle row by row: the linear model's ANDs and ORs."""
    if not pairwise:
        return rows
    a, b = np.triu_indices(rows.shape[1])
    return np.hstack([rows, rows[:, a] * rows[:, b]])


class Model:
    """The logistic model of ``quote_model.json``: standardised features times weights."""

    def __init__(self, data: dict) -> None:
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"{MODEL_FILE.name} was trained on other features than qa.quote.FEATURES: "
                             "run benchmarks/train_quote.py")
        self.data = data
        self.mean = np.asarray(data["mean"], dtype="float64")
        self.scale = np.asarray(data["scale"], dtype="float64")
        self.weights = np.asarray(data["weights"], dtype="float64")
        self.bias = float(data.get("bias", 0.0))
        self.neighbour = bool(data.get("neighbour", True))
        self.pairwise = bool(data.get("pairwise", False))
        self.adjacent_margin = float(data.get("adjacent_margin", 0.0))

        # The same as standardising the expanded inputs and weighing them, folded into one
        # linear and one quadratic form of the raw features (no expanded array per passage).
        w = self.weights / self.scale
        n = len(FEATURES)
        self.constant = self.bias - float(w @ self.mean)
        self.linear = w[:n]
        self.quadratic = np.zeros((n, n))
        if self.pairwise:
            a, b = np.triu_indices(n)
            self.quadratic[a, b] = w[n:]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        out = rows @ self.linear + self.constant
        if self.pairwise:
            out += np.einsum("ij,ij->i", rows @ self.quadratic, rows)
        return out

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> "Model":
        return cls(json.loads(Path(path).read_text()))


# The passages whose highlight the model chooses (the engine's first ones): the answer quotes
# passage 1 (a credit question that puts another first quotes its credit line). The other cards
# keep the retriever's best sentence, made whole (the model costs about 0.6 ms a passage).
QUOTED = 1


@lru_cache(maxsize=1)
def model() -> Model:
    """The shipped model, read once."""
    return Model.load()


def needs_previous(text: str) -> bool:
    """Whether a sentence opens by referring back to the one before it ("He", "The company")."""
    return bool(REFERRING.match(text))


def choose(q: Question, p: Passage, m: Model | None = None) -> tuple[int, int]:
    """(start, end) in ``p.doc_text`` of the passage's quote: its best-scored sentence, with the
    one before it when it refers back to it, made ``whole``."""
    if not p.spans:
        return (p.start, p.start)
    m = m or model()
    scores = m.scores(features(q, p))
    j = int(np.argmax(scores))
    start, end = span_of(p, j, neighbour=m.neighbour)
    k = adjacent_runner_up(scores, j, m.adjacent_margin)
    if k is not None:  # two neighbours the model can hardly tell apart: both are quoted
        s, e = span_of(p, k, neighbour=m.neighbour)
        start, end = min(start, s), max(end, e)
    return start, end


def adjacent_runner_up(scores: np.ndarray, j: int, margin: float) -> int | None:
    """The second-best sentence when it is next to the best one ``j`` and scores less than
    ``margin`` below it (a difference of log-odds), else None."""
    if margin <= 0 or len(scores) < 2:
        return None
    k = int(np.argsort(-scores, kind="stable")[1])
    return k if abs(k - j) == 1 and scores[j] - scores[k] < margin else None


def span_of(p: Passage, j: int, neighbour: bool = True) -> tuple[int, int]:
    """The quote made of sentence ``j`` of ``p``: with its previous sentence when it refers back
    (``needs_previous``) and has one in the passage, then made ``whole``."""
    start, end = p.spans[j]
    if neighbour and j > 0 and needs_previous(p.doc_text[start:end]):
        start = p.spans[j - 1][0]
    lo = p.start
    hi = p.end if p.end >= 0 else len(p.doc_text)
    return whole(p.doc_text, start, end, lo, hi)


def whole(text: str, start: int, end: int, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """``(start, end)`` widened so that it cuts no sentence where the splitter was wrong: when
    the text before ``start`` ends with a title or an initial ("Mr.", "J."), or with another
    abbreviation ("U.S.") and the highlight opens in lower case, the highlight starts where that
    sentence starts; when it ends with one itself and the next words are the same sentence's,
    it goes on to the next sentence's end. Never beyond ``lo``..``hi`` (the passage)."""
    hi = len(text) if hi is None else hi
    for _ in range(3):  # "Mr. J. Kim's ..." is cut twice
        before = text[lo:start]
        if not _continues(before, text[start:start + 1]):
            break
        cut = _previous_boundary(text, lo, lo + len(before.rstrip()))
        if cut >= start:
            break
        start = cut
    for _ in range(3):
        after = text[end:hi].lstrip()
        if not _continues(text[start:end], after[:1]):
            break
        nxt = _next_boundary(text, end, hi)
        if nxt <= end:
            break
        end = nxt
    return start, end


def _continues(before: str, first: str) -> bool:
    """Whether a sentence ending in ``before`` goes on in text starting with ``first``: the full
    stop is a title's or an initial's, or an abbreviation's followed by lower case or a digit."""
    kind = _abbreviation(before)
    if kind is None or not first:
        return False
    return kind == "title" or first.islower() or first.isdigit()


def _abbreviation(text: str) -> str | None:
    """"title" when ``text`` ends with a title or an initial and its full stop, "other" with
    another abbreviation, else None."""
    stripped = text.rstrip()
    if not stripped.endswith("."):
        return None
    # The last word is read from the text's tail (a search from its start is slow in a long
    # text), unless it runs back to the tail's start.
    tail = max(0, len(stripped) - 80)
    match = _LAST_WORD.search(stripped, tail)
    if match and tail and match.start() == tail:
        match = _LAST_WORD.search(stripped)
    if not match:
        return None
    word = match.group(1)
    last = word.rsplit(".", 1)[-1]
    if word.lower() in TITLES or (len(last) == 1 and last.isalpha() and last.isupper() and "." not in word):
        return "title"
    if word.lower() in ABBREVIATIONS or last.lower() in ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
        return "other"
    return None


def _previous_boundary(text: str, lo: int, at: int) -> int:
    """Where the sentence holding position ``at - 1`` starts, not before ``lo``."""
    from .answer import SENTENCE_END

    start = lo
    for match in SENTENCE_END.finditer(text, lo, at):
        if match.end() <= at and not _continues(text[lo:match.start()], text[match.end():match.end() + 1]):
            start = match.end()
    while start < at and text[start].isspace():
        start += 1
    return start


def _next_boundary(text: str, at: int, hi: int) -> int:
    """Where the sentence after position ``at`` ends, not beyond ``hi``."""
    from .answer import SENTENCE_END

    match = SENTENCE_END.search(text, at + 1, hi)
    if match:
        closing = match.group(0)
        end = match.start() + len(closing) - len(closing.lstrip("\"'”’)]"))
    else:
        end = hi
    while end > at and text[end - 1].isspace():
        end -= 1
    return min(end, hi)
