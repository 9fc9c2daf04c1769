"""Choose the ranking's settings on halves of squad-dev AND news-dev together; check on the others.

Each question of each set is searched once by the real engine (hybrid, every candidate's five
blend signals kept); then every configuration re-ranks those candidates the way the engine does
(fused score, overlapping chunks of one article skipped, ten passages) and is scored as
``qa eval`` scores (Hit@1, MRR@10 over distinct documents, AnswerRecall@5). Questions are split
into a tune and a check half by a hash of their id (the same split for every run). The objective
is the mean over the two sets of Hit@1 + MRR@10 on their tune halves: each corpus counts the
same, whatever its number of questions. Figures to be trusted come from ``qa eval`` afterwards.

Usage:
  qa build --corpus ../shared/eval/news-dev/corpus --index /tmp/news-index
  qa build --corpus ../shared/eval/squad-dev/corpus --index /tmp/squad-index
  python benchmarks/tune_ranking.py --set news=../shared/eval/news-dev/questions.jsonl:/tmp/news-index \
      --set squad=../shared/eval/squad-dev/questions.jsonl:/tmp/squad-index
  # the news levers on top of the default (no search), candidates kept for train_ranker.py:
  python benchmarks/tune_ranking.py --levers --cache /tmp/tune-cache --set news=... --set squad=...
  # chunk size: the same sets over indexes built with another one, the default only
  python benchmarks/tune_ranking.py --no-search --set news=...:/tmp/news-128 --set squad=...:/tmp/squad-128
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from common import half

from qa import Engine, history
from qa.engine import clean_question
from qa.eval_metrics import contains_answer
from qa.lexical import tokenize
from qa.questions import load_questions
from qa.retrieve import follow_up_weights
from qa.settings import Blend, Settings
from qa.timewords import TimePrior, as_of_day, day_number, named_windows

SIGNALS = ("dense", "sentence", "bm25", "sentence_bm25", "pairs")

# Quiz phrasing: words that say how a question is asked, not what it is about (general English
# question forms, none taken from a question set).
QUIZ = re.compile(
    r"\b(?:which|what|who)(?: one)? of the following\b|\baccording to\b|\btrue or false\b|"
    r"\b(?:can|could) you tell me\b|\bdo you know\b|\bname the\b|\bwhich (?:is|was|are|were)\b|"
    r"^(?:which|what|who|whom|whose|where|when|why|how)\b", re.I)
WORD = re.compile(r"[\w'-]+|[.!?:]")


def strip_quiz(question: str) -> str:
    """``question`` without its quiz phrasing ("Which of the following", "According to")."""
    stripped = " ".join(QUIZ.sub(" ", question).split())
    return stripped or question


def name_number_weights(question: str, weight: float) -> dict[str, float]:
    """BM25 term weights that count the question's names (a capitalised word not opening a
    sentence) and numbers ``weight`` times."""
    out: dict[str, float] = {}
    opening = True
    for word in WORD.findall(question):
        if word in ".!?:":
            opening = True
            continue
        if any(ch.isdigit() for ch in word) or (word[0].isupper() and not opening):
            out.update({t: weight for t in tokenize(word)})
        opening = False
    return out


def query_of(question: str, hist: list[str]) -> tuple[str, list[str]]:
    """What the engine searches for ``question`` after ``hist``: the question alone, or a cued
    follow-up joined to the earlier questions it continues (``Engine.ask_many``)."""
    used = history.thread(question, hist) if hist and history.cues(question) else []
    return (history.expanded_query(question, used) if used else question), used


@dataclass
class Searched:
    """One question's candidates: signals, article, span, day, answer containment."""

    qid: str
    signals: np.ndarray
    docs: np.ndarray
    spans: np.ndarray
    days: np.ndarray
    first: np.ndarray  # the chunk opens its article (the lede)
    answers: np.ndarray
    gold: frozenset
    as_of: int
    windows: tuple
    headline: np.ndarray = field(default_factory=lambda: np.zeros(0))  # share of the query's IDF in the title


def search_all(path: str, index: str, limit: int | None = None, variant: str = "") -> list[Searched]:
    """Every answerable question of ``path`` searched once over ``index`` (hybrid, no time prior:
    configurations add it). ``variant``: ``quiz`` strips quiz phrasing, ``names:W`` weighs names
    and numbers W times in BM25."""
    engine = Engine.open(index)
    questions = [q for q in load_questions(path) if q.answerable][:limit]
    r = engine.retriever
    out = []
    texts: dict[int, str] = {}
    titles: dict[int, set] = {}
    batch = 64
    for start in range(0, len(questions), batch):
        qs = questions[start:start + batch]
        cleaned = [clean_question(q.question) for q in qs]
        if variant == "quiz":
            cleaned = [strip_quiz(c) for c in cleaned]
        hist = [[clean_question(h, strict=False) for h in q.history] for q in qs]
        queries = [query_of(c, h) for c, h in zip(cleaned, hist)]
        vecs = engine.encoder.encode([t for t, _ in queries], batch_size=batch)
        for q, c, h, (query, used), vec in zip(qs, cleaned, hist, queries, vecs):
            terms = r.question_terms(query, c, used)
            if variant.startswith("names:"):
                boost = name_number_weights(q.question, float(variant.split(":", 1)[1]))
                terms = r.query_terms(query, {**boost, **(follow_up_weights(c, used) or {})})
            cands = r.search(vec, query, "hybrid", None, terms=terms)
            docs = engine.chunk_doc[cands.rows].astype("int64")
            need = [d for d in set(docs.tolist()) if d not in texts]
            if need:
                texts.update(engine.docs.texts(sorted(need)))
                titles.update({d: set(tokenize(engine.docs.meta[d].title or "")) for d in need})
            spans = engine.chunk_span[cands.rows].astype("int64")
            answers = np.array([bool(q.answers) and contains_answer(texts[d][a:b], q.answers)
                                for d, (a, b) in zip(docs.tolist(), spans.tolist())])
            qterms = set(tokenize(query))
            idf = {t: float(r.bm25.idf[r.bm25.vocab[t]]) for t in qterms if t in r.bm25.vocab}
            total = sum(idf.values()) or 1.0
            headline = np.array([sum(v for t, v in idf.items() if t in titles[d]) / total for d in docs.tolist()])
            day = as_of_day(q.as_of)
            windows = tuple((day_number(w.first), day_number(w.last)) for w in named_windows(c, day))
            out.append(Searched(q.id, cands.signals.astype("float64"), docs, spans,
                                r.doc_days[docs], spans[:, 0] == 0, answers,
                                frozenset(engine.docs.position[g] for g in q.gold_doc_ids),
                                day_number(day), windows, headline))
    engine.close()
    return out


def cached_search(cache: str | None, name: str, path: str, index: str, limit: int | None,
                  variant: str = "") -> list[Searched]:
    """``search_all``, kept in ``cache/NAME[-VARIANT].pkl`` (``train_ranker.py`` reads them)."""
    file = Path(cache) / f"{name}{'-' + variant.replace(':', '') if variant else ''}.pkl" if cache else None
    key = (os.path.abspath(path), os.path.abspath(index), limit, variant)
    if file and file.exists():
        saved_key, searched = pickle.loads(file.read_bytes())
        if saved_key == key:
            return searched
    searched = search_all(path, index, limit, variant)
    if file:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(pickle.dumps((key, searched)))
    return searched


@dataclass(frozen=True)
class Config:
    blend: Blend = Blend()
    recency: float = 0.0
    named: float = 0.0
    recent_days: float = 7.0
    decay_days: float = 14.0
    support: float = 0.0
    lede: float = 0.0
    headline: float = 0.0


def support_of(score: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Per candidate, the score of its article's second-best candidate chunk (0 if it has one)."""
    order = np.lexsort((-score, docs))
    d, sc = docs[order], score[order]
    firsts = np.r_[True, d[1:] != d[:-1]]
    idx = np.flatnonzero(firsts)
    has2 = (idx + 1 < len(sc)) & np.r_[~firsts[1:], False][idx]
    second_of = dict(zip(d[idx[has2]].tolist(), sc[idx[has2] + 1].tolist()))
    return np.array([second_of.get(x, 0.0) for x in docs.tolist()])


def scores_of(s: Searched, c: Config, use_as_of: bool = True) -> np.ndarray:
    w = np.array([getattr(c.blend, n) for n in SIGNALS])
    score = s.signals @ w
    if use_as_of and (c.recency or c.named):
        prior = TimePrior(s.as_of, s.windows, c.recency, c.named, c.recent_days, c.decay_days)
        score = score + prior.bonus(s.days)
    if c.lede:
        score = score + c.lede * s.first
    if c.headline:
        score = score + c.headline * s.headline
    if c.support:
        # max plus support: every chunk of an article gains its article's second-best chunk
        score = score + c.support * support_of(score, s.docs)
    return score


def ranked(s: Searched, score: np.ndarray, depth: int = 10) -> tuple[list[int], list[bool]]:
    """The engine's passages: distinct docs in order, and whether each passage holds an answer."""
    order = np.argsort(-score, kind="stable")
    spans: dict[int, list] = {}
    docs, answers = [], []
    for i in order:
        d, (a, b) = int(s.docs[i]), s.spans[i]
        if any(a < y and x < b for x, y in spans.get(d, [])):
            continue
        spans.setdefault(d, []).append((a, b))
        answers.append(bool(s.answers[i]))
        if d not in docs:
            docs.append(d)
        if len(answers) == depth:
            break
    return docs, answers


def metrics(searched: list[Searched], c: Config, use_as_of: bool = True) -> dict[str, float]:
    return scored(searched, lambda s: scores_of(s, c, use_as_of))


def scored(searched: list[Searched], score) -> dict[str, float]:
    """Hit@1, MRR@10 and AR@5 of the candidates re-ranked by ``score(searched question)``."""
    h1 = mrr = ar5 = 0.0
    for s in searched:
        docs, answers = ranked(s, score(s))
        rank = next((i + 1 for i, d in enumerate(docs) if d in s.gold), None)
        h1 += rank == 1
        mrr += 1.0 / rank if rank else 0.0
        ar5 += any(answers[:5])
    n = max(len(searched), 1)
    return {"Hit@1": h1 / n, "MRR@10": mrr / n, "AR@5": ar5 / n}


def objective(sets: dict[str, list[Searched]], c: Config) -> float:
    return float(np.mean([m["Hit@1"] + m["MRR@10"] for m in (metrics(v, c) for v in sets.values())]))


def coordinate_search(sets, start: Config, grids: dict[str, list], rounds: int = 2) -> Config:
    best, best_value = start, objective(sets, start)
    for _ in range(rounds):
        for name, values in grids.items():
            for v in values:
                if name in SIGNALS:
                    cand = replace(best, blend=replace(best.blend, **{name: v}))
                else:
                    cand = replace(best, **{name: v})
                value = objective(sets, cand)
                if value > best_value + 1e-9:
                    best, best_value = cand, value
            print(f"  {name}: {getattr(best.blend, name) if name in SIGNALS else getattr(best, name)}"
                  f"  objective {best_value:.4f}", file=sys.stderr, flush=True)
    return best


def table(rows: list[tuple[str, Config, bool]], row_halves: list[dict[str, dict[str, list[Searched]]]]) -> str:
    """One line per configuration, each scored on its own searched candidates (``row_halves``)."""
    names = list(row_halves[0])
    head = "| configuration | " + " | ".join(
        f"{n} {h} Hit@1 | MRR@10 | AR@5" for n in names for h in ("tune", "check")) + " |"
    out = [head, "|---|" + "---|" * (6 * len(names))]
    for (label, c, use), halves in zip(rows, row_halves):
        cells = []
        for n in names:
            for h in ("tune", "check"):
                m = metrics(halves[n][h], c, use)
                cells += [f'{m["Hit@1"]:.3f}', f'{m["MRR@10"]:.3f}', f'{m["AR@5"]:.3f}']
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def default_config() -> Config:
    """The engine's settings (``qa/settings.py``) as a configuration."""
    d = Settings()
    return Config(d.blend, d.recency_weight, d.named_time_weight, d.recent_days, d.time_decay_days,
                  lede=d.lede_weight)


def lever_rows(chosen: Config) -> list[tuple[str, Config, bool, str]]:
    """The ablation of the news levers on top of the default: (label, config, as_of, search variant)."""
    rows = [("settings.py default", chosen, True, ""),
            ("default, as_of ignored", chosen, False, "")]
    rows += [(f"+ article as the unit (support {w})", replace(chosen, support=w), True, "") for w in (0.02, 0.05, 0.1)]
    rows += [(f"+ lede bonus {w}", replace(chosen, lede=w), True, "") for w in (0.01, 0.02, 0.05)]
    rows += [(f"+ headline bonus {w}", replace(chosen, headline=w), True, "") for w in (0.02, 0.05, 0.1, 0.3, 0.5)]
    rows += [(f"+ names and numbers x{w} in BM25", chosen, True, f"names:{w}") for w in (1.5, 2.0)]
    rows += [("+ quiz phrasing and question words stripped", chosen, True, "quiz")]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", required=True, metavar="NAME=QUESTIONS:INDEX")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--no-search", action="store_true", help="only print the default (and the old one)")
    parser.add_argument("--time-only", action="store_true",
                        help="search only the time settings (the blend kept): they move no undated corpus")
    parser.add_argument("--levers", action="store_true",
                        help="no search: the ablation of the news levers on top of the default")
    parser.add_argument("--cache", metavar="DIR", help="keep each set's searched candidates here (and reuse them)")
    args = parser.parse_args()
    started = time.perf_counter()
    specs = {}
    for spec in args.set:
        name, rest = spec.split("=", 1)
        specs[name] = rest.rsplit(":", 1)

    def halves_of(variant: str = "") -> dict[str, dict[str, list[Searched]]]:
        out = {}
        for name, (path, index) in specs.items():
            searched = cached_search(args.cache, name, path, index, args.limit, variant)
            out[name] = {h: [s for s in searched if half(s.qid) == h] for h in ("tune", "check")}
            print(f"{name}{' ' + variant if variant else ''}: {len(searched)} questions, tune "
                  f"{len(out[name]['tune'])}, check {len(out[name]['check'])}", file=sys.stderr, flush=True)
        return out

    halves = halves_of()
    chosen = default_config()
    old = Config()
    rows = [("hybrid blend alone, no time (the previous default)", old, True, "")]
    if args.levers:
        rows += lever_rows(chosen)
    elif not args.no_search:
        tune = {n: h["tune"] for n, h in halves.items()}
        grids = {"recency": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3],
                 "recent_days": [3.0, 7.0, 10.0, 14.0],
                 "decay_days": [3.0, 7.0, 14.0, 30.0, 60.0],
                 "named": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2],
                 "support": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2],
                 "lede": [0.0, 0.01, 0.02, 0.05],
                 "headline": [0.0, 0.02, 0.05, 0.1],
                 **{n: [round(getattr(old.blend, n) * f, 3) for f in (0.5, 0.75, 1.0, 1.25, 1.5)]
                    for n in SIGNALS}}
        if args.time_only:
            grids = {n: v for n, v in grids.items() if n in ("recency", "recent_days", "decay_days", "named")}
        found = coordinate_search(tune, chosen, grids)
        print(f"chosen: {found}", file=sys.stderr)
        rows += [("chosen on the tune halves", found, True, ""),
                 ("chosen, as_of ignored", found, False, ""),
                 ("chosen without recency", replace(found, recency=0.0), True, ""),
                 ("chosen without named periods", replace(found, named=0.0), True, ""),
                 ("chosen without article support", replace(found, support=0.0), True, ""),
                 ("chosen without lede bonus", replace(found, lede=0.0), True, ""),
                 ("chosen without headline bonus", replace(found, headline=0.0), True, "")]
    if not args.levers:
        rows.append(("settings.py default", chosen, True, ""))
    variants = {"": halves}
    for _, _, _, v in rows:
        if v not in variants:
            variants[v] = halves_of(v)
    print("Command: python benchmarks/tune_ranking.py " + " ".join(a for a in sys.argv[1:]))
    print(table([(label, c, use) for label, c, use, _ in rows], [variants[v] for *_, v in rows]))
    print(f"\nWall time {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
