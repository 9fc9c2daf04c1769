"""Abstention from evidence (qa/abstain.py): the question's words in the passages, the packaged
model, the reason an answer gives, and the engine's decision on the sample corpus."""
from __future__ import annotations

import json

import numpy as np
import pytest

from qa import abstain, render
from qa.settings import Settings
from qa.types import Answer, Passage


def passage(text: str, title: str = "A headline") -> Passage:
    return Passage(text=text, score=1.0, doc_id="a.txt", title=title, url=None, published=None,
                   start=0, end=len(text), highlight=(0, len(text)))


VOCAB = {w: i for i, w in enumerate(["border", "smuggl", "squid", "game", "season", "china", "2019"])}
IDF = np.array([1.0, 2.0, 3.0, 3.0, 1.5, 1.0, 2.5], dtype="float32")


def test_question_words_mark_names_and_numbers_as_key_terms():
    words = abstain.question_words("When did China close the border in 2019?")
    assert [w.text for w in words] == ["China", "close", "border", "2019"]  # no stopwords, no "When"
    assert [w.key for w in words] == [True, False, False, True]
    assert abstain.question_words("Who reported it?")[0].stem == "report"


def test_adjacent_missing_words_are_one_phrase():
    ev = abstain.evidence("Was Squid Game renewed for a second season?", [passage("The border season.")],
                          best=0.5, candidates=np.array([0.5, 0.4]), sentence=0.3, vocab=VOCAB, idf=IDF)
    assert ev.absent == ["Squid Game"]  # key terms first: the names, joined as the question has them
    assert ev.unseen == ["renewed", "second"]  # not in the archive's vocabulary at all
    assert ev.missing == 1.0 and ev.unknown > 0
    assert "“renewed” or “second”" in abstain.reason(ev, 0.1)


def test_coverage_weighs_words_by_rarity_and_not_the_headline():
    question = "Which smuggling crossed the border?"
    first = passage("Smuggling went on.", title="The border")  # a headline names the topic only
    ev = abstain.evidence(question, [first, passage("The border was closed.")], best=0.9,
                          candidates=np.array([0.9, 0.3, 0.2]), sentence=0.7, vocab=VOCAB | {"cross": 7},
                          idf=np.append(IDF, 1.0))
    # smuggl (idf 2) is in passage 1, border (1) in its headline but only passage 2's text, cross (1) nowhere
    assert ev.coverage == pytest.approx(2 / 4) and ev.coverage_all == pytest.approx(3 / 4)
    assert ev.coverage_best == pytest.approx(2 / 4) and ev.same_article == 1.0
    assert ev.typed_sentence == 1.0  # "Which smuggling" asks for no kind of answer
    assert ev.margin == pytest.approx(0.9 - 0.25) and ev.unknown == 0 and ev.missing == 0
    assert abstain.reason(ev, 0.2) == "The closest passages do not clearly answer it (chance of an answer 0.20)."


def test_answer_type_of_the_quoted_sentence():
    asked = "When did China close the border?"
    for text, typed in [("The border was closed in March 2019.", 1.0), ("The border was closed.", 0.0)]:
        p = passage(text)
        ev = abstain.evidence(asked, [p], best=0.8, candidates=np.array([0.8]), sentence=0.5,
                              vocab=VOCAB, idf=IDF)
        assert ev.typed_sentence == typed


def test_reason_names_what_the_archive_never_mentions():
    ev = abstain.Evidence(unseen=["Squid Game"], absent=["renewed"], missing=1.0)
    assert abstain.reason(ev, 0.05) == "No article in the archive mentions “Squid Game”."
    ev = abstain.Evidence(absent=["Squid Game"], missing=0.5)
    assert abstain.reason(ev, 0.05) == "The closest passages do not mention “Squid Game”."


def test_packaged_model_matches_the_features_the_code_computes():
    data = json.loads(abstain.MODEL_FILE.read_text(encoding="utf-8"))
    assert set(data["features"]) <= set(abstain.FEATURES)
    model = abstain.load()
    assert model is not None and 0 < model.threshold < 1
    strong = abstain.Evidence(confidence=0.95, margin=0.4, sentence=0.8, coverage=1.0, coverage_all=1.0)
    weak = abstain.Evidence(confidence=0.4, margin=0.0, sentence=0.2, coverage=0.2, coverage_all=0.3,
                            missing=1.0, unknown=0.6)
    assert model.probability(strong) > model.threshold > model.probability(weak)
    with pytest.raises(ValueError, match="retrain"):
        abstain.Model(**{**data, "features": [*data["features"][:-1], "not computed"]})


def test_abstained_reply_says_why_and_escapes_it():
    answer = Answer(question="q", passages=[passage("text")], abstained=True, mode="hybrid",
                    abstain_reason="No article in the archive mentions “<script>x</script>”.")
    html = render.answer_html(answer, 0, 0.65)
    assert "qa-abstain-reason" in html and "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.model
def test_engine_abstains_from_evidence_and_says_why(sample_engine):
    answer = sample_engine.ask("Who won the 2022 football World Cup final in Qatar?")
    assert answer.abstained and answer.answer_probability is not None
    assert answer.answer_probability < abstain.load().threshold
    assert answer.abstain_reason.startswith("No article in the archive mentions") and "Qatar" in answer.abstain_reason
    data = answer.to_dict()
    assert data["abstain_reason"] == answer.abstain_reason and data["answer_probability"] is not None


@pytest.mark.model
@pytest.mark.parametrize("question", ["How do Chinese boats reach North Korean ships at sea?",
                                      "What is Room 39?"])  # a short question passage 1 answers
def test_answered_question_has_a_high_chance_and_no_reason(sample_engine, question):
    answer = sample_engine.ask(question)
    assert not answer.abstained and answer.abstain_reason == ""
    assert answer.answer_probability > abstain.load().threshold


@pytest.mark.model
def test_blend_setting_decides_by_the_blend_alone(sample_index):
    from qa import Engine

    engine = Engine.open(sample_index, abstain_by="blend")
    answer = engine.ask("Who won the 2022 football World Cup final in Qatar?")
    assert answer.answer_probability is None
    assert answer.abstained == (answer.confidence < Settings().abstain_below)
