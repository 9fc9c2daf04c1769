"""The quoted sentence (``qa.quote``): the highlight of each passage is the sentence the
selector chooses, whole; the model file matches the code; on the real engine and index of the
sample corpus, a who-question's quote names someone."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from qa import answertype, quote
from qa.answer import sentences

ROOT = Path(__file__).resolve().parents[1]


def passage(text: str, cosines=None, bm25=None) -> quote.Passage:
    spans = sentences(text)
    n = len(spans)
    return quote.Passage(text, spans, np.asarray(cosines if cosines is not None else [0.5] * n, dtype="float32"),
                         np.asarray(bm25 if bm25 is not None else [1.0] * n, dtype="float32"), 1.0, 0, len(text))


def test_the_model_file_loads_and_matches_the_features_of_the_code():
    data = json.loads(quote.MODEL_FILE.read_text())
    assert data["features"] == list(quote.FEATURES)
    m = quote.Model.load()
    width = quote.expand(np.zeros((1, len(quote.FEATURES))), m.pairwise).shape[1]
    assert len(m.weights) == len(m.mean) == len(m.scale) == width
    assert np.all(np.isfinite(m.weights)) and np.all(m.scale > 0)
    # shipped with the package
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["qa"]
    assert "quote_model.json" in package_data


def test_a_model_trained_on_other_features_is_refused():
    data = json.loads(quote.MODEL_FILE.read_text())
    with pytest.raises(ValueError, match="train_quote"):
        quote.Model({**data, "features": data["features"][:-1]})


def test_features_are_one_row_per_sentence():
    p = passage("The storm hit the coast on Monday. Officials counted the damage. Nobody was hurt.")
    rows = quote.features(quote.Question("When did the storm hit the coast?"), p)
    assert rows.shape == (3, len(quote.FEATURES))
    col = quote.FEATURES.index
    assert rows[0, col("answer_type")] > 0 and rows[2, col("answer_type")] == 0
    assert rows[0, col("coverage")] > rows[1, col("coverage")]
    assert rows[0, col("first_in_passage")] == 1 and rows[1, col("first_in_passage")] == 0


def test_the_sentence_with_the_expected_answer_is_chosen_when_retrieval_cannot_tell():
    text = ("The new bridge over the river was planned for a decade. "
            "The new bridge over the river opened on 4 May 2021 after years of delays. "
            "Residents of the town welcomed the bridge.")
    p = passage(text)  # the same cosine and BM25 for every sentence
    s, e = quote.choose(quote.Question("When did the new bridge over the river open?"), p)
    assert "4 May 2021" in text[s:e]
    assert "Residents" not in text[s:e]


def test_a_sentence_that_refers_back_comes_with_the_one_before():
    text = ("Anna Berg founded the bakery in a garage. She sold it to a rival in 2019 for a large sum. "
            "Bread prices rose that year across the region, and flour was scarce in the spring.")
    p = passage(text)
    s, e = quote.span_of(p, 1, neighbour=True)
    assert text[s:e].startswith("Anna Berg founded") and text[s:e].endswith("large sum.")
    assert quote.span_of(p, 1, neighbour=False) == p.spans[1]
    assert quote.needs_previous("The company said so.") and not quote.needs_previous("Rain fell.")


def test_an_adjacent_runner_up_close_behind_is_quoted_too():
    assert quote.adjacent_runner_up(np.array([0.1, 2.0, 1.5]), 1, 1.0) == 2
    assert quote.adjacent_runner_up(np.array([0.1, 2.0, 0.5]), 1, 1.0) is None  # too far behind
    assert quote.adjacent_runner_up(np.array([1.9, 0.0, 2.0]), 2, 1.0) is None  # not next to it
    assert quote.adjacent_runner_up(np.array([1.9, 2.0]), 1, 0.0) is None  # margin 0: never


@pytest.mark.parametrize("text, cut_at, expected", [
    # the splitter cut after a title or an initial: the highlight starts where the sentence does
    ("It rained. Mr. Okafor's shop flooded. Nobody came.", "Okafor's", "Mr. Okafor's shop flooded."),
    ("Ask J. R. Hartley about it. Done.", "Hartley", "Ask J. R. Hartley about it."),
    ("Sales in the U.S. fell sharply. Then they rose.", "fell", "Sales in the U.S. fell sharply."),
    # a real sentence end after an abbreviation stays one
    ("They moved to the U.S. The town emptied.", "The town", "The town emptied."),
])
def test_the_highlight_never_cuts_a_sentences_first_words(text, cut_at, expected):
    spans = sentences(text)
    start, end = next((s, e) for s, e in spans if text[s:e].startswith(cut_at))
    s, e = quote.whole(text, start, end)
    assert text[s:e] == expected


def test_whole_stays_within_the_passage_and_finishes_a_sentence_cut_after_a_title():
    text = "Mr. Okafor's shop flooded. Nobody came."
    start = text.index("Okafor")
    assert quote.whole(text, start, text.index(" Nobody"), lo=start) == (start, text.index(" Nobody"))
    s, e = quote.whole(text, 0, 3)  # "Mr." alone: goes on to its sentence's end
    assert text[s:e] == "Mr. Okafor's shop flooded."


# --- the real engine on the sample corpus -----------------------------------------------------

def _quote(engine, question: str) -> tuple[str, object]:
    answer = engine.ask(question, k=3)
    first = answer.passages[0]
    return first.text[first.highlight[0]:first.highlight[1]], first


@pytest.mark.model
def test_a_who_question_is_answered_by_a_sentence_naming_someone(sample_engine):
    quoted, _ = _quote(sample_engine, "Who sent the trucks of clothing?")
    assert answertype.holds("person", quoted, answertype.question_words("Who sent the trucks of clothing?"))


@pytest.mark.model
@pytest.mark.parametrize("question", [
    "Who is Mr. Kim?", "What does Mr. Kim's business send north?", "Where is smuggling most active?",
    "How many trading companies were involved?", "When did Kim Jong-un visit China?",
])
def test_every_highlight_starts_at_a_sentence_start(sample_engine, question):
    answer = sample_engine.ask(question, k=5)
    assert answer.passages
    for p in answer.passages:
        doc = sample_engine.document(p.doc_id).text
        start = p.start + p.highlight[0]
        starts = {s for s, _ in sentences(doc)} | {p.start}
        assert start in starts, (question, doc[start:start + 60])
        assert not doc[start:start + 1].islower()
        before = doc[max(0, start - 4):start].strip()
        assert not before.endswith("Mr."), (question, doc[start - 10:start + 40])
