"""What ``qa eval`` prints and writes: the Markdown table of the metrics, the notes under it,
the report of the misses, and the per-question lines."""
from __future__ import annotations

from typing import Any, Sequence

from qa.eval_metrics import ranking_metric_names

MISSES_PER_MODE = 300
# The rows of the table, per mode: (key in result["modes"][mode], label); those of --topic-switch
# appear only when it was asked for.
PARTS = (("all", ""), ("without_as_of", " · as_of ignored"), ("follow_ups", " · follow-ups"),
         ("alone", " · alone (questions of the switch)"), ("after_topic_switch", " · after another topic"),
         ("follow_ups_without_history", " · follow-ups without history"))  # a report listing thousands of misses is read by nobody


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(result: dict[str, Any]) -> str:
    """A Markdown table: one row per mode, then one per mode for the follow-ups."""
    k = result["k"]
    rank_names = list(ranking_metric_names(k))
    recall_names = [f"AnswerRecall@{n}" for n in sorted({1, 5, k})]
    header = (["mode", "questions", *rank_names, *[n.replace("AnswerRecall", "AR") for n in recall_names],
               "quote", "quote|right", "abstain acc", "false abstain", "p50 ms", "p95 ms"])
    rows = []
    for part, label in PARTS:
        for mode, data in result["modes"].items():
            s = data.get(part)
            if not s or not s["questions"]:
                continue
            rows.append([
                mode + label, f'{s["answerable"]}+{s["unanswerable"]}u',
                *[_fmt(s[n]) for n in rank_names], *[_fmt(s[n]) for n in recall_names],
                _fmt(s.get("quote")), _fmt(s.get("quote_given_right_passage")),
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
        f"Hit/MRR/nDCG by ranx over gold documents; AR = AnswerRecall (a passage contains an answer); "
        f"quote = the first passage's highlight contains an answer, quote|right = the same where the "
        f"first passage contains one.",
        f'Latency: {lat["method"]} (k={lat["k"]}), first {lat["sample"]} questions per mode.',
    ]
    if any("after_topic_switch" in d for d in result["modes"].values()):
        lines.append("Topic switch: each answerable question without history asked alone and right after "
                     "a question about another gold article; follow-ups also asked without their history.")
    if any("without_as_of" in d for d in result["modes"].values()):
        lines.append('"as_of ignored": the same questions asked as of today instead of the day '
                     'each gives (its "as_of"): what the day buys.')
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
        records = [r for r in result["per_question"]
                   if r["mode"] == mode and r.get("variant", "asked") == "asked"]
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
        variant = {"after_topic_switch": " (switch)", "follow_up_without_history": " (no hist)"}.get(
            r.get("variant", ""), "")
        out.append(f'{r["mode"]:<6} {r["id"] + variant:<12} {found:<8} {ans:<9} '
                   f'{"quote" if r.get("quote") else "":<5} {"abstained" if r["abstained"] else "":<9} {ms}')
    return "\n".join(out)
