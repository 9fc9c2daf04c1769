"""How long the engine takes to refuse a question that is too long, beside a real question.

    .venv/bin/python benchmarks/bench_refusal.py [--repeat 20]

The questions are those of ``tests/test_robustness.py`` (100k to 5M characters). Each is asked
``--repeat`` times of an engine opened on the sample corpus's index without its model: a refusal
must come before any encoding, so the model is never loaded (the last line says whether it was).
An ordinary question, asked of the same engine once its model is in, is timed for comparison.
The test checks the refusal and its message; how fast it comes is measured only here.
"""
from __future__ import annotations

import argparse
import statistics
import time

from common import ROOT, WORK, footer, ms, table

HUGE_QUESTIONS = {
    "x * 100,000": "x" * 100_000,
    "'smuggling ' * 10,000": "smuggling " * 10_000,
    "'북한 ' * 40,000": "북한 " * 40_000,
    "🦀 * 100,000": "🦀" * 100_000,
    "a * 5,000,000": "a" * 5_000_000,
}
ORDINARY = "When did China ban seafood imports from North Korea?"


def sample_index():
    """The sample corpus's index under $QA_BENCH_WORK (built once, reused while it opens)."""
    from qa import Engine, IndexProblem

    index = WORK / "sample-index"
    try:
        Engine.open(index)
    except IndexProblem:
        Engine.build(corpus=str(ROOT / "corpus"), index=str(index), log=lambda m: None)
    return index


def timed(ask, question: str, repeat: int) -> tuple[list[float], str]:
    """Milliseconds of each of ``repeat`` calls, and how the call ended."""
    times, outcome = [], ""
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            answer = ask(question)
            outcome = f"answered ({len(answer.passages)} passages)"
        except ValueError as exc:
            outcome = f"refused: {str(exc)[:60]}…"
        times.append(ms(time.perf_counter() - started))
    return times, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    from qa import Engine

    engine = Engine.open(sample_index())
    rows = []
    for label, question in HUGE_QUESTIONS.items():
        times, outcome = timed(engine.ask, question, args.repeat)
        rows.append([label, len(question), outcome, statistics.median(times), max(times)])
    model_loaded = getattr(engine, "_encoder", None) is not None
    engine.warm()
    times, outcome = timed(engine.ask, ORDINARY, args.repeat)
    rows.append([f"ordinary: {ORDINARY}", len(ORDINARY), outcome, statistics.median(times), max(times)])
    print(f"### Refusing a question that is too long ({args.repeat} asks each, engine on the sample index)\n")
    print(table(["question", "characters", "outcome", "p50 ms", "max ms"], rows))
    print(f"\nModel loaded by the refusals: {'yes (a refusal reached the model)' if model_loaded else 'no'}")
    print(footer(started))


if __name__ == "__main__":
    main()
