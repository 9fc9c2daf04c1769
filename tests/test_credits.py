"""Credits (issue 16): credit lines are article text, marked, and ranked for questions about
who wrote, reported, translated or photographed a story; kept out of the way otherwise."""
from __future__ import annotations

import pytest

from qa import credits
from qa.clean import clean_article

RFA_CREDIT = ("Reported by Hyemin Son for RFA’s Korean Service. Translated by Leejin Jun. "
              "Written in English by Richard Finney.")
STORY = ("The harbour reopened on Tuesday after a week of storms, officials said, and the first "
         "ferries left for the islands in the afternoon.\n\n"
         "Fishermen said the storms had cost them most of the season's catch, and asked for help.")


@pytest.mark.parametrize("line, expected", [
    (RFA_CREDIT, [("author", "Hyemin Son"), ("translator", "Leejin Jun"), ("writer", "Richard Finney")]),
    ("By Yi Whan-woo", [("author", "Yi Whan-woo")]),
    ("By Maria Lopez and Tom Wu", [("author", "Maria Lopez"), ("author", "Tom Wu")]),
    ("Yi Whan-woo yistory@koreatimes.co.kr", [("author", "Yi Whan-woo")]),
    ("Photos by Jane Roe.", [("photographer", "Jane Roe")]),
    ("-- Ana Ruiz", [("author", "Ana Ruiz")]),
    ("Contributing: The Harbour Wire", [("author", "The Harbour Wire")]),
    ("Ana Ruiz is a correspondent in Lima. She has a Ph.D. in History from Lima University.",
     [("author", "Ana Ruiz")]),
])
def test_credit_lines_name_people_with_their_roles(line, expected):
    assert [tuple(c) for c in credits.credits_in(line)] == expected
    assert credits.is_credit(line)


@pytest.mark.parametrize("line", [
    "The news was reported by Yonhap on Monday, officials said.",  # a sentence citing an agency
    "By the end of the embargo in March 1974, the price of oil had risen four times.",
    "Hopes for eased sanctions",
    "Heavy rains forced more than 12,000 people from their homes in the delta, officials said on "
    "Tuesday, as rivers rose to their highest level in two decades.",
])
def test_article_sentences_are_not_credits(line):
    assert credits.credits_in(line) == []


def test_cleaning_keeps_credit_lines_marked_and_reads_author_and_translator():
    doc = clean_article(f"Harbour reopens after storms\n\nBy Ana Ruiz\n\n{STORY}\n\n{RFA_CREDIT}\n\n"
                        "More Listening Options\n\nView Full Site")
    assert doc.title == "Harbour reopens after storms"
    assert doc.text.startswith("By Ana Ruiz\n\nThe harbour reopened")
    assert doc.text.endswith(RFA_CREDIT)
    assert [doc.text[a:b] for a, b in doc.credits] == ["By Ana Ruiz", RFA_CREDIT]
    assert (doc.author, doc.translator) == ("Ana Ruiz, Hyemin Son", "Leejin Jun")


def test_a_caption_keeps_its_text_and_only_its_agency_tail_is_a_credit():
    caption = "Leaders shake hands during the fourth visit to the capital from Jan. 7 to 10. / Yonhap"
    doc = clean_article(f"{caption}\n\n{STORY}")
    assert [doc.text[a:b] for a, b in doc.credits] == ["/ Yonhap"]


@pytest.mark.parametrize("question, asks", [
    ("Who wrote the English version of the RFA report?", True),
    ("Who translated the story?", True),
    ("Which reporter covered the floods?", True),
    ("What degree does the Daily NK reporter hold?", True),
    ("Who runs the day-to-day smuggling it oversees?", False),
    ("Who is said to welcome the looser restrictions?", False),
    ("How much coal did North Korea smuggle?", False),
])
def test_questions_about_credits(question, asks):
    assert credits.asks_for_credits(question) is asks


def test_who_wrote_the_english_version_cites_the_credit_line(sample_engine):
    answer = sample_engine.ask("Who wrote the English version of the RFA report?", k=5)
    assert not answer.abstained
    first = answer.passages[0]
    assert first.doc_id == "001_28f2545c660e1931.txt"
    assert first.highlighted_sentence == "Written in English by Richard Finney."
    document = sample_engine.document(first.doc_id)
    assert document.text[first.start:first.end] == first.text
    assert any(a <= first.start + first.highlight[0] and first.start + first.highlight[1] <= b
               for a, b in document.credits)
    assert document.translator == "Leejin Jun"


def test_credit_lines_are_not_highlighted_for_other_questions(sample_engine):
    for question in ("How do Chinese boats reach North Korean ships at sea?",
                     "Which trading firms sent minerals to China?",
                     "When did China ban seafood imports from North Korea?"):
        for p in sample_engine.ask(question, k=5).passages:
            start = p.start + p.highlight[0]
            spans = sample_engine.document(p.doc_id).credits
            if not credits.asks_for_credits(question):
                assert not any(a <= start < b for a, b in spans), (question, p.highlighted_sentence)


def test_a_question_naming_the_credited_reporter_gets_the_note_about_him(sample_engine):
    answer = sample_engine.ask("What did Mun Dong Hui study at university?", k=3)
    first = answer.passages[0]
    assert first.doc_id == "002_b64ff41df4f991e9.txt" and not answer.abstained
    assert "Sociology" in first.text
    spans = sample_engine.document(first.doc_id).credits
    assert any(a <= first.start + first.highlight[0] < b for a, b in spans)


def test_choose_highlight_puts_credit_lines_out_of_the_way_unless_asked():
    text = f"{STORY}\n\n{RFA_CREDIT}"
    body_end = text.index("\n\n", len(STORY.split("\n\n")[0]) + 1)
    credit_start = text.index("Reported by")
    last = text.index("Written in English")
    sentences = [(0, body_end, 0.4), (credit_start, credit_start + 48, 0.9), (last, len(text), 0.6)]
    best = (credit_start, credit_start + 48)  # the retriever liked the credit line best
    plain = credits.choose_highlight("Why did the ferries stop?", text, text, sentences, best)
    assert (plain.start, plain.end, plain.credited) == (0, body_end, False)
    asked = credits.choose_highlight("Who translated the harbour story?", text, text, sentences, (0, body_end))
    assert (asked.start, asked.credited) == (credit_start, True)
    elsewhere = credits.choose_highlight("Who translated the election story?", text, text, sentences, (0, body_end))
    assert (elsewhere.start, elsewhere.credited) == (0, False)  # not this article's story
