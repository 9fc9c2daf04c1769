"""The quoted sentence: how often the first passage's highlight holds an answer, per selector.

Each question of each set is asked once by the real engine (``ask_many``, ten passages deep, as
``qa eval`` asks); every passage's sentences with their cosine and BM25 are kept (a cache under
/tmp, one file per set and index). Then each selector variant re-chooses the highlight of the
same passages, and is scored as ``qa eval`` scores the quote:

- quote: the first passage's highlight holds an answer (case-insensitive, white space folded:
  ``qa.eval_metrics.contains_answer``), over questions that list answers;
- quote|right: the same, among questions whose first passage holds an answer;
- words: the mean length of that highlight in words (a longer quote holds more by chance).

Variants: the retriever's sentence blend (what the engine quoted before ``qa.quote``), each
signal alone, the learned model without and with the needed previous sentence, and an oracle
(the best any one sentence of the passage can do). squad-dev is split into the half the model
is trained on (``tune``) and the half it is checked on (``check``) by the first byte of the MD5
of the question id, as ``benchmarks/tune_ranking.py`` splits.

Usage:
  python benchmarks/bench_quote.py --set squad=../shared/eval/squad-dev/questions.jsonl:/tmp/idx/squad \\
      --set news=../shared/eval/news-dev/questions.jsonl:/tmp/idx/news \\
      --set shipped=tests/data/news_questions.jsonl:/tmp/idx/sample
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from common import half

from qa import quote  # noqa: E402
from qa.eval_metrics import contains_answer  # noqa: E402

CACHE = Path(os.environ.get("QUOTE_CACHE", "/tmp/quote-cache"))


@dataclass
class Shown:
    """One shown passage: what the selector saw, whether the passage holds an answer, and the
    highlight the engine showed when a credit highlight overrode the selector's."""

    q: quote.Question
    p: quote.Passage
    holds: bool
    override: tuple[int, int] | None = None


@dataclass
class Item:
    id: str
    half: str
    answers: list[str]
    passages: list[Shown] = field(default_factory=list)


def collect(questions_file: str, index: str, depth: int = 10) -> list[Item]:
    """Ask every question of the set once (cached), keeping every shown passage's sentences."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.md5(f"{Path(questions_file).resolve()}:{Path(index).resolve()}:{depth}".encode()).hexdigest()[:12]
    path = CACHE / f"{Path(questions_file).stem}-{key}.pkl"
    if path.exists():
        with path.open("rb") as f:
            items = _Loader(f).load()
        made: dict[str, quote.Question] = {}
        for item in items:  # the questions read again by today's code, with the IDF they had
            for shown in item.passages:
                old = shown.q
                if old.text not in made:
                    made[old.text] = quote.Question(old.text, lambda t, w=old.weights: w.get(t, 0.0))
                shown.q = made[old.text]
        return items
    from qa import Engine
    from qa.evaluate import ask_batched, known_doc_ids, load_questions

    engine = Engine.open(index)
    questions = load_questions(questions_file)
    known = known_doc_ids(engine, (d for q in questions for d in q.gold_doc_ids))
    questions = [q for q in questions if all(d in known for d in q.gold_doc_ids) and q.answers]
    seen: dict[tuple, tuple[quote.Question, quote.Passage, tuple[int, int]]] = {}
    original = quote.choose

    def recording(q: quote.Question, p: quote.Passage, m: quote.Model | None = None) -> tuple[int, int]:
        chosen = original(q, p, m)
        seen[(q.text, p.start, p.end, p.doc_text[p.start:p.end])] = (q, p, chosen)
        return chosen

    # The engine lets the model choose passage 1's highlight only (``quote.QUOTED``); every
    # shown passage is recorded here (a credit question's may come from deeper than ``depth``),
    # so the model is asked for each of them while collecting.
    quoted = quote.QUOTED
    quote.choose, quote.QUOTED = recording, sys.maxsize
    try:
        answers = ask_batched(engine, questions, depth=depth, mode="hybrid")
    finally:
        quote.choose, quote.QUOTED = original, quoted
    items = []
    for question, answer in zip(questions, answers):
        item = Item(question.id, half(question.id), list(question.answers))
        for passage in answer.passages:
            q, p, chosen = seen[(answer.query, passage.start, passage.end, passage.text)]
            shown = (passage.start + passage.highlight[0], passage.start + passage.highlight[1])
            item.passages.append(Shown(q, p, contains_answer(passage.text, question.answers),
                                       None if shown == tuple(chosen) else shown))
        items.append(item)
    path.write_bytes(pickle.dumps(items))
    return items


class _Loader(pickle.Unpickler):
    """Reads a cache whichever script wrote it (classes of ``__main__`` are this module's)."""

    def find_class(self, module: str, name: str):
        if module in ("__main__", "bench_quote"):
            return globals()[name]
        return super().find_class(module, name)


Selector = Callable[[quote.Question, quote.Passage], tuple[int, int]]


def by_feature(name: str, neighbour: bool = False, sign: float = 1.0) -> Selector:
    col = quote.FEATURES.index(name)

    def select(q: quote.Question, p: quote.Passage) -> tuple[int, int]:
        rows = quote.features(q, p)
        return quote.span_of(p, int(np.argmax(sign * rows[:, col])), neighbour=neighbour)
    return select


def by_model(m: quote.Model, neighbour: bool | None = None, margin: float | None = None) -> Selector:
    """The model's choice; ``neighbour``, ``margin``: other settings than the model file's."""
    changed = quote.Model({**m.data, "neighbour": m.neighbour if neighbour is None else neighbour,
                           "adjacent_margin": m.adjacent_margin if margin is None else margin})

    def select(q: quote.Question, p: quote.Passage) -> tuple[int, int]:
        return quote.choose(q, p, changed)
    return select


def retriever_blend(q: quote.Question, p: quote.Passage) -> tuple[int, int]:
    """What the engine quoted before qa.quote: 0.65 cosine + 0.1 BM25 over the best of all candidates."""
    score = 0.65 * np.asarray(p.cosines) + 0.1 * (np.asarray(p.bm25) / p.best_bm25 if p.best_bm25 > 0 else 0)
    s, e = p.spans[int(np.argmax(score))]
    return (s, e)


def oracle(answers: list[str]) -> Selector:
    def select(q: quote.Question, p: quote.Passage) -> tuple[int, int]:
        for j, (s, e) in enumerate(p.spans):
            if contains_answer(p.doc_text[s:e], answers):
                return (s, e)
        return p.spans[0]
    return select


def score(items: list[Item], select: Selector | None) -> dict[str, float]:
    """quote, quote|right and the mean words of the first passage's highlight."""
    quoted, right, words = [], [], []
    for item in items:
        if not item.passages:
            quoted.append(0.0)
            continue
        first = item.passages[0]
        chooser = select if select is not None else oracle(item.answers)
        s, e = first.override or chooser(first.q, first.p)
        text = first.p.doc_text[s:e]
        hit = contains_answer(text, item.answers)
        quoted.append(float(hit))
        words.append(len(text.split()))
        if first.holds:
            right.append(float(hit))
    return {"n": len(items), "quote": float(np.mean(quoted)) if quoted else float("nan"),
            "quote|right": float(np.mean(right)) if right else float("nan"),
            "right": len(right), "words": float(np.mean(words)) if words else float("nan")}


def variants() -> list[tuple[str, Selector | None]]:
    out: list[tuple[str, Selector | None]] = [
        ("retriever blend (before)", retriever_blend),
        ("retriever blend, made whole", lambda q, p: quote.whole(p.doc_text, *retriever_blend(q, p), p.start, p.end))]
    for name in ("cosine", "bm25", "coverage", "proximity", "answer_type", "coverage_window"):
        out.append((f"{name} alone", by_feature(name)))
    try:
        m = quote.Model.load()
        out.append(("learned, sentence only", by_model(m, neighbour=False, margin=0.0)))
        out.append(("learned + needed previous sentence", by_model(m, neighbour=True, margin=0.0)))
        for margin in (0.5, 1.0, 1.5, 2.0):
            label = " (shipped)" if margin == m.adjacent_margin else ""
            out.append((f"learned + previous + adjacent runner-up within {margin}{label}",
                        by_model(m, neighbour=True, margin=margin)))
    except (OSError, ValueError) as exc:
        print(f"no model: {exc}", file=sys.stderr)
    out.append(("oracle: best single sentence", None))
    return out


def parse_sets(specs: list[str]) -> dict[str, tuple[str, str]]:
    sets = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        questions, _, index = rest.rpartition(":")
        sets[name] = (questions, index)
    return sets


def parts(name: str, items: list[Item]) -> list[tuple[str, list[Item]]]:
    if name.startswith("squad"):
        return [(f"{name} tune", [i for i in items if i.half == "tune"]),
                (f"{name} check", [i for i in items if i.half == "check"])]
    return [(name, items)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", required=True, metavar="NAME=QUESTIONS:INDEX")
    args = parser.parse_args()
    started = time.perf_counter()
    sets = {name: collect(qf, idx) for name, (qf, idx) in parse_sets(args.set).items()}
    columns = [(label, items) for name, items in sets.items() for label, items in parts(name, items)]
    print("| selector | " + " | ".join(f"{label} quote | quote\\|right | words" for label, _ in columns) + " |")
    print("|---|" + "---|---|---|" * len(columns))
    for vname, select in variants():
        cells = []
        for _, items in columns:
            r = score(items, select)
            cells += [f"{r['quote']:.3f}", f"{r['quote|right']:.3f}", f"{r['words']:.1f}"]
        print(f"| {vname} | " + " | ".join(cells) + " |")
    print()
    print("questions: " + ", ".join(f"{label} {len(items)} ({sum(bool(i.passages and i.passages[0].holds) for i in items)} "
                                    "with an answer in passage 1)" for label, items in columns))
    print(f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_quote  # the cache's classes by their module's name, whichever script reads it

    sys.exit(bench_quote.main())
