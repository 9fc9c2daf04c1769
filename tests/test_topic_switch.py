"""``qa eval --topic-switch``: questions asked after another topic, follow-ups without history."""
from __future__ import annotations

import pytest
from engine_fixtures import ROOT, sample_index  # noqa: F401

from qa.evaluate import evaluate, topic_switch_pairs
from qa.eval_report import table
from qa.questions import Question, load_questions

SHIPPED = ROOT / "tests" / "data" / "news_questions.jsonl"


def test_each_answerable_question_is_paired_with_one_about_another_article():
    qs = [Question("a", "qa?", ("d1",)), Question("b", "qb?", ("d1",)), Question("c", "qc?", ("d2",)),
          Question("u", "qu?", type="unanswerable"), Question("f", "qf?", ("d2",), history=("qc?",))]
    pairs = topic_switch_pairs(qs)
    assert [(q.id, s.history) for q, s in pairs] == [("a", ("qc?",)), ("b", ("qc?",)), ("c", ("qa?",))]
    assert all(s.question == q.question and s.gold_doc_ids == q.gold_doc_ids for q, s in pairs)
    assert topic_switch_pairs(qs) == pairs  # deterministic
    assert topic_switch_pairs([Question("a", "qa?", ("d1",))]) == []  # no other article: no pair


@pytest.mark.model
def test_topic_switch_rows_and_follow_ups_with_and_without_history(sample_index):
    from qa import Engine

    questions = load_questions(SHIPPED)
    chosen = [q for q in questions if q.follow_up] + [q for q in questions if q.answerable and not q.follow_up][:20]
    result = evaluate(Engine.open(sample_index), chosen, topic_switch=True, latency_sample=0)
    data = result["modes"]["hybrid"]
    assert data["alone"]["answerable"] == data["after_topic_switch"]["answerable"] == 20
    for metric in ("Hit@1", "AnswerRecall@5"):  # a change of topic costs (almost) nothing
        assert data["after_topic_switch"][metric] >= data["alone"][metric] - 0.051
    # the follow-ups need their history: better with it than without
    assert data["follow_ups"]["AnswerRecall@5"] > data["follow_ups_without_history"]["AnswerRecall@5"]
    assert data["follow_ups"]["Hit@1"] > data["follow_ups_without_history"]["Hit@1"]
    rows = [line.split("|")[1].strip() for line in table(result).splitlines()[2:]]
    assert rows == ["hybrid", "hybrid · follow-ups", "hybrid · alone (questions of the switch)",
                    "hybrid · after another topic", "hybrid · follow-ups without history"]
    variants = {r["variant"] for r in result["per_question"]}
    assert variants == {"asked", "after_topic_switch", "follow_up_without_history"}


@pytest.mark.model
def test_a_possessive_after_a_name_keeps_a_new_topic_alone(sample_index):
    """A question whose reference-looking word stands for a name it gives itself ("Kim ... his
    visit", "smugglers ... their partners") is a new topic: after another question it is searched
    alone and answers as it does alone (before, such a question could be dragged to the earlier
    question's article)."""
    import re

    from qa import Engine
    engine = Engine.open(sample_index)
    named_then_possessive = re.compile(r"^\S+\s.*\b[A-Z]\w*\b.*\b(?:its|their|his)\b")
    pairs = [(q, s) for q, s in topic_switch_pairs(load_questions(SHIPPED))
             if named_then_possessive.search(q.question)]
    assert len(pairs) >= 3
    for q, switched in pairs:
        alone = engine.ask(q.question, k=5)
        after = engine.ask(q.question, k=5, history=list(switched.history))
        assert after.history_used == [], q.id
        assert [p.doc_id for p in after.passages] == [p.doc_id for p in alone.passages], q.id
