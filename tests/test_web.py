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
from qa.web import FeedbackLog, feedback_record, load_auth, parse_filters, starting_points

REPO = Path(__file__).resolve().parents[1]
EVIL = "<script>alert(1)</script> <img src=x onerror=alert(2)>"

# What qa.render may emit: anything else in its output came from the text it was given.
ALLOWED_TAGS = {"a", "blockquote", "br", "code", "details", "div", "h2", "li", "mark", "p", "span",
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
                              turn=0, confident=0.7)
    assert_only_our_markup(html)
    assert "“The best answer sentence.” <span class=\"qa-ref\">[1]</span>" in html
    assert html.count('class="qa-card"') == 2
    assert 'id="qa-cite-0-1"' in html and 'id="qa-cite-0-2"' in html
    assert "<mark>The best answer sentence.</mark>" in html
    assert "A headline" in html and "Daily NK" in html and "15 Jan 2019" in html
    assert 'href="https://example.org/a"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert "strong match (0.57 of 1)" in html  # 0.71 of the blend's 1.25


def test_article_markup_in_every_field_is_escaped():
    passage = make_passage(text=f"Body {EVIL}. The best answer sentence. {EVIL}", title=f"Title {EVIL}",
                           publisher=f"Pub {EVIL}", published=EVIL, url="javascript:alert(3)")
    answer = Answer(f"question {EVIL}", [passage], False, "hybrid", query=f"history {EVIL}")
    for html in (render.answer_html(answer, 0, 0.7),
                 render.source_html(Document("a.txt", "0123456789" + passage.text, title=f"T {EVIL}",
                                             author=EVIL, publisher=EVIL, published=EVIL,
                                             url="data:text/html,x", warnings=[EVIL]), passage, 1)):
        parsed = assert_only_our_markup(html)
        assert EVIL in "".join(parsed.text)
        assert "javascript:" not in html and "data:text" not in html


def test_abstention_says_so_and_folds_the_closest_passages_away():
    html = render.answer_html(Answer("q", [make_passage(score=0.2)], True, "hybrid"), 0, 0.7)
    assert_only_our_markup(html)
    assert "no confident answer" in html
    assert re.search(r"<details[^>]*><summary>Closest passages \(1\)</summary>.*qa-card.*</details>", html)
    assert "qa-lead" not in html
    assert "weak match" in html


def test_no_passage_at_all_is_explained():
    html = render.answer_html(Answer("q", [], True, "hybrid"), 0, 0.7)
    assert "No article in the archive matches" in html


def test_follow_up_shows_what_was_searched_only_when_history_was_used():
    answer = Answer("who reported that?", [make_passage()], False, "hybrid",
                    query="When was the ban? who reported that?", history_used=["When was the ban?"])
    assert "Searched with the conversation: When was the ban?" in render.answer_html(answer, 0, 0.7)
    alone = Answer("Who won the 2019 election?", [make_passage()], False, "hybrid",
                   query="Who won the 2019 election?", history_used=[])
    assert "Searched with the conversation" not in render.answer_html(alone, 0, 0.7)


def test_a_quoted_sentence_is_shown_in_one_pair_of_quote_marks():
    for sentence in ("“To avoid the checks,” he said.", '"To avoid the checks," he said.',
                     "To avoid the checks, he said."):
        html = render.answer_html(Answer("q", [make_passage(text=sentence, highlight=(0, len(sentence)))],
                                         False, "hybrid"), 0, 0.7)
        lead = re.search(r'<blockquote class="qa-lead">(.*?) <span', html).group(1)
        assert lead.startswith("“To avoid") and lead.count("“") == 1 and not lead.startswith("““"), lead
    assert render.quoted("“Whole quote.”") == "“Whole quote.”"
    assert render.quoted("“") == "““”"  # nothing but a mark: shown as it is, not emptied


def test_match_strength_reads_on_a_zero_to_one_scale():
    assert render.match_scale(1.06) == pytest.approx(1.06 / 1.25)
    assert render.match_scale(3.0) == 1.0 and render.match_scale(-0.1) == 0.0
    assert render.match_scale(0.42, mode="dense") == 0.42
    html = render.card_html(make_passage(score=1.06), 1, 0, 0.65)
    assert "strong match (0.85 of 1)" in html and "1.06" not in html


def test_undated_articles_searched_under_a_date_filter_are_counted():
    answer = Answer("q", [make_passage()], False, "hybrid", undated_searched=3)
    assert "3 articles without a date searched too" in render.answer_html(answer, 0, 0.7)
    assert "without a date" not in render.answer_html(Answer("q", [make_passage()], False, "hybrid"), 0, 0.7)


def test_a_timeline_marks_its_undated_articles():
    answer = Answer("q", [make_passage(published="2018-03-01"), make_passage(published=None, doc_id="b.txt")],
                    False, "hybrid", timeline=True)
    html = render.answer_html(answer, 0, 0.7)
    assert_only_our_markup(html)
    assert "Over time: 2 articles" in html and "1 undated last" in html
    assert html.index("1 Mar 2018") < html.index(">undated<")


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


def test_starting_points_are_the_newest_headlines_each_once():
    from types import SimpleNamespace as Meta

    articles = [Meta(title="Undated first", published=None), Meta(title="Old", published="2001-05-01"),
                Meta(title="  Newest\n headline ", published="2020-04-30T08:00:00"),
                Meta(title="Old", published="2019-01-01"), Meta(title="", published="2021-01-01"),
                Meta(title="Undated second", published=None), Meta(title="Middle", published="2019-01-01")]
    assert starting_points(articles) == ["Newest headline", "Old", "Middle", "Undated first"]
    assert starting_points(articles, n=2) == ["Newest headline", "Old"]
    assert starting_points([]) == []


def test_match_strength_is_graded_against_the_abstention_threshold():
    assert [render.strength(s, confident=0.8) for s in (1.01, 0.8, 0.7, 0.61, 0.3)] == [
        "strong", "strong", "fair", "fair", "weak"]


# --- a real server, a real browser ---------------------------------------------------------------

# Scraped pages hold markup both raw and entity-escaped; ingestion strips raw tags and decodes
# entities, so the escaped copies are what reach the index as literal markup.
ESCAPED_EVIL = EVIL.replace("<", "&lt;").replace(">", "&gt;")
MALICIOUS_ARTICLE = f"""Walnut smugglers at the lighthouse {ESCAPED_EVIL}

By Test Reporter

Walnut smugglers near the old lighthouse {ESCAPED_EVIL} carried crates of walnuts across the \
frozen estuary at night, a harbour official said on Tuesday.

The official said the walnut crates were hidden under fishing nets {EVIL} and loaded onto \
sledges before dawn, when the harbour patrol changes shifts {ESCAPED_EVIL}.

Harbour police said they would add a second patrol at the lighthouse during the winter months.
"""
SEAFOOD_QUESTION = "When did China ban seafood imports from North Korea?"
SEAFOOD_DOC = "002_b64ff41df4f991e9.txt"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def web_corpus(tmp_path_factory):
    """The sample corpus plus an article whose title and body hold script and markup."""
    corpus = tmp_path_factory.mktemp("web") / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / "900_malicious.txt").write_text(MALICIOUS_ARTICLE, encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def web_engine(web_corpus):
    from qa import Engine

    return Engine.build(corpus=web_corpus, index=web_corpus.parent / "index", log=lambda m: None)


@pytest.fixture(scope="module")
def server(web_engine, web_corpus):
    """The chat on a free loopback port, as ``python serve.py`` serves it."""
    from types import SimpleNamespace

    from qa.web import create_app, launch

    feedback = web_corpus.parent / "feedback.jsonl"
    app = create_app(web_engine, web_engine.settings, feedback_path=feedback)
    port = free_port()
    launch(app, port=port, prevent_thread_lock=True, quiet=True)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}/", engine=web_engine, feedback=feedback)
    app.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab that records dialogs and every request to a host other than this one."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.dialogs, tab.external = [], []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.on("request", lambda request: tab.external.append(request.url)
           if not re.match(r"(https?|wss?)://(127\.0\.0\.1|localhost)[:/]|data:|blob:", request.url)
           else None)
    yield tab
    context.close()


def open_chat(page, url):
    page.goto(url, wait_until="domcontentloaded")  # a Gradio page never goes network-idle
    page.wait_for_selector("#question textarea", timeout=60_000)


def ask_in_chat(page, question: str, turn: int):
    """Types ``question``, waits for answer number ``turn`` (from 1), returns its locator."""
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    answers = page.locator("#chat .qa-answer")
    answers.nth(turn - 1).wait_for(timeout=60_000)
    return answers.nth(turn - 1)


# The cited passage is scrolled into the source viewer's visible area.
MARK_IN_VIEW = """() => {
    const v = document.querySelector('#source .qa-source').getBoundingClientRect();
    const h = document.querySelector('#source .qa-source-head').getBoundingClientRect();
    const m = document.querySelector('#source mark').getBoundingClientRect();
    return m.top >= h.bottom && m.top < v.bottom; }"""


def assert_nothing_injected(page):
    assert page.dialogs == []
    assert page.locator("img[src='x'], img[src$='/x']").count() == 0
    scripts = page.locator("script").evaluate_all("els => els.map(e => e.textContent)")
    assert not any("alert(" in s for s in scripts)


@pytest.mark.browser
def test_answer_quotes_the_article_and_its_source_opens_beside_the_chat(page, server):
    open_chat(page, server.url)
    answer = ask_in_chat(page, SEAFOOD_QUESTION, 1)
    seafood = server.engine.document(SEAFOOD_DOC)

    lead = answer.locator(".qa-lead").inner_text()
    quoted = re.search(r"“(.+)” \[1\]", lead, re.S).group(1)
    assert "August 15, 2017" in quoted
    assert quoted in " ".join(seafood.text.split())  # word for word from the article
    first = answer.locator(".qa-card").first
    assert seafood.title in first.locator(".qa-title").inner_text()
    assert "Daily NK" in first.locator(".qa-meta").inner_text()
    assert first.locator("a.qa-link").get_attribute("href") == seafood.url
    assert re.search(r"(strong|fair|weak) match \([01]\.\d\d of 1\)", first.inner_text())
    assert quoted in first.locator("mark").inner_text()

    # The best citation opens by itself, scrolled to the cited passage.
    page.wait_for_function("t => document.querySelector('#source .qa-source-title')?.innerText.includes(t)",
                           arg=seafood.title)
    page.wait_for_function(MARK_IN_VIEW, timeout=5_000)
    if os.environ.get("QA_SCREENSHOT"):  # QA_SCREENSHOT=docs/chat.png refreshes the README's picture
        page.wait_for_timeout(300)
        page.screenshot(path=os.environ["QA_SCREENSHOT"])

    # Open the second citation by clicking its card: the viewer shows that whole article.
    second = answer.locator(".qa-card").nth(1)
    second_title = second.locator(".qa-title").inner_text()
    second.click()
    page.wait_for_function(
        "t => document.querySelector('#source .qa-source-title')?.innerText.includes(t)", arg=second_title)
    viewer = page.locator("#source .qa-source")
    cited = viewer.locator("mark.qa-cited")
    assert cited.count() == 1
    assert second.locator("mark").inner_text().strip() in cited.inner_text()
    assert "doc id" in viewer.inner_text()
    page.wait_for_function(MARK_IN_VIEW, timeout=5_000)
    assert page.locator("#citations input").input_value().startswith("[2]")
    assert_nothing_injected(page)
    assert page.external == []


@pytest.mark.browser
def test_follow_up_question_uses_the_conversation(page, server):
    open_chat(page, server.url)
    ask_in_chat(page, "Which UN Security Council resolution put North Korean seafood on the list of "
                      "banned exports?", 1)
    follow_up = ask_in_chat(page, "Who reported that?", 2)
    title = server.engine.document(SEAFOOD_DOC).title
    assert title in follow_up.locator(".qa-card .qa-title").first.inner_text()
    assert "Searched with the conversation" in follow_up.inner_text()

    page.locator("#clear").click()
    page.wait_for_function("() => !document.querySelector('#chat .qa-answer')")
    assert "Open a citation" in page.locator("#source").inner_text()


@pytest.mark.browser
def test_a_conversation_of_a_topic_a_follow_up_a_new_topic_and_a_timeline(page, server):
    open_chat(page, server.url)
    topic = ask_in_chat(page, SEAFOOD_QUESTION, 1)
    assert "Searched with the conversation" not in topic.inner_text()
    assert not page.locator("#again-alone").is_visible()

    # A follow-up leans on the topic: it says so, and offers to ask again without it.
    follow_up = ask_in_chat(page, "Who reported that?", 2)
    assert f"Searched with the conversation: {SEAFOOD_QUESTION}" in follow_up.inner_text()
    assert server.engine.document(SEAFOOD_DOC).title in follow_up.locator(".qa-card .qa-title").first.inner_text()
    page.locator("#again-alone").wait_for(state="visible")
    page.locator("#again-alone").click()
    again = page.locator("#chat .qa-answer").nth(2)
    again.wait_for(timeout=60_000)
    assert page.locator("#chat .qa-question").last.inner_text() == "Who reported that?"
    assert "Searched with the conversation" not in again.inner_text()
    page.locator("#again-alone").wait_for(state="hidden")

    # A new topic is searched alone: its answer leads with its own article.
    coal = ask_in_chat(page, "How much coal did North Korea smuggle by ship-to-ship transfers in 2019?", 4)
    assert "Searched with the conversation" not in coal.inner_text()
    coal_doc = server.engine.document("004_12c742a49eb0f3d4.txt")
    assert coal_doc.title in coal.locator(".qa-card .qa-title").first.inner_text()

    # Over time: one card per article, dated ones oldest first, undated ones last and marked.
    page.locator("#timeline input").check()
    timeline = ask_in_chat(page, "How has smuggling between China and North Korea developed?", 5)
    assert "Over time:" in timeline.inner_text()
    titles = timeline.locator(".qa-card .qa-title").all_inner_texts()
    assert len(titles) >= 3 and len(set(titles)) == len(titles)
    dates = timeline.locator(".qa-card .qa-date").all_inner_texts()
    assert len(dates) == len(titles)
    dated = [d for d in dates if d != "undated"]
    assert dates[:len(dated)] == dated  # undated last
    import datetime as dt
    days = [dt.datetime.strptime(d, "%d %b %Y") for d in dated]
    assert days == sorted(days) and "undated" in dates  # the sample has undated articles
    assert_nothing_injected(page)


@pytest.mark.browser
def test_markup_in_articles_and_questions_shows_as_text_and_runs_nothing(page, server):
    open_chat(page, server.url)
    question = f"What did the walnut smugglers carry at the lighthouse? {EVIL}"
    answer = ask_in_chat(page, question, 1)
    assert page.locator("#chat .qa-question").last.inner_text() == question

    malicious = server.engine.document("900_malicious.txt")
    assert EVIL in malicious.title and EVIL in malicious.text  # the markup really is in the index
    first = answer.locator(".qa-card").first
    assert first.locator(".qa-title").inner_text() == malicious.title
    assert EVIL in first.locator(".qa-passage").inner_text()
    first.click()
    page.wait_for_function("() => document.querySelector('#source .qa-source-title')?.innerText"
                           ".includes('Walnut smugglers')")
    article = page.locator("#source .qa-article").inner_text()
    assert article.count(EVIL) == malicious.text.count(EVIL) >= 2
    page.wait_for_timeout(500)  # give any injected handler the time to fire
    assert_nothing_injected(page)
    for selector in ("#chat", "#source"):  # only the app's own markup in the chat and viewer
        tags = page.locator(f"{selector} .qa-answer, {selector} .qa-source").evaluate_all(
            "els => els.flatMap(e => [...e.querySelectorAll('*')].map(n => n.tagName.toLowerCase()))")
        assert set(tags) <= ALLOWED_TAGS


# The web corpus's most recent articles, newest first, then the undated ones in index order.
NEWEST_DOCS = ["004_12c742a49eb0f3d4.txt", "001_28f2545c660e1931.txt", "000_82916424e9c57ef5.txt",
               "002_b64ff41df4f991e9.txt"]


@pytest.mark.browser
def test_examples_filters_and_feedback(page, server):
    open_chat(page, server.url)
    headlines = [server.engine.document(d).title for d in NEWEST_DOCS]

    examples = page.locator("#chat button.example")
    assert [" ".join(e.split()) for e in examples.all_inner_texts()] == headlines
    examples.first.click()
    page.locator("#chat .qa-lead").wait_for(timeout=60_000)
    assert page.locator("#chat .qa-question").last.inner_text() == headlines[0]

    page.locator("#question textarea").fill("   ")
    page.locator("#ask").click()
    page.wait_for_function("() => document.querySelector('#status .qa-error')?.innerText.includes('empty')")

    page.locator("#filters").get_by_text("Filters and number of passages").click()
    page.locator("#after input, #after textarea").first.fill("2019/01/01")
    page.locator("#question textarea").fill("Who smuggles coal?")
    page.locator("#ask").click()
    page.wait_for_function(
        "() => document.querySelector('#status .qa-error')?.innerText.includes('write it as YYYY-MM-DD')")
    assert page.locator("#chat .qa-answer").count() == 1  # nothing asked with a bad filter

    page.locator("#comment textarea").fill("Good <b>quote</b>")
    page.locator("#chat button[aria-label='Like']").last.click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('feedback was saved')")
    record = json.loads(server.feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert record["vote"] == "up" and record["comment"] == "Good <b>quote</b>"
    assert record["question"] == headlines[0]
    assert record["history"] == [] and record["passages"][0]["doc_id"].endswith(".txt")


@pytest.mark.model
def test_examples_lead_to_their_own_articles(server):
    articles = {server.engine.document(d).title: d for d in NEWEST_DOCS}
    assert starting_points(server.engine.docs.meta) == list(articles)
    for headline, doc_id in articles.items():
        answer = server.engine.ask(headline)
        assert not answer.abstained and answer.passages[0].doc_id == doc_id, headline


@pytest.mark.model
def test_api_endpoint_answers_through_gradio_client(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    answer = client.predict(SEAFOOD_QUESTION, 3, [], None, api_name="/ask")
    assert answer["question"] == SEAFOOD_QUESTION and answer["abstained"] is False
    assert len(answer["passages"]) == 3 and answer["passages"][0]["doc_id"] == SEAFOOD_DOC
    follow_up = client.predict(question="Who reported that?", history=[SEAFOOD_QUESTION], api_name="/ask")
    assert follow_up["passages"][0]["doc_id"] == SEAFOOD_DOC
    with pytest.raises(Exception, match="question is empty"):
        client.predict("  ", api_name="/ask")
    # The chat's own events are not part of the API.
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {"/ask"}


@pytest.mark.model
def test_an_index_damaged_under_the_server_gets_a_message_not_a_crash(web_engine, tmp_path):
    import json

    from gradio_client import Client

    from qa import Engine
    from qa.web import create_app, launch

    index = tmp_path / "index"
    shutil.copytree(web_engine.index_dir, index)
    engine = Engine.open(index)
    app = create_app(engine, engine.settings)
    port = free_port()
    launch(app, port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert client.predict(SEAFOOD_QUESTION, 3, [], None, api_name="/ask")["passages"]
        gen = index / json.loads((index / "manifest.json").read_text())["generation"]
        postings = gen / "bm25_postings_rows.npy"
        postings.write_bytes(postings.read_bytes()[:128])  # cut short while the server has it open
        with pytest.raises(Exception, match="cut short.*qa build"):
            client.predict(SEAFOOD_QUESTION, 3, [], None, api_name="/ask")
    finally:
        app.close()


@pytest.mark.model
def test_file_routes_refuse_paths_outside_the_app(server, web_corpus):
    for path in ("../../../../etc/passwd", "/etc/passwd", str(web_corpus / SEAFOOD_DOC),
                 "..%2F..%2F..%2Fetc%2Fpasswd"):
        status, body = http_get(f"{server.url}gradio_api/file={path}")
        assert status in (403, 404), (path, status)
        assert "root:" not in body and "Dandong" not in body


def http_get(url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def served_with_login(web_engine, web_corpus, tmp_path_factory):
    """``python serve.py`` as staff run it, with a login from QA_AUTH, on an existing index."""
    index = tmp_path_factory.mktemp("login") / "index"
    shutil.copytree(web_engine.index_dir, index)
    port = free_port()
    log = index.parent / "serve.log"
    env = {**os.environ, "QA_AUTH": "staff:s3cret pass"}
    env.pop("QA_AUTH_FILE", None)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "serve.py"), "--corpus", str(web_corpus), "--index", str(index),
             "--port", str(port)], cwd=index.parent, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while "Ready:" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/", log.read_text()
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.browser
def test_serve_py_binds_loopback_and_login_keeps_anonymous_users_out(served_with_login, browser):
    url, console = served_with_login
    assert f"Ready: {url.rstrip('/')}, login required (1 users)" in console
    assert "share" not in console.lower()

    # No route that returns corpus text or answers serves an anonymous client.
    for path, data in [("config", None), ("gradio_api/info", None), ("gradio_api/openapi.json", None),
                       (f"gradio_api/file={SEAFOOD_DOC}", None),
                       ("gradio_api/call/ask", b'{"data": ["seafood"]}'),
                       ("gradio_api/run/ask", b'{"data": ["seafood"]}'),
                       ("gradio_api/queue/join", b'{"data": ["seafood"], "fn_index": 0, "session_hash": "x"}')]:
        status, body = http_get(url + path, data)
        assert status in (401, 403), (path, status, body[:200])
        assert "Dandong" not in body
    status, body = http_get(url)
    assert status == 200 and "Dandong" not in body and "smuggl" not in body.lower()

    from gradio_client import Client

    with pytest.raises(Exception):
        Client(url, verbose=False)
    with pytest.raises(Exception):
        Client(url, auth=("staff", "wrong"), verbose=False)
    answer = Client(url, auth=("staff", "s3cret pass"), verbose=False).predict(SEAFOOD_QUESTION, api_name="/ask")
    # serve.py refreshed an index it did not build: the answers must be those of a fresh build.
    assert answer["passages"][0]["doc_id"] == SEAFOOD_DOC, answer["passages"][0]

    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.locator("input[type=password]").wait_for(timeout=30_000)
        assert page.locator("#chat").count() == 0

        def log_in(password):
            page.locator("input[type=text]").first.fill("staff")
            page.locator("input[type=password]").fill(password)
            page.get_by_role("button", name=re.compile("login", re.I)).click()

        log_in("wrong")
        page.get_by_text(re.compile("incorrect", re.I)).wait_for(timeout=10_000)
        assert page.locator("#chat").count() == 0
        log_in("s3cret pass")
        page.wait_for_selector("#question textarea", timeout=30_000)
        assert ask_in_chat(page, SEAFOOD_QUESTION, 1).locator(".qa-card").count() >= 1
    finally:
        context.close()


@pytest.mark.browser
def test_the_page_load_puts_today_in_the_as_of_box_but_keeps_a_day_already_typed(page, server):
    """The load runs in the browser: a page served on an earlier day shows today, and what the
    user typed before the page finished loading is not overwritten (CI once lost it that way)."""
    import datetime as dt

    from qa.web import TODAY_UNLESS_TYPED_JS

    open_chat(page, server.url)
    load = TODAY_UNLESS_TYPED_JS % json.dumps("2001-02-03")  # as if served on that day
    today = dt.date.today().isoformat()
    assert page.evaluate(f"({load})('2001-02-03')") == today
    assert page.evaluate(f"({load})('')") == today
    assert page.evaluate(f"({load})('last Tuesday')") == "last Tuesday"
    assert page.evaluate(f"({load})('2019-05-01')") == "2019-05-01"


@pytest.mark.browser
def test_the_as_of_day_is_shown_as_today_and_a_bad_one_is_refused(page, server):
    import datetime as dt

    open_chat(page, server.url)
    box = page.locator("#as-of input, #as-of textarea").first
    page.wait_for_function(
        "() => document.querySelector('#as-of input, #as-of textarea')?.value.length === 10")
    assert box.input_value() == dt.date.today().isoformat()
    box.fill("last Tuesday")
    page.locator("#question textarea").fill("Who smuggles coal?")
    page.locator("#ask").click()
    page.wait_for_function(
        "() => document.querySelector('#status .qa-error')?.innerText.includes('YYYY-MM-DD')")
    assert page.locator("#chat .qa-answer").count() == 0  # nothing asked with a bad day
    box.fill("2018-06-10")
    ask_in_chat(page, "Who smuggles coal?", 1)
