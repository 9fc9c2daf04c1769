"""The web chat: its HTML rendering and helpers (fast), then a real server driven by a
real Chromium and by gradio_client (marked ``browser``)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qa import render
from qa.types import Answer, Document, Passage
from qa.web import FeedbackLog, feedback_record, load_auth, parse_filters

REPO = Path(__file__).resolve().parents[1]
EVIL = "<script>alert(1)</script> <img src=x onerror=alert(2)>"

# What qa.render may emit: anything else in its output came from the text it was given.
ALLOWED_TAGS = {"a", "blockquote", "code", "details", "div", "h2", "li", "mark", "p", "span",
                "strong", "summary", "ul"}
ALLOWED_ATTRS = {"class", "href", "id", "rel", "target", "title"}


class TagCollector(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_only_our_markup(html: str) -> TagCollector:
    parsed = TagCollector(html)
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {html[:200]}"
        assert set(attrs) <= ALLOWED_ATTRS, f"unexpected attributes {attrs} on <{tag}>"
        if "href" in attrs:
            assert attrs["href"].startswith(("http://", "https://"))
    return parsed


def make_passage(text: str = "First sentence here. The best answer sentence. After it.",
                 **overrides) -> Passage:
    best = "The best answer sentence."
    start = text.find(best) if best in text else 0
    fields = dict(text=text, score=0.71, doc_id="a.txt", title="A headline", url="https://example.org/a",
                  published="2019-01-15", start=10, end=10 + len(text),
                  highlight=(start, start + len(best)), publisher="Daily NK", author="Mun Dong Hui")
    fields.update(overrides)
    return Passage(**fields)


# --- rendering -----------------------------------------------------------------------------------

def test_question_is_shown_as_text():
    html = render.question_html(f"Why {EVIL}?")
    parsed = assert_only_our_markup(html)
    assert "".join(parsed.text) == f"Why {EVIL}?"


def test_answer_quotes_the_best_sentence_with_its_citation_number():
    html = render.answer_html(Answer("q", [make_passage(), make_passage(doc_id="b.txt")], False, "hybrid"),
                              turn=0, abstain_below=0.35)
    assert_only_our_markup(html)
    assert "“The best answer sentence.” <span class=\"qa-ref\">[1]</span>" in html
    assert html.count('class="qa-card"') == 2
    assert 'id="qa-cite-0-1"' in html and 'id="qa-cite-0-2"' in html
    assert "<mark>The best answer sentence.</mark>" in html
    assert "A headline" in html and "Daily NK" in html and "15 Jan 2019" in html
    assert 'href="https://example.org/a"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert "strong match · 0.71" in html


def test_article_markup_in_every_field_is_escaped():
    passage = make_passage(text=f"Body {EVIL}. The best answer sentence. {EVIL}", title=f"Title {EVIL}",
                           publisher=f"Pub {EVIL}", published=EVIL, url="javascript:alert(3)")
    answer = Answer(f"question {EVIL}", [passage], False, "hybrid", query=f"history {EVIL}")
    for html in (render.answer_html(answer, 0, 0.35),
                 render.source_html(Document("a.txt", "0123456789" + passage.text, title=f"T {EVIL}",
                                             author=EVIL, publisher=EVIL, published=EVIL,
                                             url="data:text/html,x", warnings=[EVIL]), passage, 1)):
        parsed = assert_only_our_markup(html)
        assert EVIL in "".join(parsed.text)
        assert "javascript:" not in html and "data:text" not in html


def test_abstention_says_so_and_folds_the_closest_passages_away():
    html = render.answer_html(Answer("q", [make_passage(score=0.2)], True, "hybrid"), 0, 0.35)
    assert_only_our_markup(html)
    assert "no confident answer" in html
    assert re.search(r"<details[^>]*><summary>Closest passages \(1\)</summary>.*qa-card.*</details>", html)
    assert "qa-lead" not in html
    assert "weak match" in html


def test_no_passage_at_all_is_explained():
    html = render.answer_html(Answer("q", [], True, "hybrid"), 0, 0.35)
    assert "No article in the archive matches" in html


def test_follow_up_shows_what_was_searched():
    answer = Answer("who reported that?", [make_passage()], False, "hybrid",
                    query="When was the ban? who reported that?")
    assert "Searched with the conversation: When was the ban? who reported that?" in render.answer_html(
        answer, 0, 0.35)


def test_long_passage_is_clipped_around_its_best_sentence():
    text = "word " * 200 + "The best answer sentence. " + "tail " * 200
    html = render.passage_html(make_passage(text=text))
    assert "<mark>The best answer sentence.</mark>" in html
    assert html.startswith("… ") and html.endswith(" …")
    assert len(html) < 2 * render.CARD_CONTEXT_CHARS + 100


def test_source_view_marks_exactly_the_cited_passage():
    text = "Intro paragraph.\n\nFirst sentence here. The best answer sentence. After it.\n\nOutro."
    start = text.index("First")
    passage = make_passage(start=start, end=len(text) - len("\n\nOutro."))
    assert text[passage.start:passage.end] == passage.text
    html = render.source_html(Document("dir/a.txt", text, title="A headline"), passage, 2)
    assert_only_our_markup(html)
    assert ('<mark class="qa-cited">First sentence here. <strong class="qa-best">The best answer '
            "sentence.</strong> After it.</mark>") in html
    assert "<code>dir/a.txt</code>" in html and '<span class="qa-num">2</span>' in html


@pytest.mark.parametrize("url, safe", [
    ("https://www.koreatimes.co.kr/a?b=1&c=2", True), ("http://example.org", True),
    ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), ("data:text/html,<b>", False),
    ("//evil.example", False), ("/relative", False), ("", False), (None, False),
])
def test_only_http_links_are_kept(url, safe):
    assert (render.safe_url(url) is not None) is safe


# --- helpers -------------------------------------------------------------------------------------

def test_filters_from_the_widgets():
    assert parse_filters(None, [], "", " ") is None
    assert parse_filters(["RFA"], ["001.txt"], "2018-01-01", "2019-12-31") == {
        "publisher": ["RFA"], "source": ["001.txt"], "after": "2018-01-01", "before": "2019-12-31"}


@pytest.mark.parametrize("after, before, message", [
    ("2019/01/01", "", "write it as YYYY-MM-DD"),
    ("", "2019-02-30", "is not a date"),
    ("yesterday", "", "is not a date"),
    ("2020-01-01", "2019-01-01", "From date is later than the To date"),
])
def test_bad_dates_get_a_clear_message(after, before, message):
    with pytest.raises(ValueError, match=message):
        parse_filters(None, None, after, before)


def test_logins_from_a_file_and_the_environment(tmp_path):
    users = tmp_path / "users"
    users.write_text("# staff\nana:s3cret:with:colons\n\nbo:pw\n")
    assert load_auth({"QA_AUTH_FILE": str(users), "QA_AUTH": "cy:x, dee:y"}) == [
        ("ana", "s3cret:with:colons"), ("bo", "pw"), ("cy", "x"), ("dee", "y")]
    assert load_auth({}) is None
    with pytest.raises(ValueError, match="expected user:password"):
        load_auth({"QA_AUTH": "nopassword"})
    with pytest.raises(ValueError, match="cannot be read"):
        load_auth({"QA_AUTH_FILE": str(tmp_path / "missing")})


def test_feedback_is_appended_as_json_lines(tmp_path):
    log = FeedbackLog(tmp_path / "sub" / "feedback.jsonl")
    turn = {"question": "Who?", "history": ["When?"], "filters": None, "k": 5,
            "answer": Answer("Who?", [make_passage()], False, "hybrid")}
    log.append(feedback_record(turn, "up", " useful "))
    log.append(feedback_record(turn, "down", ""))
    records = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [r["vote"] for r in records] == ["up", "down"]
    assert records[0]["comment"] == "useful" and records[0]["history"] == ["When?"]
    assert records[0]["passages"] == [{"rank": 1, "doc_id": "a.txt", "start": 10,
                                       "end": 10 + len(make_passage().text), "score": 0.71}]
