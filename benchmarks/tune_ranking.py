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
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from qa import Engine
from qa.engine import clean_question, query_text
from qa.eval_metrics import contains_answer
from qa.questions import load_questions
from qa.settings import Blend, Settings
from qa.timewords import TimePrior, as_of_day, day_number, named_windows

SIGNALS = ("dense", "sentence", "bm25", "sentence_bm25", "pairs")


def half(qid: str) -> str:
    """``tune`` or ``check``, by the first byte of the id's MD5 (stable across runs)."""
    return "tune" if hashlib.md5(qid.encode()).digest()[0] % 2 == 0 else "check"


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


def search_all(path: str, index: str, limit: int | None = None) -> list[Searched]:
    engine = Engine.open(index)
    questions = [q for q in load_questions(path) if q.answerable][:limit]
    r = engine.retriever
    out = []
    texts: dict[int, str] = {}
    batch = 64
    for start in range(0, len(questions), batch):
        qs = questions[start:start + batch]
        cleaned = [clean_question(q.question) for q in qs]
        hist = [[clean_question(h, strict=False) for h in q.history] for q in qs]
        queries = [query_text(c, h) for c, h in zip(cleaned, hist)]
        vecs = engine.encoder.encode(queries, batch_size=batch)
        for q, c, h, query, vec in zip(qs, cleaned, hist, queries, vecs):
            cands = r.search(vec, query, "hybrid", None, terms=r.question_terms(query, c, h))
            docs = engine.chunk_doc[cands.rows].astype("int64")
            need = [d for d in set(docs.tolist()) if d not in texts]
            if need:
                texts.update(engine.docs.texts(sorted(need)))
            spans = engine.chunk_span[cands.rows].astype("int64")
            answers = np.array([bool(q.answers) and contains_answer(texts[d][a:b], q.answers)
                                for d, (a, b) in zip(docs.tolist(), spans.tolist())])
            day = as_of_day(q.as_of)
            windows = tuple((day_number(w.first), day_number(w.last)) for w in named_windows(c, day))
            out.append(Searched(q.id, cands.signals.astype("float64"), docs, spans,
                                r.doc_days[docs], spans[:, 0] == 0, answers,
                                frozenset(engine.docs.position[g] for g in q.gold_doc_ids),
                                day_number(day), windows))
    return out


@dataclass(frozen=True)
class Config:
    blend: Blend = Blend()
    recency: float = 0.0
    named: float = 0.0
    recent_days: float = 7.0
    decay_days: float = 14.0
    support: float = 0.0
    lede: float = 0.0


def scores_of(s: Searched, c: Config, use_as_of: bool = True) -> np.ndarray:
    w = np.array([getattr(c.blend, n) for n in SIGNALS])
    score = s.signals @ w
    if use_as_of and (c.recency or c.named):
        prior = TimePrior(s.as_of, s.windows, c.recency, c.named, c.recent_days, c.decay_days)
        score = score + prior.bonus(s.days)
    if c.lede:
        score = score + c.lede * s.first
    if c.support:
        # max plus support: every chunk of an article gains its article's second-best chunk
        order = np.lexsort((-score, s.docs))
        d, sc = s.docs[order], score[order]
        firsts = np.r_[True, d[1:] != d[:-1]]
        second = np.zeros(len(sc))
        idx = np.flatnonzero(firsts)
        has2 = (idx + 1 < len(sc)) & np.r_[~firsts[1:], False][idx]
        second_of = dict(zip(d[idx[has2]].tolist(), sc[idx[has2] + 1].tolist()))
        score = score + c.support * np.array([second_of.get(x, 0.0) for x in s.docs.tolist()])
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
    h1 = mrr = ar5 = 0.0
    for s in searched:
        docs, answers = ranked(s, scores_of(s, c, use_as_of))
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


def table(rows: list[tuple[str, Config, bool]], halves: dict[str, dict[str, list[Searched]]]) -> str:
    names = list(halves)
    head = "| configuration | " + " | ".join(
        f"{n} {h} Hit@1 | MRR@10 | AR@5" for n in names for h in ("tune", "check")) + " |"
    out = [head, "|---|" + "---|" * (6 * len(names))]
    for label, c, use in rows:
        cells = []
        for n in names:
            for h in ("tune", "check"):
                m = metrics(halves[n][h], c, use)
                cells += [f'{m["Hit@1"]:.3f}', f'{m["MRR@10"]:.3f}', f'{m["AR@5"]:.3f}']
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", required=True, metavar="NAME=QUESTIONS:INDEX")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--no-search", action="store_true", help="only print the ablation of the default")
    parser.add_argument("--time-only", action="store_true",
                        help="search only the time settings (the blend kept): they move no undated corpus")
    args = parser.parse_args()
    started = time.perf_counter()
    halves = {}
    for spec in args.set:
        name, rest = spec.split("=", 1)
        path, index = rest.rsplit(":", 1)
        searched = search_all(path, index, args.limit)
        halves[name] = {h: [s for s in searched if half(s.qid) == h] for h in ("tune", "check")}
        print(f"{name}: {len(searched)} questions, tune {len(halves[name]['tune'])}, "
              f"check {len(halves[name]['check'])}", file=sys.stderr, flush=True)
    default = Settings()
    chosen = Config(default.blend, default.recency_weight, default.named_time_weight,
                    default.recent_days, default.time_decay_days)
    old = Config()
    rows = [("hybrid blend alone, no time (the previous default)", old, True)]
    if not args.no_search:
        tune = {n: h["tune"] for n, h in halves.items()}
        grids = {"recency": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3],
                 "recent_days": [3.0, 7.0, 10.0, 14.0],
                 "decay_days": [3.0, 7.0, 14.0, 30.0, 60.0],
                 "named": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2],
                 "support": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2],
                 "lede": [0.0, 0.01, 0.02, 0.05],
                 **{n: [round(getattr(old.blend, n) * f, 3) for f in (0.5, 0.75, 1.0, 1.25, 1.5)]
                    for n in SIGNALS}}
        if args.time_only:
            grids = {n: v for n, v in grids.items() if n in ("recency", "recent_days", "decay_days", "named")}
        found = coordinate_search(tune, chosen, grids)
        print(f"chosen: {found}", file=sys.stderr)
        rows += [("chosen on the tune halves", found, True),
                 ("chosen, as_of ignored", found, False),
                 ("chosen without recency", replace(found, recency=0.0), True),
                 ("chosen without named periods", replace(found, named=0.0), True),
                 ("chosen without article support", replace(found, support=0.0), True),
                 ("chosen without lede bonus", replace(found, lede=0.0), True),
                 ("chosen + article support 0.05", replace(found, support=0.05), True),
                 ("chosen + article support 0.1", replace(found, support=0.1), True),
                 ("chosen + lede bonus 0.02", replace(found, lede=0.02), True)]
    rows.append(("settings.py default", chosen, True))
    print(f"Command: python benchmarks/tune_ranking.py " + " ".join(f"--set {s}" for s in args.set))
    print(table(rows, halves))
    print(f"\nWall time {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
