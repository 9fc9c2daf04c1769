"""Time in questions: the as_of day, the periods a question names, and the soft preference the
real engine gives articles of that time (never a filter; nothing after as_of preferred)."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from qa.questions import QuestionFileError, parse_question
from qa.timewords import TimePrior, as_of_day, day_number, named_windows, published_days, typed_day

D = dt.date
AS_OF = D(2022, 6, 16)  # a Thursday


def test_as_of_is_a_day_or_today_and_anything_else_is_refused_with_the_format():
    assert as_of_day("2022-06-16") == AS_OF
    assert as_of_day(AS_OF) == AS_OF and as_of_day(None) == dt.date.today()
    for bad in ("2022-13-01", "16/06/2022", "yesterday", "2022-6-1", 20220616):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            as_of_day(bad)


@pytest.mark.parametrize("question, first, last", [
    ("What was green lit recently?", D(2022, 6, 9), AS_OF),
    ("Which bill was signed this week?", D(2022, 6, 9), AS_OF),
    ("What did the court decide last month?", D(2022, 5, 1), D(2022, 5, 31)),
    ("Who won the primary in May?", D(2022, 5, 1), D(2022, 5, 31)),
    ("Which firm went bankrupt last year?", D(2021, 1, 1), D(2021, 12, 31)),
    ("Who spoke on Sunday?", D(2022, 6, 11), D(2022, 6, 14)),
])
def test_relative_words_are_read_against_as_of(question, first, last):
    windows = named_windows(question, AS_OF)
    assert (first, last) in [(w.first, w.last) for w in windows]


def test_no_time_words_no_period_and_the_future_or_the_verb_may_prefer_nothing():
    assert named_windows("Who leads the central bank?", AS_OF) == []
    assert named_windows("Who may run for the office?", AS_OF) == []
    assert named_windows("What will the bank do next month?", AS_OF) == []


def test_the_bonus_is_soft_and_never_goes_to_articles_after_as_of_or_undated():
    prior = TimePrior.of("What did the court decide last month?", AS_OF, recency=0.1, named=0.2,
                         recent_days=7, decay_days=14)
    days = published_days(["2022-06-15", "2022-05-10", "2022-03-01", "2022-06-17", None, "nonsense"])
    bonus = prior.bonus(days)
    assert bonus[3] == 0 and bonus[4] == 0 and bonus[5] == 0  # after as_of, undated, unreadable
    assert bonus[1] > bonus[2] > 0  # in the named month beats months before it, which still get some
    assert bonus[0] > 0.1 - 1e-6  # the recent days get the recency in full
    assert np.all(bonus <= 0.1 + 0.2 + 1e-6)
    assert published_days(["2022-06-16T10:00:00"])[0] == day_number(AS_OF)


def test_a_question_set_carries_as_of_and_a_bad_one_names_its_line():
    q = parse_question(json.dumps({"question": "What happened this week?", "gold_doc_ids": ["a"],
                                   "as_of": "2022-06-16"}), "f, line 3", 3)
    assert q.as_of == "2022-06-16"
    assert parse_question(json.dumps({"question": "Q?", "gold_doc_ids": ["a"]}), "f", 1).as_of is None
    with pytest.raises(QuestionFileError, match="line 4.*as_of"):
        parse_question(json.dumps({"question": "Q?", "gold_doc_ids": ["a"], "as_of": "June 16"}),
                       "f, line 4", 4)


ARTICLE = ("The city council of Brookhaven voted to close the old harbour bridge to traffic. "
           "Engineers had found cracks in two of its steel supports during an inspection. "
           "The mayor said repairs would take most of the year and cost about 40 million dollars.")


@pytest.fixture(scope="module")
def dated_engine(tmp_path_factory, encoder):
    """Three copies of one story, published months apart: only their dates tell them apart."""
    from qa import Engine
    from qa.build import build
    from qa.settings import Settings

    corpus = tmp_path_factory.mktemp("dated-corpus")
    for name, day, by in (("march", "2021-03-10", "Ann Lee"), ("june", "2021-06-14", "Bo Park"),
                          ("october", "2021-10-20", "Cy Diaz")):
        (corpus / f"{name}.json").write_text(json.dumps(  # the same story, told by another reporter
            {"title": "Council closes the harbour bridge", "text": f"{ARTICLE} Reported by {by}.",
             "published": day}))
    index = tmp_path_factory.mktemp("dated-index")
    build(Settings(corpus=str(corpus), index=str(index)), progress=False, log=lambda m: None,
          encoder=encoder)
    engine = Engine.open(index)
    engine._encoder = encoder
    return engine


def test_without_a_date_near_them_the_three_copies_score_alike(dated_engine):
    answer = dated_engine.ask("Why did the council close the harbour bridge?", k=3, as_of="2030-01-01")
    scores = [p.score for p in answer.passages]
    assert len(scores) == 3 and max(scores) - min(scores) < 0.05  # under the time bonus


def first_doc(engine, question, as_of):
    return engine.ask(question, k=3, as_of=as_of).passages[0].doc_id


def test_the_engine_prefers_the_articles_just_before_as_of(dated_engine):
    q = "Why did the council close the harbour bridge?"
    assert first_doc(dated_engine, q, "2021-06-16") == "june.json"
    assert first_doc(dated_engine, q, "2021-10-22") == "october.json"
    # Nothing published after as_of is preferred: asked in March, March's article comes first.
    assert first_doc(dated_engine, q, "2021-03-20") == "march.json"


def test_a_named_period_is_preferred_and_nothing_is_filtered(dated_engine):
    answer = dated_engine.ask("Why did the council close the harbour bridge in March?", k=3,
                              as_of="2021-12-31")
    assert answer.passages[0].doc_id == "march.json"
    assert {p.doc_id for p in answer.passages} == {"march.json", "june.json", "october.json"}


def test_a_bad_as_of_is_refused_by_ask(dated_engine):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        dated_engine.ask("Why was the bridge closed?", as_of="last Tuesday")


def test_qa_eval_asks_each_question_as_of_its_day_and_reports_the_same_as_of_today(dated_engine, tmp_path):
    from qa.eval_report import table
    from qa.evaluate import evaluate

    rows = [{"id": f"q{i}", "question": "Why did the council close the harbour bridge?",
             "gold_doc_ids": [gold], "as_of": day}
            for i, (gold, day) in enumerate((("march.json", "2021-03-12"), ("june.json", "2021-06-16"),
                                             ("october.json", "2021-10-22")))]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate(dated_engine, path, modes=["hybrid"], latency_sample=0)
    dated, undated = result["modes"]["hybrid"]["all"], result["modes"]["hybrid"]["without_as_of"]
    assert dated["Hit@1"] == 1.0  # each asked on its own day finds the article of that week
    assert undated["Hit@1"] < 0.5  # asked today, the same article comes first for all three
    assert "as_of ignored" in table(result)


def test_a_typed_day_is_its_stripped_text_and_blank_is_today():
    assert typed_day("  2022-06-16 \n") == "2022-06-16"
    assert typed_day("") is None and typed_day("   ") is None and typed_day(None) is None
    assert as_of_day(typed_day("   ")) == dt.date.today()
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        as_of_day(typed_day(" June 16 "))
