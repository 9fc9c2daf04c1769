"""The answer a question expects (``qa.answertype``): the kind read from its wh-words, and
whether a sentence holds one, on cases written from general English."""
from __future__ import annotations

import pytest

from qa import answertype as at


@pytest.mark.parametrize("question, kind", [
    ("Who painted the ceiling of the chapel?", "person"),
    ("Whom did the committee elect as its chair?", "person"),
    ("Whose novel won the prize last year?", "person"),
    ("Which scientist first described the comet?", "person"),
    ("What was the name of the ship's captain?", "name"),
    ("What was the new bridge called?", "name"),
    ("To which coastal city did the ferry sail?", "place"),
    ("Which two villages were flooded?", "place"),
    ("When did the bridge collapse?", "date"),
    ("In what year was the treaty signed?", "date"),
    ("On which day do the markets close early?", "date"),
    ("How many passengers were on board?", "number"),
    ("How old was the pianist at her first concert?", "number"),
    ("How much did the city spend on the stadium?", "amount"),
    ("What percentage of voters stayed home?", "amount"),
    ("What share of the harvest was exported?", "amount"),
    ("Where did the two leaders meet?", "place"),
    ("Which country hosted the games?", "place"),
    ("In which city is the museum?", "place"),
    ("Which company bought the airline?", "org"),
    ("What organization runs the shelter?", "org"),
    ("Why did the talks fail?", None),
    ("What did the company say about the strike?", None),  # a question's verb: not a company
    ("What happened to the harvest?", None),
    ("Describe the new rules.", None),
])
def test_the_expected_kind_comes_from_the_wh_words(question, kind):
    assert at.expected(question) == kind


def test_the_first_wh_phrase_decides():
    # "how many" asks a number even though a "who" follows in a relative clause
    assert at.expected("How many workers who lost their jobs were rehired?") == "number"
    assert at.expected("Which company's founder, who left in 2001, returned?") == "org"


@pytest.mark.parametrize("kind, text", [
    ("date", "The bridge collapsed on March 3, 1987, during a storm."),
    ("date", "It was rebuilt in 1990."),
    ("date", "Work started in the 1880s."),
    ("number", "Forty passengers were on board."),
    ("number", "About 1,200 people were evacuated."),
    ("number", "She was 11 at her first concert."),
    ("amount", "The city spent $45 million on the stadium."),
    ("amount", "Turnout fell to 38 percent."),
    ("amount", "Prices rose 4.5% in a year."),
    ("amount", "The ticket cost 20 euros."),
    ("place", "The two leaders met in Geneva last week."),
    ("place", "Refugees arrived from Northern Province by bus."),
    ("person", "The ceiling was painted by Maria Gonzalez over four years."),
    ("person", "Dr. Okafor described the comet first."),
    ("org", "The airline was bought by Northwind Holdings Group."),
    ("org", "The shelter is run by UNHCR."),
])
def test_sentences_that_hold_the_kind(kind, text):
    assert at.holds(kind, text)
    assert at.score(kind, text) == 1.0


@pytest.mark.parametrize("kind, text", [
    ("date", "The bridge collapsed during a storm."),
    ("number", "Many passengers were on board."),
    ("amount", "The city spent a fortune on the stadium."),
    ("place", "the two leaders met and talked for hours."),
    ("person", "the ceiling was painted over four years."),
])
def test_sentences_without_the_kind(kind, text):
    assert not at.holds(kind, text)
    assert at.score(kind, text) == 0.0


def test_weaker_evidence_scores_half():
    assert at.score("date", "The market closes early on Friday.") == 0.5  # a weekday, no date
    assert at.score("amount", "They paid 300 for it.") == 0.5  # a number without a currency
    assert at.score("person", "Then Okafor spoke.") == 0.5  # a single name


def test_a_capitalised_sentence_opener_is_not_a_name():
    assert at.names("Yesterday the council voted.") == []
    assert at.names("Officials said Anna Berg resigned.") == ["Anna Berg"]


def test_names_stop_at_a_sentence_end_but_keep_initials():
    assert at.names("He flew to Lisbon. The talks began with J. R. Hartley present.") == [
        "Lisbon", "J. R. Hartley"]


def test_the_questions_own_words_are_not_the_answer():
    asked = at.question_words("Who founded Northwind?")
    assert not at.holds("person", "Northwind was founded in a garage.", asked)
    assert at.holds("person", "Northwind was founded by Lena Park.", asked)


def test_no_kind_scores_nothing_and_an_unknown_kind_is_refused():
    assert at.score(None, "On May 1, 1990, 40 people met in Rome.") == 0.0
    with pytest.raises(ValueError):
        at.score("colour", "It was red.")
