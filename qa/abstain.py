"""Abstention from evidence: how likely is it that the shown passages hold the answer?

Similarity alone cannot tell an unanswerable question from an answerable one in an archive about
one subject: the closest passages of a question whose article is missing are as close as those of
one whose article is there. What differs is the evidence: whether the question's own words (its
names, its numbers, the event) are in the passages at all, whether the archive has ever seen them,
whether one passage stands out above the rest. ``evidence`` measures these per answer, ``Model``
turns them into a probability that the answer is in the shown passages (a logistic model trained by
``benchmarks/train_abstain.py`` on made-unanswerable sets, stored as ``abstain_model.json``), and
``reason`` says in the archive's words why an answer was withheld.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from . import answertype
from .bm25 import STOPWORDS, TOKEN_RE, _stemmer
from .types import Passage

MODEL_FILE = Path(__file__).with_name("abstain_model.json")
DEPTH = 5  # the passages weighed: those a reader sees first (the same for the chat, the API and qa eval)

# The evidence the model weighs, in the order of its coefficients.
FEATURES = ("confidence", "margin", "sentence", "dense", "lexical", "coverage", "coverage_all",
            "coverage_best", "coverage_sentence", "missing", "unknown", "same_article",
            "typed_sentence", "typed_passage", "coverage_detail")

# Question words that say what kind of answer is wanted, not what it is about.
_ASKING = frozenset("""
which what who whom whose when where why how many much name named following according
""".split())


@dataclass(frozen=True)
class Word:
    """One content word of the question: as typed, its stem, whether it is a key term (a name or
    a number), and where it stands among the question's words (to group adjacent ones)."""

    text: str
    stem: str
    key: bool
    position: int


@dataclass
class Evidence:
    """What an answer's passages show of the question (each feature in ``FEATURES``).

    ``confidence``: the hybrid blend of the best shown passage; ``margin``: how far it stands
    above the next candidates; ``sentence``: the best sentence's cosine in passage 1; ``dense``:
    passage 1's own cosine; ``lexical``: its BM25 as a share of the most the question's terms
    can score (unlike the blend's BM25, not relative to the other candidates);
    ``coverage``: the share (by IDF) of the question's words found in passage 1, ``coverage_all``
    in any shown passage, ``coverage_best`` in the shown passage that has most of them,
    ``coverage_sentence`` in passage 1's highlighted sentence; ``missing``: the share of its key
    terms (names, numbers) found in no shown passage; ``unknown``: the share (by IDF) of its words
    the archive has never seen; ``same_article``: the share of shown passages from passage 1's article;
    ``typed_sentence``/``typed_passage``: how clearly passage 1's quoted sentence / whole text holds
    the kind of answer the question asks for (``qa.answertype.score``; 1 when it asks for no kind).
    ``coverage_detail``: ``coverage`` with each word weighed also by how few of the shown passages
    have it (a word every passage has names the topic; one only passage 1 has, the detail asked).
    Coverage is of the passages' text, not their headlines: a sibling article's headline names
    the topic without answering; ``missing`` counts a name in a shown passage's headline as found.
    ``absent``/``unseen``: those words, as the question typed them, grouped into phrases.
    """

    confidence: float = 0.0
    margin: float = 0.0
    sentence: float = 0.0
    dense: float = 0.0
    lexical: float = 0.0
    coverage: float = 0.0
    coverage_all: float = 0.0
    coverage_best: float = 0.0
    coverage_sentence: float = 0.0
    missing: float = 0.0
    unknown: float = 0.0
    same_article: float = 0.0
    typed_sentence: float = 0.0
    typed_passage: float = 0.0
    coverage_detail: float = 0.0
    absent: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in FEATURES], dtype="float64")


def question_words(question: str) -> list[Word]:
    """The question's content words (no stopwords, no asking words), each stemmed once."""
    found = [(m.group(0), i) for i, m in enumerate(TOKEN_RE.finditer(question))]
    words = [(w, i) for w, i in found if w.lower() not in STOPWORDS and w.lower() not in _ASKING]
    stems = _stemmer().stemWords([w.lower() for w, _ in words])
    out = []
    for (text, position), stem in zip(words, stems):
        key = any(c.isdigit() for c in text) or (text[:1].isupper() and position > 0)
        out.append(Word(text, stem, key, position))
    return out


def _found(stems: set[str], texts: Sequence[str]) -> list[set[str]]:
    """For each text, which of ``stems`` the stems of its words (stopwords left out) include:
    the words of all the texts are stemmed in one call, and only those that stem to one of
    ``stems`` are looked for in each text."""
    tokens = [set(TOKEN_RE.findall(t.lower())) for t in texts]
    every = list(set().union(*tokens) - STOPWORDS)
    forms: dict[str, set[str]] = {}
    for word, stem in zip(every, _stemmer().stemWords(every)):
        if stem in stems:
            forms.setdefault(stem, set()).add(word)
    return [{stem for stem, ws in forms.items() if not ts.isdisjoint(ws)} for ts in tokens]


def _phrases(words: Sequence[Word]) -> list[str]:
    """Adjacent words of the question joined into phrases ("Squid Game"), in question order."""
    phrases: list[list[Word]] = []
    for w in sorted(words, key=lambda w: w.position):
        if phrases and w.position == phrases[-1][-1].position + 1:
            phrases[-1].append(w)
        else:
            phrases.append([w])
    return [" ".join(w.text for w in p) for p in phrases]


def evidence(question: str, passages: Sequence[Passage], best: float, candidates: np.ndarray,
             sentence: float, vocab: dict[str, int], idf: np.ndarray, dense: float = 0.0,
             lexical: float = 0.0) -> Evidence:
    """The evidence of ``passages`` (best first) for ``question``.

    ``best``: the hybrid blend of the best shown passage; ``candidates``: the blend of every
    candidate chunk; ``sentence``, ``dense``, ``lexical``: passage 1's best sentence cosine, own
    cosine and BM25 share (see ``Evidence``); ``vocab``/``idf``: the archive's BM25 vocabulary
    (stem → column) and IDF, for words the archive has never seen.
    """
    if not passages:
        return Evidence()
    words = {w.stem: w for w in reversed(question_words(question))}  # first occurrence wins
    rare = float(idf.max()) if len(idf) else 1.0  # a word never seen counts as the rarest
    weight = {s: (float(idf[vocab[s]]) if s in vocab else rare) for s in words}
    total = sum(weight.values()) or 1.0
    found_in = _found(set(words), [p.text for p in passages] + [
        " ".join(p.title for p in passages), passages[0].highlighted_sentence])
    each, titles, quoted = found_in[:len(passages)], found_in[-2], found_in[-1]
    first = each[0]
    # What the shown articles mention, their headlines included (a name in the headline is
    # in the article); coverage, below, weighs the passages' text alone.
    shown = set().union(*each, titles)

    def share(found: set[str]) -> float:
        return sum(weight[s] for s in words if s in found) / total

    detail = {s: weight[s] * (1.0 - sum(s in found for found in each) / len(each)) for s in words}
    detail_total = sum(detail.values())
    unseen = [w for s, w in words.items() if s not in vocab]
    absent = [w for s, w in words.items() if s in vocab and s not in shown]
    keys = [w for w in words.values() if w.key]
    rest = np.sort(np.asarray(candidates, dtype="float64"))[::-1][1:11]  # the next ten
    kind, exclude = answertype.expected(question), answertype.question_words(question)

    def typed(text: str) -> float:
        return answertype.score(kind, text, exclude) if kind else 1.0

    return Evidence(
        confidence=float(best),
        margin=best - float(rest.mean()) if len(rest) else 0.0,
        sentence=float(sentence),
        dense=float(dense),
        lexical=float(lexical),
        coverage=share(first),
        coverage_all=share(set().union(*each)),
        coverage_best=max(share(found) for found in each),
        coverage_sentence=share(quoted),
        missing=sum(1 for w in keys if w.stem not in shown) / len(keys) if keys else 0.0,
        unknown=sum(weight[w.stem] for w in unseen) / total,
        absent=_phrases([w for w in absent if w.key] or absent),
        unseen=_phrases(unseen),
        same_article=sum(p.doc_id == passages[0].doc_id for p in passages) / len(passages),
        typed_sentence=typed(passages[0].highlighted_sentence),
        typed_passage=typed(passages[0].text),
        coverage_detail=sum(detail[s] for s in words if s in first) / detail_total if detail_total else 0.0,
    )


class Model:
    """A logistic model over some of ``FEATURES``: the probability that the shown passages hold an answer.

    ``threshold``: below it the engine abstains (chosen by ``benchmarks/train_abstain.py`` so
    that few answerable questions are refused).
    """

    def __init__(self, features: Sequence[str], mean: Sequence[float], scale: Sequence[float],
                 coef: Sequence[float], intercept: float, threshold: float, **info) -> None:
        unknown = [f for f in features if f not in FEATURES]
        if unknown or not features:
            raise ValueError(f"the abstention model weighs {list(features)}, the code computes "
                             f"{list(FEATURES)}: retrain it (benchmarks/train_abstain.py)")
        self.features = tuple(features)
        self.mean, self.scale = np.asarray(mean, dtype="float64"), np.asarray(scale, dtype="float64")
        self.coef, self.intercept = np.asarray(coef, dtype="float64"), float(intercept)
        self.threshold, self.info = float(threshold), info

    @classmethod
    def from_file(cls, path: str | Path) -> "Model":
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))

    def probability(self, ev: Evidence) -> float:
        x = np.array([getattr(ev, name) for name in self.features], dtype="float64")
        z = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


@lru_cache(maxsize=1)
def load() -> Model | None:
    """The packaged model, or None when the package has none (the engine then uses the blend)."""
    return Model.from_file(MODEL_FILE) if MODEL_FILE.exists() else None


def _quoted(phrases: Sequence[str], limit: int = 3) -> str:
    shown = [f"“{p}”" for p in phrases[:limit]]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def reason(ev: Evidence, chance: float | None) -> str:
    """Why the answer was withheld, from the archive's side."""
    if ev.unseen:
        return f"No article in the archive mentions {_quoted(ev.unseen)}."
    if ev.absent and ev.missing > 0:
        return f"The closest passages do not mention {_quoted(ev.absent)}."
    odds = f" (chance of an answer {chance:.2f})" if chance is not None else ""
    return f"The closest passages do not clearly answer it{odds}."
