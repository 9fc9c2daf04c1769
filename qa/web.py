"""The web chat: a Gradio app over one opened Engine.

``create_app`` lays out the chat (its examples are the archive's newest headlines), the
filters and the source viewer and wires them to the engine; ``launch`` serves it on loopback
with the app-level settings Gradio 6 takes at launch time (theme, CSS, JS) and the login of
``load_auth``. ``serve.py`` builds the index and calls them. All markup shown in the chat and
the source viewer comes from :mod:`qa.render`, which escapes every piece of article and user
text.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import hmac
import json
import os
import re
import threading
from contextlib import nullcontext
from html import escape
from pathlib import Path
from typing import Any, Iterable

import gradio as gr

from . import render
from .filters import iso_date
from .settings import MAX_K_SHOWN, Settings
from .store import IndexProblem
from .timewords import typed_day

EXAMPLE_COUNT = 4
API_NAME = "ask"
# The As-of box at page load: the browser's today (YYYY-MM-DD, local time), unless the box no
# longer holds the day the server rendered, that is, the user has typed a day already.
TODAY_UNLESS_TYPED_JS = """(typed) => {
    if (typed && typed.trim() !== %s) return typed;
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}"""


def parse_filters(
    publishers: list[str] | None, sources: list[str] | None, after: str | None, before: str | None,
    exclude_undated: bool = False,
) -> dict[str, Any] | None:
    """The engine's ``filters`` from the filter widgets; ValueError with a message to show.

    ``exclude_undated``: under a From/To date, leave out articles without a date."""
    filters: dict[str, Any] = {}
    if publishers:
        filters["publisher"] = list(publishers)
    if sources:
        filters["source"] = list(sources)
    for name, label, value in (("after", "From", after), ("before", "To", before)):
        value = (value or "").strip()
        if not value:
            continue
        try:
            filters[name] = iso_date(value, name, whole=True)
        except ValueError:
            raise ValueError(
                f"{label} date “{value}” is not a date: write it as YYYY-MM-DD, e.g. 2019-01-31."
            ) from None
    if "after" in filters and "before" in filters and filters["after"] > filters["before"]:
        raise ValueError("The From date is later than the To date.")
    if exclude_undated and ("after" in filters or "before" in filters):
        filters["undated"] = False
    return filters or None


def starting_points(articles: Iterable[Any], n: int = EXAMPLE_COUNT) -> list[str]:
    """The headlines of the ``n`` most recent articles (undated ones after the dated, in index
    order), each once: the first screen offers what this archive holds, whatever archive it is.

    ``articles``: the index's document metadata (``title`` and ISO ``published`` or None).
    """
    # A few spare ones, so that repeated headlines still leave n; nlargest keeps index order
    # among equal dates and is linear in the archive's size (this runs at every start).
    newest = heapq.nlargest(4 * n, articles, key=lambda a: a.published or "")
    headlines: list[str] = []
    for article in newest:
        title = " ".join((article.title or "").split())
        if title and title not in headlines:
            headlines.append(title)
    return headlines[:n]


class FeedbackLog:
    """Appends one JSON object a line; safe to call from Gradio's worker threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")


def feedback_record(turn: dict[str, Any], vote: str, comment: str) -> dict[str, Any]:
    """What a vote on one answer records: enough to turn it into a question-set line."""
    answer = turn["answer"]
    return {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "question": turn["question"],
        "history": turn["history"],
        "filters": turn["filters"],
        "k": turn["k"],
        "mode": answer.mode,
        "abstained": answer.abstained,
        "passages": [
            {"rank": i, "doc_id": p.doc_id, "start": p.start, "end": p.end, "score": round(p.score, 4)}
            for i, p in enumerate(answer.passages, start=1)
        ],
        "vote": vote,
        "comment": comment.strip(),
    }


def pinned(engine: Any):
    """One generation of ``engine`` held for a whole answer: a ``LiveEngine``'s current one
    (``qa.follow``), or the engine itself."""
    return engine.pinned() if hasattr(engine, "pinned") else nullcontext(engine)


def generation_of(engine: Any) -> str | None:
    generation = getattr(engine, "generation", None)
    return getattr(generation, "name", None)


def source_document(engine: Any, passage: Any, generation: str | None):
    """The article a citation points into, from the generation that answered (``LookupError``
    with a message when a live archive no longer holds that text)."""
    if hasattr(engine, "source_document"):
        return engine.source_document(passage, generation)
    return engine.document(passage.doc_id)


def archive_line(engine: Any, seq: int | None, watcher: Any = None) -> str:
    """The page's line on the live archive: new articles since the page was opened (swap
    number ``seq``), and what the corpus watcher is doing."""
    parts = []
    if seq is not None and hasattr(engine, "new_since"):
        added, removed, builds = engine.new_since(seq)
        if builds:
            news = f"{added} new article{'s' if added != 1 else ''}"
            if removed:
                news += f" and {removed} removed"
            parts.append(f"The archive has changed: {news} since you opened this page.")
    if watcher is not None and watcher.status:
        parts.append(watcher.status)
    return render.status_html(" ".join(parts))


def create_app(
    engine: Any,
    settings: Settings | None = None,
    feedback_path: str | Path | None = None,
    concurrency_limit: int = 2,
    watcher: Any = None,
    archive_every: float = 3.0,
    batcher: Any = None,
) -> gr.Blocks:
    """The chat app over ``engine`` (an ``Engine`` or a ``qa.follow.LiveEngine``); votes go to
    ``feedback_path`` (default: QA_FEEDBACK, else ``feedback.jsonl`` in the index folder, which
    git ignores). With a live engine or a ``watcher`` (``qa.follow.CorpusWatcher``), a line
    under the title says every ``archive_every`` seconds how the archive changed. The ``/ask``
    API answers through ``batcher`` (a ``qa.json_api.AskBatcher``; default: a new one)."""
    from .json_api import AskBatcher  # it imports this module

    settings = settings or Settings.from_env()
    batcher = batcher or AskBatcher(engine)
    feedback = FeedbackLog(
        feedback_path or os.environ.get("QA_FEEDBACK") or Path(settings.index) / "feedback.jsonl"
    )
    first, last = engine.date_range()
    examples = starting_points(engine.docs.meta)
    span = f"The archive runs from {first} to {last}." if first and last else ""

    def chat_messages(turns: list[dict]) -> list[dict]:
        messages = []
        for i, turn in enumerate(turns):
            answer = render.answer_html(turn["answer"], i, settings.abstain_below)
            messages.append({"role": "user", "content": render.question_html(turn["question"])})
            messages.append({"role": "assistant", "content": answer})
        return messages

    def citation_choices(turns: list[dict]) -> list[tuple[str, str]]:
        if not turns:
            return []
        turn = len(turns) - 1
        choices = []
        for n, p in enumerate(turns[-1]["answer"].passages, start=1):
            title = p.title or p.doc_id
            title = title if len(title) <= 70 else title[:69] + "…"
            choices.append((f"[{n}] {title}", f"{turn}-{n}"))
        return choices

    def open_citation(ref: str | None, turns: list[dict]):
        """Source viewer HTML for citation ``"turn-number"`` of this conversation.

        The document is looked up by the doc id the engine returned for that citation, never
        by anything the browser sends, so the viewer shows only indexed articles.
        """
        match = re.fullmatch(r"(\d+)-(\d+)(?:@.*)?", ref or "")
        if not match:
            return gr.update(), gr.update()
        turn, number = int(match.group(1)), int(match.group(2))
        if not (turn < len(turns) and 1 <= number <= len(turns[turn]["answer"].passages)):
            return gr.update(), gr.update()
        passage = turns[turn]["answer"].passages[number - 1]
        try:
            document = source_document(engine, passage, turns[turn].get("generation"))
        except LookupError as exc:
            return render.status_html(str(exc), error=True), gr.update()
        html = render.source_html(document, passage, number)
        picked = f"{turn}-{number}" if turn == len(turns) - 1 else None
        return html, gr.update(value=picked)

    def chat_turn(question, turns, publishers, sources, after, before, no_undated, k, over_time,
                  as_of=None, alone=False):
        question = question or ""
        history = [] if alone else [t["question"] for t in turns]
        try:
            filters = parse_filters(publishers, sources, after, before, no_undated)
            with pinned(engine) as one:  # the answer and its first source from one generation
                answer = one.ask(question, k=int(k), history=history or None, filters=filters,
                                 timeline=bool(over_time), as_of=typed_day(as_of))
                turns = turns + [
                    {"question": question, "history": history, "filters": filters, "k": int(k),
                     "answer": answer, "generation": generation_of(one)}
                ]
                choices = citation_choices(turns)
                if answer.passages and not answer.abstained:  # open the best source right away
                    picked = choices[0][1]
                    source, _ = open_citation(picked, turns)
                else:
                    picked, source = None, render.SOURCE_PLACEHOLDER
        except (ValueError, IndexProblem) as exc:  # a bad question, or an index damaged under us
            return (gr.update(), turns, gr.update(), render.status_html(str(exc), error=True),
                    gr.update(), gr.update(), gr.update())
        found = f"{len(answer.passages)} passages in {answer.seconds:.2f} s"
        return (chat_messages(turns), turns, "", render.status_html(found),
                gr.update(choices=choices, value=picked), source,
                gr.update(visible=bool(answer.history_used)))

    def ask_example(turns, publishers, sources, after, before, no_undated, k, over_time, as_of,
                    event: gr.SelectData):
        return chat_turn(event.value.get("text", ""), turns, publishers, sources, after, before,
                         no_undated, k, over_time, as_of)

    def ask_alone(turns, publishers, sources, after, before, no_undated, k, over_time, as_of):
        """The last question again, searched without the conversation."""
        if not turns:
            return (gr.update(),) * 6 + (gr.update(visible=False),)
        return chat_turn(turns[-1]["question"], turns, publishers, sources, after, before,
                         no_undated, k, over_time, as_of, alone=True)

    def clear():
        return ([], [], "", render.SOURCE_PLACEHOLDER, gr.update(choices=[], value=None), "",
                gr.update(visible=False))

    def vote(turns: list[dict], comment: str, event: gr.LikeData):
        index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        turn = int(index) // 2  # messages alternate question, answer
        if not (0 <= turn < len(turns)):
            return gr.update(), gr.update()
        liked = event.liked
        verdict = "up" if liked is True else "down" if liked is False else str(liked)
        feedback.append(feedback_record(turns[turn], verdict, comment or ""))
        return "", render.status_html("Thank you: your feedback was saved.")

    async def api_ask(
        question: str, k: int = 5, history: list[str] | None = None, filters: dict | None = None,
        timeline: bool = False, as_of: str | None = None,
    ) -> dict:
        """Ask the archive. Returns the answer as JSON: passages (text, score, doc_id, title,
        url, published, start, end, highlight) best first, whether the engine abstained and
        the earlier questions it searched with (``history_used``). ``timeline``: one passage
        per article, by the article's date. ``as_of``: the day the question is asked,
        YYYY-MM-DD (default today)."""
        # Answered by the batcher that POST /api/ask uses: the questions waiting at that moment
        # share one query encode, from one generation; no worker thread waits meanwhile.
        try:
            k = max(1, min(int(k), MAX_K_SHOWN))
            history = [str(h) for h in (history or [])]
            return await asyncio.wrap_future(batcher.submit(
                str(question), k, history or None, filters or None, timeline=bool(timeline),
                as_of=typed_day(as_of)))
        except (ValueError, TypeError, IndexProblem) as exc:
            raise gr.Error(str(exc)) from None

    private = {"api_visibility": "private"}
    engine_queue = {"concurrency_id": "engine", "concurrency_limit": concurrency_limit}

    with gr.Blocks(title="Ask the news archive", fill_width=True) as app:
        turns = gr.State([])
        gr.HTML(
            '<div class="qa-header"><h1>Ask the news archive</h1>'
            "<p>Every answer is quoted word for word from an article in the archive, with its "
            "source. Click a citation to read the whole article.</p></div>"
        )
        live = hasattr(engine, "new_since") or watcher is not None
        if live:
            opened_at = gr.State(None)
            archive = gr.HTML(archive_line(engine, None, watcher), elem_id="archive-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=6, min_width=420):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    show_label=False,
                    height="64vh",
                    autoscroll=False,  # AFTER_ANSWER_JS shows the new question, not the bottom
                    render_markdown=False,  # content is HTML from qa.render, already escaped
                    latex_delimiters=[],
                    sanitize_html=True,
                    allow_tags=False,
                    buttons=["copy"],
                    examples=[{"text": q} for q in examples] or None,
                    placeholder="Ask a question about the archive"
                                + (", or start from a recent headline." if examples else "."),
                    feedback_options=("Like", "Dislike"),
                )
                with gr.Row():
                    question = gr.Textbox(
                        elem_id="question", show_label=False, scale=8, lines=1, autofocus=True,
                        placeholder="Ask the archive a question…",
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="ask", min_width=80)
                with gr.Row():
                    over_time = gr.Checkbox(False, label="Over time: one passage per article, by date",
                                            elem_id="timeline", scale=3)
                    alone_button = gr.Button("Ask again without the conversation", visible=False,
                                             size="sm", elem_id="again-alone", scale=2)
                status = gr.HTML(elem_id="status")
                with gr.Row():
                    comment = gr.Textbox(
                        elem_id="comment", show_label=False, scale=8,
                        placeholder="Optional comment, sent with your thumbs up or down on an answer",
                    )
                    # The day the questions are asked ("this week" is read against it): today,
                    # read when the page loads, and changeable.
                    served_day = dt.date.today().isoformat()
                    as_of = gr.Textbox(value=served_day, label="As of (YYYY-MM-DD)",
                                       scale=2, min_width=120, elem_id="as-of")
                    clear_button = gr.Button("Clear", scale=1, size="md", elem_id="clear", min_width=80)
                with gr.Accordion("Filters and number of passages", open=False, elem_id="filters"):
                    with gr.Row():
                        publisher = gr.Dropdown(
                            engine.publishers(), multiselect=True, label="Publisher", elem_id="publisher"
                        )
                        source_filter = gr.Dropdown(
                            engine.sources(), multiselect=True, label="Source", elem_id="source-filter"
                        )
                    with gr.Row():
                        after = gr.Textbox(label="From (YYYY-MM-DD)", placeholder=first or "", elem_id="after")
                        before = gr.Textbox(label="To (YYYY-MM-DD)", placeholder=last or "", elem_id="before")
                        k = gr.Slider(1, MAX_K_SHOWN, value=settings.k, step=1, label="Passages", elem_id="k")
                    no_undated = gr.Checkbox(
                        False, label="Under a date filter, leave out articles without a date",
                        elem_id="no-undated")
                    if span:
                        gr.HTML(f'<div class="qa-hint">{escape(span)}</div>')
            with gr.Column(scale=5, min_width=380):
                citation = gr.Dropdown(
                    [], value=None, label="Open a source of the last answer", elem_id="citations",
                    interactive=True,
                )
                source = gr.HTML(render.SOURCE_PLACEHOLDER, elem_id="source")
                # Clicking a card in the chat writes "turn-number" here (see render.APP_JS).
                card_click = gr.Textbox(visible="hidden", elem_id="qa-open")

        filters = [publisher, source_filter, after, before, no_undated, k, over_time, as_of]
        answered = [chatbot, turns, question, status, citation, source, alone_button]
        for trigger in (question.submit, ask_button.click):
            trigger(chat_turn, [question, turns, *filters], answered, **private, **engine_queue).then(
                None, js=render.AFTER_ANSWER_JS, **private
            )
        chatbot.example_select(ask_example, [turns, *filters], answered, **private, **engine_queue).then(
            None, js=render.AFTER_ANSWER_JS, **private
        )
        alone_button.click(ask_alone, [turns, *filters], answered, **private, **engine_queue).then(
            None, js=render.AFTER_ANSWER_JS, **private
        )
        for box, trigger in ((citation, citation.input), (card_click, card_click.change)):
            trigger(open_citation, [box, turns], [source, citation], **private).then(
                None, js=render.SCROLL_TO_MARK_JS, **private
            )
        for trigger in (clear_button.click, chatbot.clear):
            trigger(clear, None, [chatbot, turns, question, source, citation, status, alone_button],
                    **private)
        chatbot.like(vote, [turns, comment], [comment, status], **private)
        # Today at each page load, in the browser, so that a day the user has already typed in
        # the box (before the page finished loading) is kept, not overwritten by a reply.
        app.load(None, as_of, as_of, js=TODAY_UNLESS_TYPED_JS % json.dumps(served_day), **private)
        # Its own queue: each waiting question holds no thread, and up to a batch of them wait
        # together for the batcher (whose two workers are the engine's concurrency).
        gr.api(api_ask, api_name=API_NAME, concurrency_id="api", concurrency_limit=batcher.max_batch)
        app.qa_batcher = batcher  # for qa.json_api.add_json_api: one batcher for both APIs
        if live:
            def page_opened():
                return getattr(engine, "seq", 0), archive_line(engine, getattr(engine, "seq", 0), watcher)

            def archive_tick(seq):
                return archive_line(engine, seq, watcher)

            status_queue = {"concurrency_id": "archive", "concurrency_limit": None, "show_progress": "hidden"}
            app.load(page_opened, None, [opened_at, archive], **private, **status_queue)
            gr.Timer(archive_every).tick(archive_tick, [opened_at], [archive], **private, **status_queue)
    return app


# Fonts Gradio ships and serves itself (no Google Fonts request); bold too, so headings are
# not synthesised from the regular face.
THEME = gr.themes.Default(
    primary_hue="blue",
    neutral_hue="slate",
    font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 600, 700)), "ui-sans-serif", "sans-serif"],
)


# Fixed whatever the caller asks: no share link, no run history, no server-side rendering (a
# Node process), no PWA, MCP server or monitoring route, small uploads, only the API in the footer.
LOCKED_DOWN: dict[str, Any] = {
    "share": False, "run_history": False, "ssr_mode": False, "pwa": False, "mcp_server": False,
    "enable_monitoring": False, "max_file_size": "1mb", "footer_links": ["api"],
}


def launch(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: list[tuple[str, str]] | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
):
    """Serve ``app``: loopback by default, login when ``auth`` is given, never a share link,
    nothing fetched from the internet (local fonts, no analytics, no run history)."""
    return app.queue(default_concurrency_limit=2).launch(
        server_name=host, server_port=port, prevent_thread_lock=prevent_thread_lock, quiet=quiet,
        auth=_auth_checker(auth) if auth else None,
        auth_message="Log in to ask the news archive." if auth else None,
        theme=THEME, css=render.CSS, js=render.APP_JS, **LOCKED_DOWN,
    )


def _auth_checker(users: list[tuple[str, str]]):
    table = dict(users)

    def check(username: str, password: str) -> bool:
        expected = table.get(username)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    return check


def load_auth(environ: dict[str, str] | None = None) -> list[tuple[str, str]] | None:
    """Users from ``QA_AUTH_FILE`` (``user:password`` lines, ``#`` comments) and ``QA_AUTH``
    (``user:pass,user2:pass2``); None when neither is set. ValueError on a malformed entry."""
    environ = os.environ if environ is None else environ
    entries: list[tuple[str, str]] = []
    path = environ.get("QA_AUTH_FILE")
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"QA_AUTH_FILE {path} cannot be read: {exc.strerror}") from None
        entries += [(f"{path}:{n}", line.strip()) for n, line in enumerate(lines, 1)
                    if line.strip() and not line.lstrip().startswith("#")]
    if environ.get("QA_AUTH"):
        entries += [("QA_AUTH", item.strip()) for item in environ["QA_AUTH"].split(",") if item.strip()]
    users = []
    for where, entry in entries:
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            raise ValueError(f"{where}: expected user:password")
        users.append((user, password))
    return users or None
