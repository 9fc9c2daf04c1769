"""The live archive in a real Chromium: the page is open, an article is added and built, and
the same tab answers from it, says the archive changed, and opens the new article's source."""
from __future__ import annotations

import shutil

import pytest
from engine_fixtures import FERRY_ARTICLE, copy_corpus
from test_web import ask_in_chat, assert_nothing_injected, free_port, open_chat, page  # noqa: F401

pytestmark = [pytest.mark.model, pytest.mark.browser]

FERRY_QUESTION = "When did the passenger ferry cross the Tumen River again?"
FERRY_TITLE = "Ferry service resumes on the Tumen River"


@pytest.fixture
def live_server(tmp_path, sample_index, encoder):
    from qa.follow import LiveEngine
    from qa.web import create_app, launch

    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    live = LiveEngine.open(index, check_every=0.5, log=lambda m: None)
    live.engine._encoder = encoder
    app = create_app(live, live.settings, feedback_path=tmp_path / "feedback.jsonl", archive_every=0.5)
    port = free_port()
    launch(app, port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", corpus, index, live
    app.close()
    live.close()


def test_the_open_page_answers_from_an_article_added_and_built_after_it_opened(page, live_server, encoder):  # noqa: F811
    from qa.build import build
    from qa.settings import Settings

    url, corpus, index, live = live_server
    open_chat(page, url)
    before = ask_in_chat(page, FERRY_QUESTION, 1)
    assert FERRY_TITLE not in before.inner_text()
    assert "since you opened this page" not in page.locator("#archive-status").inner_text()

    (corpus / "ferry.md").write_text(FERRY_ARTICLE, encoding="utf-8")
    build(Settings(corpus=str(corpus), index=str(index)), progress=False, log=lambda m: None, encoder=encoder)
    page.wait_for_function(
        "() => document.querySelector('#archive-status')?.innerText.includes("
        "'1 new article since you opened this page')", timeout=60_000)

    after = ask_in_chat(page, FERRY_QUESTION, 2)
    assert FERRY_TITLE in after.inner_text()
    assert "crossed the Tumen River on Monday" in after.inner_text()
    page.wait_for_function("t => document.querySelector('#source .qa-source-title')?.innerText.includes(t)",
                           arg=FERRY_TITLE, timeout=30_000)
    # The first answer's sources still open: its generation is closed, its text unchanged.
    assert live.seq == 1
    assert_nothing_injected(page)
