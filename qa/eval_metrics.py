"""Scoring answers against a question set: which passage holds an answer, where the gold
documents rank, ranx's Hit/MRR/nDCG per question, and the means over a set of questions
(how each number is made: the docstring of :mod:`qa.evaluate`)."""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

from qa.questions import Question
from qa.types import Answer

DEPTH = 10
PREVIEW_CHARS = 200


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


def quoted(answer: Answer) -> str:
    """The first passage's highlighted text (the quote), or "" without a passage."""
    if not answer.passages:
        return ""
    first = answer.passages[0]
    return first.text[first.highlight[0]:first.highlight[1]]


def quote_holds(answer: Answer, answers: Sequence[str]) -> bool:
    """Whether the quote (the first passage's highlight) contains one of ``answers``."""
    return contains_answer(quoted(answer), answers)


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
            "quote": quote_holds(a, q.answers) if q.answers else None,
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
    # The quote: over questions with answers, and over those whose first passage holds one.
    summary["quote"] = _mean([float(bool(r.get("quote"))) for r in with_answers])
    summary["quote_given_right_passage"] = _mean(
        [float(bool(r.get("quote"))) for r in with_answers if r["answer_rank"] == 1])
    summary["abstention_accuracy"] = _mean([float(r["abstained"]) for r in unanswerable])
    summary["false_abstention_rate"] = _mean([float(r["abstained"]) for r in answerable])
    p50, p95 = np.percentile(latencies, [50, 95]).tolist() if latencies else (None, None)
    summary.update({"latency_p50_ms": p50, "latency_p95_ms": p95, "latency_n": len(latencies)})
    return summary
