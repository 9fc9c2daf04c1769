"""``qa eval``: score the engine on a question set (DESIGN.md, "Metrics qa eval reports").

How the numbers are made, so that they mean the same thing in every run:

- Every question is asked ``DEPTH`` (10) passages deep through ``engine.ask_many`` (batched),
  whatever ``-k`` says, so that MRR@10 and nDCG@10 see ten passages. ``-k N`` adds Hit@N and
  AnswerRecall@N columns (and retrieves N deep when N > 10); it is also the ``k`` of the timed calls.
- A document's rank is the first occurrence of its ``doc_id`` in the ranked passages. Hit@1,
  Hit@5, MRR@10 and nDCG@10 over gold documents come from ranx (``hit_rate@k``, ``mrr@10``,
  ``ndcg@10``), on answerable questions only. Passages count whether or not the engine abstained.
- AnswerRecall@n: one of the first n passages contains one of ``answers`` (case-insensitive, white
  space folded), over answerable questions that list answers.
- Abstention accuracy: the fraction of ``unanswerable`` questions the engine abstained on.
  False-abstention rate: the fraction of answerable questions it abstained on.
- Latency p50/p95 is that of single ``engine.ask`` calls, timed one at a time on the first
  ``latency_sample`` questions after one untimed warm-up call; batching would hide it.
- Questions whose gold documents are not all in the index are reported and left out.
- Follow-ups (questions with ``history``) are scored in the total and again on their own line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from qa.settings import DEFAULT_MODE, MODES, Settings
from qa.types import Answer

DEPTH = 10
LATENCY_SAMPLE = 200
BATCH_SIZE = 64
MISSES_PER_MODE = 300  # a report listing thousands of misses is read by nobody
PREVIEW_CHARS = 200


class QuestionFileError(ValueError):
    """A question file that does not follow the format; the message names file and line."""


@dataclass(frozen=True)
class Question:
    """One line of a question file (DESIGN.md, "Question set format")."""

    id: str
    question: str
    gold_doc_ids: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    type: str = "answerable"
    line: int = 0

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @property
    def follow_up(self) -> bool:
        return bool(self.history)


# --- reading the question file -------------------------------------------------------------

def _string_list(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise QuestionFileError(f'{where}: "{key}" must be a list of strings, got {value!r}')
    return tuple(value)


def parse_question(line: str, where: str, number: int) -> Question:
    """One JSON line as a Question; QuestionFileError says what is wrong at ``where``."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QuestionFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise QuestionFileError(f"{where}: expected a JSON object, got {type(data).__name__}")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionFileError(f'{where}: "question" is missing or not a non-empty string')
    qid = data.get("id", f"line{number}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise QuestionFileError(f'{where}: "id" must be a string, got {qid!r}')
    qtype = data.get("type", "answerable")
    if not isinstance(qtype, str):
        raise QuestionFileError(f'{where}: "type" must be a string, got {qtype!r}')
    gold = _string_list(data, "gold_doc_ids", where)
    if qtype == "unanswerable" and gold:
        raise QuestionFileError(f'{where}: an "unanswerable" question cannot have gold_doc_ids')
    if qtype != "unanswerable" and not gold:
        raise QuestionFileError(
            f'{where}: "gold_doc_ids" is empty; list the gold documents, or mark the question '
            f'"type": "unanswerable"'
        )
    return Question(
        id=str(qid), question=question, gold_doc_ids=gold,
        answers=_string_list(data, "answers", where),
        history=_string_list(data, "history", where),
        type=qtype, line=number,
    )


def load_questions(path: str | Path) -> list[Question]:
    """Read and check a JSON Lines question file; blank lines are skipped.

    Raises:
        QuestionFileError: naming the file and line of the first malformed question.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(f"{path}: cannot read the question file ({exc})") from None
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        q = parse_question(line, where, number)
        if q.id in seen:
            raise QuestionFileError(f'{where}: id "{q.id}" already used on line {seen[q.id]}')
        seen[q.id] = number
        questions.append(q)
    if not questions:
        raise QuestionFileError(f"{path}: no questions in the file")
    return questions


# --- scoring one answer --------------------------------------------------------------------

def fold(text: str) -> str:
    """Case-insensitive, white-space-folded form used to match answers in passages."""
    return " ".join(text.split()).casefold()


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    folded = fold(text)
    return any(fold(a) and fold(a) in folded for a in answers)


def doc_ranking(answer: Answer, depth: int = DEPTH) -> list[str]:
    """Distinct doc ids of the first ``depth`` passages, each at its first occurrence."""
    ranking: list[str] = []
    for passage in answer.passages[:depth]:
        if passage.doc_id not in ranking:
            ranking.append(passage.doc_id)
    return ranking


def answer_rank(answer: Answer, answers: Sequence[str], depth: int = DEPTH) -> int | None:
    """1-based rank of the first passage that contains an answer, or None."""
    for rank, passage in enumerate(answer.passages[:depth], start=1):
        if contains_answer(passage.text, answers):
            return rank
    return None


def ranking_metric_names(k: int) -> dict[str, str]:
    """Our column names -> ranx metric names; Hit@k is added when -k is not 1 or 5."""
    names = {"Hit@1": "hit_rate@1", "Hit@5": "hit_rate@5"}
    if k not in (1, 5):
        names[f"Hit@{k}"] = f"hit_rate@{k}"
    names.update({"MRR@10": "mrr@10", "nDCG@10": "ndcg@10"})
    return names


def ranking_scores(
    golds: dict[str, Sequence[str]], rankings: dict[str, Sequence[str]], k: int = 5
) -> dict[str, dict[str, float]]:
    """Per-query ranking metrics from ranx.

    Args:
        golds: query key -> gold doc ids (non-empty).
        rankings: query key -> distinct doc ids, best first (missing or empty: nothing found).
    Returns:
        query key -> {"Hit@1": ..., "Hit@5": ..., "MRR@10": ..., "nDCG@10": ...}.
    """
    if not golds:
        return {}
    from ranx import Qrels, Run  # ~3 s of numba import: only when scoring
    from ranx import evaluate as ranx_evaluate

    names = ranking_metric_names(k)
    qrels = Qrels({key: {doc: 1 for doc in gold} for key, gold in golds.items()})
    # Strictly decreasing scores so that ranx keeps our order.
    run = Run({key: {doc: float(len(r) - i) for i, doc in enumerate(r)}
               for key, r in ((key, rankings.get(key, ())) for key in golds)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64 -> int64 cast notice
        ranx_evaluate(qrels, run, list(names.values()), return_mean=False)
    return {key: {name: float(run.scores[metric][key]) for name, metric in names.items()}
            for key in golds}


# --- asking --------------------------------------------------------------------------------

def ask_batched(
    engine: Any, questions: Sequence[Question], *, depth: int, mode: str,
    batch_size: int = BATCH_SIZE, progress: bool = False,
) -> list[Answer]:
    """Ask every question ``depth`` deep, in batches through ``engine.ask_many``."""
    from tqdm import tqdm

    answers: list[Answer] = []
    ask_many = getattr(engine, "ask_many", None)
    with tqdm(total=len(questions), desc=f"eval {mode}", unit="q", disable=not progress,
              file=sys.stderr, leave=False) as bar:
        for start in range(0, len(questions), batch_size):
            batch = questions[start:start + batch_size]
            histories = [list(q.history) or None for q in batch]
            if ask_many is not None:
                answers.extend(ask_many([q.question for q in batch], k=depth,
                                        histories=histories, mode=mode))
            else:  # an engine without the batched path: same answers, slower
                answers.extend(engine.ask(q.question, k=depth, history=h, mode=mode)
                               for q, h in zip(batch, histories))
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
        started = time.perf_counter()
        engine.ask(q.question, k=k, history=list(q.history) or None, mode=mode)
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


# --- the evaluation ------------------------------------------------------------------------

def score_answers(
    questions: Sequence[Question], answers: Sequence[Answer], *, mode: str, k: int = 5,
    depth: int = DEPTH, latencies: Sequence[float] = (),
) -> list[dict[str, Any]]:
    """One record per question: ranks, metric values, abstention, latency, the top passage."""
    keys = [str(i) for i in range(len(questions))]  # positions: ids need not be unique here
    rankings = {key: doc_ranking(a, depth) for key, a in zip(keys, answers)}
    golds = {key: q.gold_doc_ids for key, q in zip(keys, questions) if q.answerable}
    per_query = ranking_scores(golds, rankings, k)
    records = []
    for i, (key, q, a) in enumerate(zip(keys, questions, answers)):
        top = a.passages[0] if a.passages else None
        ranking = rankings[key]
        gold_ranks = [ranking.index(d) + 1 for d in q.gold_doc_ids if d in ranking]
        records.append({
            "id": q.id, "mode": mode, "question": q.question, "history": list(q.history),
            "type": q.type, "answerable": q.answerable, "follow_up": q.follow_up,
            "gold_doc_ids": list(q.gold_doc_ids), "answers": list(q.answers),
            "ranking": ranking, "gold_rank": min(gold_ranks) if gold_ranks else None,
            **per_query.get(key, {}),
            "answer_rank": answer_rank(a, q.answers, depth) if q.answers else None,
            "abstained": bool(a.abstained),
            "latency_ms": round(latencies[i], 2) if i < len(latencies) else None,
            "top": None if top is None else {
                "doc_id": top.doc_id, "title": top.title, "text": top.text[:PREVIEW_CHARS]},
        })
    return records


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: Sequence[dict[str, Any]], k: int = 5) -> dict[str, Any]:
    """Means over the records; None where no question qualifies (e.g. no unanswerable ones)."""
    import numpy as np

    answerable = [r for r in records if r["answerable"]]
    with_answers = [r for r in answerable if r["answers"]]
    unanswerable = [r for r in records if not r["answerable"]]
    latencies = [r["latency_ms"] for r in records if r["latency_ms"] is not None]
    summary: dict[str, Any] = {
        "questions": len(records), "answerable": len(answerable),
        "unanswerable": len(unanswerable), "with_answers": len(with_answers),
    }
    for name in ranking_metric_names(k):
        summary[name] = _mean([r[name] for r in answerable])
    for n in sorted({1, 5, k}):
        summary[f"AnswerRecall@{n}"] = _mean(
            [float(r["answer_rank"] is not None and r["answer_rank"] <= n) for r in with_answers])
    summary["abstention_accuracy"] = _mean([float(r["abstained"]) for r in unanswerable])
    summary["false_abstention_rate"] = _mean([float(r["abstained"]) for r in answerable])
    p50, p95 = np.percentile(latencies, [50, 95]).tolist() if latencies else (None, None)
    summary.update({"latency_p50_ms": p50, "latency_p95_ms": p95, "latency_n": len(latencies)})
    return summary


def evaluate(
    engine: Any, questions: Sequence[Question] | str | Path, *, k: int = 5,
    modes: Sequence[str] = (DEFAULT_MODE,), latency_sample: int = LATENCY_SAMPLE,
    batch_size: int = BATCH_SIZE, progress: bool = False,
) -> dict[str, Any]:
    """Score ``engine`` on ``questions`` (a list or a JSONL path) in each of ``modes``.

    Returns:
        A JSON-serialisable dict: ``modes[mode]["all"|"follow_ups"]`` hold the metrics of
        :func:`summarize`; ``excluded`` the questions whose gold documents are not indexed;
        ``per_question`` one record per question and mode (see :func:`score_answers`).
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
        result["modes"][mode] = {
            "all": summarize(records, k),
            "follow_ups": summarize([r for r in records if r["follow_up"]], k),
            "seconds": round(time.perf_counter() - mode_started, 2),
            "batch_seconds": round(batch_seconds, 2),
        }
        result["per_question"].extend(records)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


# --- presenting ----------------------------------------------------------------------------

def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(result: dict[str, Any]) -> str:
    """A Markdown table: one row per mode, then one per mode for the follow-ups."""
    k = result["k"]
    rank_names = list(ranking_metric_names(k))
    recall_names = [f"AnswerRecall@{n}" for n in sorted({1, 5, k})]
    header = (["mode", "questions", *rank_names, *[n.replace("AnswerRecall", "AR") for n in recall_names],
               "abstain acc", "false abstain", "p50 ms", "p95 ms"])
    rows = []
    for part, label in (("all", ""), ("follow_ups", " · follow-ups")):
        for mode, data in result["modes"].items():
            s = data[part]
            if not s["questions"]:
                continue
            rows.append([
                mode + label, f'{s["answerable"]}+{s["unanswerable"]}u',
                *[_fmt(s[n]) for n in rank_names], *[_fmt(s[n]) for n in recall_names],
                _fmt(s["abstention_accuracy"]), _fmt(s["false_abstention_rate"]),
                _fmt(s["latency_p50_ms"], 1), _fmt(s["latency_p95_ms"], 1),
            ])
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def notes(result: dict[str, Any]) -> str:
    """What the table's numbers are, what was left out, how long it took."""
    lat = result["latency"]
    counts = result["counts"]
    lines = [
        f'{counts["scored"]} questions scored ({counts["unanswerable"]} unanswerable, '
        f'{counts["follow_ups"]} follow-ups); "u" counts the unanswerable ones.',
        f'Metrics: {result["metrics_method"]}; a document ranks at its first passage; '
        f"Hit/MRR/nDCG by ranx over gold documents; AR = AnswerRecall (a passage contains an answer).",
        f'Latency: {lat["method"]} (k={lat["k"]}), first {lat["sample"]} questions per mode.',
    ]
    if result["excluded"]:
        shown = ", ".join(f'{e["id"]} ({", ".join(e["missing"])})' for e in result["excluded"][:5])
        more = f", and {len(result['excluded']) - 5} more" if len(result["excluded"]) > 5 else ""
        lines.append(f'Excluded {len(result["excluded"])} questions whose gold documents are not '
                     f"in the index: {shown}{more}.")
    lines.append(f'Wall time {result["seconds"]:.1f} s; per mode, all / the batched asks: '
                 + ", ".join(f'{m} {d["seconds"]:.1f} s / {d["batch_seconds"]:.1f} s'
                             for m, d in result["modes"].items()) + ".")
    return "\n".join(lines)


def _miss_entry(r: dict[str, Any]) -> list[str]:
    head = f'### {r["id"]}: {r["question"]}'
    lines = [head]
    if r["history"]:
        lines.append(f'- after: {" / ".join(r["history"])}')
    if r["answerable"]:
        where = f'rank {r["gold_rank"]}' if r["gold_rank"] else "not in the passages"
        lines.append(f'- gold: {", ".join(f"`{d}`" for d in r["gold_doc_ids"])} ({where})'
                     + (" — engine abstained" if r["abstained"] else ""))
        if r["answers"]:
            lines.append(f'- answer: {" / ".join(r["answers"])}')
    top = r["top"]
    if top is None:
        lines.append("- first instead: no passage")
    else:
        preview = " ".join(top["text"].split())
        lines.append(f'- first instead: `{top["doc_id"]}` *{top["title"] or "untitled"}*: "{preview}…"')
    return lines + [""]


def report(result: dict[str, Any], questions_file: str = "") -> str:
    """Markdown: the table, then per mode the misses (gold not first) and wrong answers
    to unanswerable questions, each with what came first instead."""
    out = [f"# Evaluation {questions_file}".rstrip(), "", table(result), "", notes(result), ""]
    for mode in result["modes"]:
        records = [r for r in result["per_question"] if r["mode"] == mode]
        misses = [r for r in records if r["answerable"] and r.get("Hit@1") != 1.0]
        answered = [r for r in records if not r["answerable"] and not r["abstained"]]
        for title, items in ((f"Misses ({mode}): the gold article was not first", misses),
                             (f"Answered instead of abstaining ({mode})", answered)):
            out += [f"## {title}: {len(items)}", ""]
            for r in items[:MISSES_PER_MODE]:
                out += _miss_entry(r)
            if len(items) > MISSES_PER_MODE:
                out += [f"… and {len(items) - MISSES_PER_MODE} more "
                        "(all of them in --json FILE --per-question).", ""]
    return "\n".join(out)


def per_question_lines(result: dict[str, Any]) -> str:
    out = []
    for r in result["per_question"]:
        found = f'gold@{r["gold_rank"]}' if r["gold_rank"] else ("-" if not r["answerable"] else "gold@–")
        ans = f'answer@{r["answer_rank"]}' if r["answer_rank"] else "answer@–"
        ms = f'{r["latency_ms"]:.0f} ms' if r["latency_ms"] is not None else ""
        out.append(f'{r["mode"]:<6} {r["id"]:<12} {found:<8} {ans:<9} '
                   f'{"abstained" if r["abstained"] else "":<9} {ms}')
    return "\n".join(out)


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
                          progress=sys.stderr.isatty())
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
