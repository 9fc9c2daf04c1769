"""``qa eval``: score the engine on a question set (DESIGN.md, "Metrics qa eval reports").

This module asks the engine and times it, and runs the command; the question file is read by
:mod:`qa.questions`, the answers are scored by :mod:`qa.eval_metrics` and the table and report
are written by :mod:`qa.eval_report`.

How the numbers are made, so that they mean the same thing in every run:

- Every question is asked ``DEPTH`` (10) passages deep through ``engine.ask_many`` (batched),
  whatever ``-k`` says, so that MRR@10 and nDCG@10 see ten passages. ``-k N`` adds Hit@N and
  AnswerRecall@N columns (and retrieves N deep when N > 10); it is also the ``k`` of the timed calls.
- A document's rank is the first occurrence of its ``doc_id`` in the ranked passages. Hit@1,
  Hit@5, MRR@10 and nDCG@10 over gold documents come from ranx (``hit_rate@k``, ``mrr@10``,
  ``ndcg@10``), on answerable questions only. Passages count whether or not the engine abstained.
- AnswerRecall@n: one of the first n passages contains one of ``answers`` (case-insensitive, white
  space folded), over answerable questions that list answers.
- quote: the first passage's highlight (the sentence the answer quotes) contains one of
  ``answers``, matched as AnswerRecall matches, over answerable questions that list answers;
  quote|right (``quote_given_right_passage``): the same, over those whose first passage contains
  one (AnswerRecall@1): how well the sentence is chosen when the passage is right.
- Abstention accuracy: the fraction of ``unanswerable`` questions the engine abstained on.
  False-abstention rate: the fraction of answerable questions it abstained on.
- Latency p50/p95 is that of single ``engine.ask`` calls, timed one at a time on the first
  ``latency_sample`` questions after one untimed warm-up call; batching would hide it.
- Questions whose gold documents are not all in the index are reported and left out.
- Follow-ups (questions with ``history``) are scored in the total and again on their own line.
- ``--topic-switch``: every answerable question without history is asked again right after a
  question about another gold article (``topic_switch_pairs``: the first question at or after
  half the set away, cyclically, whose gold documents share none with its own), scored on the
  row "after another topic" next to the same questions alone; and every follow-up is asked
  again without its history ("follow-ups without history"), to show the history is used.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from qa.eval_metrics import DEPTH, contains_answer, doc_ranking, fold, score_answers, summarize
from qa.eval_report import notes, per_question_lines, report, table
from qa.questions import Question, QuestionFileError, load_questions, parse_question
from qa.settings import DEFAULT_MODE, MODES, Settings
from qa.types import Answer

# Re-exported: callers (tests, benchmarks) reach the evaluation's pieces through qa.evaluate.
__all__ = ["DEPTH", "Question", "QuestionFileError", "cli", "contains_answer", "doc_ranking",
           "evaluate", "fold", "load_questions", "notes", "parse_question", "report",
           "score_answers", "summarize", "table"]

LATENCY_SAMPLE = 200
BATCH_SIZE = 64


# --- asking --------------------------------------------------------------------------------

def ask_batched(
    engine: Any, questions: Sequence[Question], *, depth: int, mode: str,
    batch_size: int = BATCH_SIZE, progress: bool = False, use_as_of: bool = True,
) -> list[Answer]:
    """Ask every question ``depth`` deep, in batches through ``engine.ask_many``, each as of
    its ``as_of`` day (``use_as_of=False``: as of today, the set's days ignored)."""
    from tqdm import tqdm

    answers: list[Answer] = []
    ask_many = getattr(engine, "ask_many", None)
    with tqdm(total=len(questions), desc=f"eval {mode}", unit="q", disable=not progress,
              file=sys.stderr, leave=False) as bar:
        for start in range(0, len(questions), batch_size):
            batch = questions[start:start + batch_size]
            histories = [list(q.history) or None for q in batch]
            days = [q.as_of if use_as_of else None for q in batch]
            dated = {"as_of": days} if any(days) else {}  # engines without as_of still work
            if ask_many is not None:
                answers.extend(ask_many([q.question for q in batch], k=depth,
                                        histories=histories, mode=mode, **dated))
            else:  # an engine without the batched path: same answers, slower
                answers.extend(engine.ask(q.question, k=depth, history=h, mode=mode,
                                          **({"as_of": d} if d else {}))
                               for q, h, d in zip(batch, histories, days))
            bar.update(len(batch))
    return answers


def time_single_asks(
    engine: Any, questions: Sequence[Question], *, k: int, mode: str
) -> list[float]:
    """Milliseconds of one ``engine.ask`` per question, after one untimed warm-up call."""
    if not questions:
        return []
    engine.ask(questions[0].question, k=k, mode=mode)
    times = []
    for q in questions:
        dated = {"as_of": q.as_of} if q.as_of else {}
        started = time.perf_counter()
        engine.ask(q.question, k=k, history=list(q.history) or None, mode=mode, **dated)
        times.append((time.perf_counter() - started) * 1000)
    return times


def known_doc_ids(engine: Any, wanted: Iterable[str]) -> set[str]:
    """The ids among ``wanted`` that the index holds."""
    wanted = set(wanted)
    if callable(getattr(engine, "doc_ids", None)):
        return wanted & set(engine.doc_ids())
    known = set()
    for doc_id in wanted:
        try:
            engine.document(doc_id)
        except LookupError:
            continue
        known.add(doc_id)
    return known


def topic_switch_pairs(questions: Sequence[Question]) -> list[tuple[Question, Question]]:
    """(question, the same question asked after a question about another gold article) for
    every answerable question without history; the earlier question is the first at or after
    half the set away (cyclically) that has no gold document in common with it, so the choice
    is deterministic and lands far from the question's own neighbours (same article)."""
    pairs = []
    n = len(questions)
    for i, q in enumerate(questions):
        if not q.answerable or q.follow_up:
            continue
        for step in range(n // 2, n // 2 + n):
            other = questions[(i + step) % n]
            if other.answerable and not other.follow_up and not set(other.gold_doc_ids) & set(q.gold_doc_ids):
                pairs.append((q, dataclasses.replace(q, history=(other.question,))))
                break
    return pairs


def evaluate(
    engine: Any, questions: Sequence[Question] | str | Path, *, k: int = 5,
    modes: Sequence[str] = (DEFAULT_MODE,), latency_sample: int = LATENCY_SAMPLE,
    batch_size: int = BATCH_SIZE, progress: bool = False, topic_switch: bool = False,
) -> dict[str, Any]:
    """Score ``engine`` on ``questions`` (a list or a JSONL path) in each of ``modes``.

    Returns:
        A JSON-serialisable dict: ``modes[mode]["all"|"follow_ups"]`` hold the metrics of
        :func:`summarize`; ``excluded`` the questions whose gold documents are not indexed;
        ``per_question`` one record per question and mode (see :func:`score_answers`).
        With ``topic_switch``, ``modes[mode]`` also holds ``alone`` and ``after_topic_switch``
        (the same questions; see :func:`topic_switch_pairs`) and ``follow_ups_without_history``;
        their records are in ``per_question`` with ``variant`` saying which.
    """
    if isinstance(questions, (str, Path)):
        questions = load_questions(questions)
    unknown_modes = [m for m in modes if m not in MODES]
    if unknown_modes:
        raise ValueError(f"unknown mode(s) {unknown_modes}; choose from {list(MODES)}")
    started = time.perf_counter()
    known = known_doc_ids(engine, (d for q in questions for d in q.gold_doc_ids))
    scored, excluded = [], []
    for q in questions:
        missing = [d for d in q.gold_doc_ids if d not in known]
        if missing:
            excluded.append({"id": q.id, "line": q.line, "missing": missing})
        else:
            scored.append(q)
    depth = max(DEPTH, k)
    result: dict[str, Any] = {
        "k": k, "depth": depth, "modes": {}, "excluded": excluded,
        "counts": {"questions": len(questions), "scored": len(scored), "excluded": len(excluded),
                   "follow_ups": sum(q.follow_up for q in scored),
                   "unanswerable": sum(not q.answerable for q in scored)},
        "latency": {"method": "single engine.ask calls, one at a time, after one warm-up call",
                    "sample": min(latency_sample, len(scored)), "k": k},
        "metrics_method": f"batched engine.ask_many, {depth} passages deep",
        "per_question": [],
    }
    for mode in modes:
        mode_started = time.perf_counter()
        answers = ask_batched(engine, scored, depth=depth, mode=mode,
                              batch_size=batch_size, progress=progress)
        batch_seconds = time.perf_counter() - mode_started
        latencies = time_single_asks(engine, scored[:latency_sample], k=k, mode=mode)
        records = score_answers(scored, answers, mode=mode, k=k, depth=depth, latencies=latencies)
        for r in records:
            r["variant"] = "asked"
        result["modes"][mode] = {
            "all": summarize(records, k),
            "follow_ups": summarize([r for r in records if r["follow_up"]], k),
        }
        if topic_switch:
            result["modes"][mode].update(_topic_switch_rows(engine, scored, records, result, mode=mode,
                                                            k=k, depth=depth, batch_size=batch_size))
        result["modes"][mode].update({
            "seconds": round(time.perf_counter() - mode_started, 2),
            "batch_seconds": round(batch_seconds, 2),
        })
        if any(q.as_of for q in scored):  # the same questions asked today: what the day buys
            undated = ask_batched(engine, scored, depth=depth, mode=mode, batch_size=batch_size,
                                  use_as_of=False)
            result["modes"][mode]["without_as_of"] = summarize(
                score_answers(scored, undated, mode=mode, k=k, depth=depth, latencies=[]), k)
        result["per_question"].extend(records)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _topic_switch_rows(engine: Any, scored: Sequence[Question], records: list[dict[str, Any]],
                       result: dict[str, Any], *, mode: str, k: int, depth: int,
                       batch_size: int) -> dict[str, Any]:
    """The rows of ``--topic-switch``; their per-question records go to ``result``."""
    pairs = topic_switch_pairs(scored)
    position = {id(q): i for i, q in enumerate(scored)}
    alone = [records[position[id(q)]] for q, _ in pairs]
    switched = score_answers([s for _, s in pairs],
                             ask_batched(engine, [s for _, s in pairs], depth=depth, mode=mode,
                                         batch_size=batch_size), mode=mode, k=k, depth=depth)
    follow_ups = [q for q in scored if q.follow_up]
    bare = [dataclasses.replace(q, history=()) for q in follow_ups]
    without = score_answers(bare, ask_batched(engine, bare, depth=depth, mode=mode, batch_size=batch_size),
                            mode=mode, k=k, depth=depth)
    for r in switched:
        r["variant"] = "after_topic_switch"
    for r, q in zip(without, follow_ups):
        r.update(variant="follow_up_without_history", history=list(q.history))
    result["per_question"].extend(switched + without)
    return {"alone": summarize(alone, k), "after_topic_switch": summarize(switched, k),
            "follow_ups_without_history": summarize(without, k)}


# --- command line --------------------------------------------------------------------------

def open_engine(index: str) -> Any:
    """The engine over ``index``; imported here because the engine pulls in torch."""
    from qa.engine import Engine

    return Engine.open(index)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa eval", description="Score the engine on a question set (JSON Lines).")
    parser.add_argument("questions", metavar="QUESTIONS.jsonl")
    parser.add_argument("--index", help="index directory (default: $QA_INDEX or index/)")
    parser.add_argument("-k", type=int, default=None,
                        help="also report Hit@k and AnswerRecall@k; k of the timed ask calls "
                             "(default 5). Ranking metrics always look 10 passages deep.")
    parser.add_argument("--mode", choices=[*MODES, "all"], default=DEFAULT_MODE,
                        help="retrieval mode, or all of them side by side")
    parser.add_argument("--json", metavar="FILE", help="write all numbers to FILE")
    parser.add_argument("--report", metavar="FILE.md", help="write a Markdown report of the misses")
    parser.add_argument("--per-question", action="store_true",
                        help="print per-question results, and put them in --json FILE")
    parser.add_argument("--latency-sample", type=int, default=LATENCY_SAMPLE, metavar="N",
                        help=f"time single ask calls on the first N questions (default {LATENCY_SAMPLE})")
    parser.add_argument("--topic-switch", action="store_true",
                        help="also ask each answerable question right after a question about another "
                             "gold article, and each follow-up without its history; report both rows")
    parser.add_argument("--limit", type=int, metavar="N", help="score only the first N questions")
    return parser


def cli(argv: list[str]) -> int:
    """``qa eval ...``; returns the exit code (2: bad arguments, question file or index)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage; hand back its code
        return int(exc.code or 0)
    settings = Settings.from_env(index=args.index)
    k = args.k if args.k is not None else settings.k
    if k < 1 or args.latency_sample < 0:
        print("qa eval: -k must be at least 1 and --latency-sample at least 0", file=sys.stderr)
        return 2
    try:
        questions = load_questions(args.questions)
    except QuestionFileError as exc:
        print(f"qa eval: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        questions = questions[:args.limit]
    modes = list(MODES) if args.mode == "all" else [args.mode]

    from qa.store import IndexProblem

    try:
        engine = open_engine(settings.index)
        result = evaluate(engine, questions, k=k, modes=modes, latency_sample=args.latency_sample,
                          progress=sys.stderr.isatty(), topic_switch=args.topic_switch)
    except (IndexProblem, OSError, ValueError) as exc:  # their messages say what to do
        print(f"qa eval: {exc}", file=sys.stderr)
        return 2
    result.update({"questions_file": str(args.questions), "index": str(settings.index)})

    if result["counts"]["scored"] == 0:
        print(notes(result), file=sys.stderr)
        print(f"qa eval: none of the questions has its gold documents in {settings.index}: "
              "is this the index of the right corpus?", file=sys.stderr)
        return 2
    print(table(result))
    print()
    print(notes(result))
    if args.per_question:
        print()
        print(per_question_lines(result))
    if args.json:
        data = dict(result) if args.per_question else {
            k_: v for k_, v in result.items() if k_ != "per_question"}
        Path(args.json).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        print(f"numbers written to {args.json}")
    if args.report:
        Path(args.report).write_text(report(result, str(args.questions)) + "\n")
        print(f"report written to {args.report}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli(sys.argv[1:]))
