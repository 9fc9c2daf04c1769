"""What each retrieval lever buys: the hybrid blend with one lever taken out at a time.

Every lever of the blend is a query-time setting, so one index serves every row. The query
vectors are the same in every row, so they are encoded once and reused (the engine's own
encoder, wrapped in a cache); everything after the encoder is the real ``Engine.ask_many``.

Usage:
  qa build --corpus ../shared/eval/squad-dev/corpus --index /tmp/squad-index
  python benchmarks/ablation.py ../shared/eval/squad-dev/questions.jsonl --index /tmp/squad-index
Prints a Markdown table (Hit@1, Hit@5, MRR@10, AnswerRecall@1/@5 per row).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

import numpy as np

from qa import Engine
from qa.evaluate import evaluate, load_questions
from qa.settings import Blend, Settings

BASE = Settings()
OFF = {"dense": "dense", "sentence cosine": "sentence", "chunk BM25": "bm25",
       "sentence BM25": "sentence_bm25", "word pairs": "pairs"}  # lever: its field of ``Blend``


def rows() -> list[tuple[str, str, dict]]:
    """(label, mode, settings overrides) for each row of the table."""
    table = [
        ("BM25 alone, classic k1=1.2 b=0.75", "bm25", {"bm25_k1": 1.2, "bm25_b": 0.75}),
        ("BM25 alone, k1=0.9 b=0.4 (default)", "bm25", {}),
        ("dense alone", "dense", {}),
        ("chunk cosine + chunk BM25 only (0.6/0.4)", "hybrid",
         {"blend": Blend(dense=0.6, sentence=0.0, bm25=0.4, sentence_bm25=0.0, pairs=0.0)}),
        ("**hybrid, all levers (default)**", "hybrid", {}),
    ]
    for lever, field in OFF.items():
        table.append((f"hybrid without {lever}", "hybrid", {"blend": replace(BASE.blend, **{field: 0.0})}))
    table.append(("hybrid, classic BM25 k1=1.2 b=0.75", "hybrid", {"bm25_k1": 1.2, "bm25_b": 0.75}))
    return table


class CachedEncoder:
    """The engine's encoder with a memory of the queries it has already encoded."""

    def __init__(self, encoder) -> None:
        self.inner, self.memory = encoder, {}

    def encode(self, texts, batch_size: int = 64):
        todo = [t for t in dict.fromkeys(texts) if t not in self.memory]
        if todo:
            for t, v in zip(todo, self.inner.encode(todo, batch_size=batch_size)):
                self.memory[t] = v
        return np.stack([self.memory[t] for t in texts])

    def __getattr__(self, name):
        return getattr(self.inner, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions")
    parser.add_argument("--index", default=os.environ.get("QA_INDEX", "index"))
    parser.add_argument("--limit", type=int, help="only the first N questions")
    args = parser.parse_args()
    questions = load_questions(args.questions)[: args.limit]
    started = time.perf_counter()
    base = Engine.open(args.index)
    cache = CachedEncoder(base.encoder)
    print(f"Command: python benchmarks/ablation.py {args.questions} --index {args.index}"
          + (f" --limit {args.limit}" if args.limit else ""))
    print(f"{len(questions)} questions, {base.size} chunks\n")
    print("| configuration | Hit@1 | Hit@5 | MRR@10 | AnswerRecall@1 | AnswerRecall@5 |")
    print("|---|---|---|---|---|---|")
    for label, mode, overrides in rows():
        engine = Engine.open(args.index, **overrides)
        engine._encoder = cache
        m = evaluate(engine, questions, k=5, modes=[mode], latency_sample=0)["modes"][mode]["all"]
        cells = [m.get(key) for key in ("Hit@1", "Hit@5", "MRR@10", "AnswerRecall@1", "AnswerRecall@5")]
        print(f"| {label} | " + " | ".join("-" if c is None else f"{c:.3f}" for c in cells) + " |", flush=True)
    print(f"\nWall time {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
