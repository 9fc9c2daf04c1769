"""Which earlier questions a question depends on (qa/history.py): the evidence in its words."""
from __future__ import annotations

import numpy as np
import pytest

from qa.history import cues, expanded_query, own_support, prefer_history, reference_words, thread


def test_reference_words_ellipsis_and_vagueness_are_cues():
    assert cues("Who reported that?").reference
    assert cues("How much was he paid there?").reference
    assert cues("Whose army besieged that city?").reference
    assert cues("And in 2019?").ellipsis and cues("What about Daily NK?").ellipsis
    assert cues("Why?").vague and cues("Which year?").vague
    assert not cues("Which NFL team represented the AFC at Super Bowl 50?")
    # a relative "that" names nothing earlier
    assert not cues("What is the name of the company that built the bridge in 1930?")


def test_words_that_name_nothing_earlier_are_not_cues():
    # a possessive after a name the question gives stands for that name
    assert not cues("Why did Tesla leave his job in Graz in December 1878?")
    assert not cues("What did North Korean traders ask their Chinese partners to send?")
    # ... but with no name before it, it points back; object pronouns always do
    assert reference_words("What was his profession?") == ["his"]
    assert cues("Which of its missions first orbited another celestial body?").reference
    assert cues("What did Tesla's friends think had happened to him?").reference
    # "this week" is the day of asking (read against as_of); "that year" was named earlier
    assert not cues("Which airline announced a new route to Asia this week?")
    assert not cues("Which country held elections these past months?")
    assert cues("Which team won the league that year?").reference
    assert cues("What was this report based on?").reference
    # existential "there" points at no place; a place "there" does
    assert not cues("How many natural reserves are there in Warsaw?")
    assert not cues("There were how many bridges over the Vistula in 1900?")
    assert reference_words("How much was he paid there?") == ["he", "there"]
    assert cues("Who was there?").reference  # at the end: the place named before


def test_the_thread_is_the_standalone_question_and_its_follow_ups():
    first, second = "Why did Tesla leave Graz in December 1878?", "Where did he go to work as a draftsman?"
    assert thread("How much was he paid there?", [first, second]) == [first, second]
    # a question that names an earlier subject goes back past the last topic to it
    other = "How many individual libraries make up the Harvard Library?"
    assert thread("What did Tesla's friends think had happened to him?", [first, other]) == [first]
    # without a shared word: the latest standalone question
    assert thread("Who wrote it?", [first, other]) == [other]
    assert thread("Who wrote it?", []) == []
    assert thread("Who wrote it?", ["And then?"]) == ["And then?"]  # nothing stands alone: all of it


def test_history_is_kept_only_when_it_is_the_better_supported_reading():
    assert expanded_query("Who wrote it?", ["a", "b"]) == "a b Who wrote it?"
    assert prefer_history(0.7, 0.9, support=0.8, confident=0.65)
    assert not prefer_history(0.9, 0.6, support=1.0, confident=0.65)  # less confident with it
    # dragged to another topic's article, which the question's own words hardly support
    assert not prefer_history(0.85, 0.99, support=0.2, confident=0.65)
    assert prefer_history(0.45, 0.99, support=0.0, confident=0.65, vague=True)  # too vague alone to say
    assert not prefer_history(0.45, 0.99, support=0.0, confident=0.65)  # specific: its own words judge
    assert not prefer_history(0.85, 0.99, support=0.0, confident=0.65, vague=True)  # sure alone
    rows, scores = np.array([7, 3, 9]), np.array([1.2, 0.9, 0.3])
    assert own_support(rows, scores, 3) == pytest.approx(0.75)
    assert own_support(rows, scores, 4) == 0.0 and own_support(rows[:0], scores[:0], 3) == 0.0
