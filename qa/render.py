"""HTML for the web chat: questions, answers with citation cards, and the source viewer.

Every piece of text that comes from an article or a user goes through ``html.escape``
here, and nowhere else builds markup from it: the chat and the source viewer show what
these functions return, so nothing in the corpus or in a question can reach the page as
markup. Links are kept only when they are plain http(s) URLs.
"""
from __future__ import annotations

import datetime as dt
import re
from html import escape
from urllib.parse import urlsplit

from .types import Answer, Document, Passage

# How much of a passage a citation card shows on each side of its best sentence; the
# whole passage and its article are one click away in the source viewer.
CARD_CONTEXT_CHARS = 240


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) link, else None (no ``javascript:`` or ``data:``)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def format_date(published: str | None) -> str:
    """``2019-01-15`` as ``15 Jan 2019``; anything else as it is."""
    if not published:
        return ""
    try:
        day = dt.date.fromisoformat(published[:10])
    except ValueError:
        return published
    return f"{day.day} {day:%b %Y}"


def strength(score: float, confident: float) -> str:
    """A word for how well a passage matches, against the score at which the engine stops
    abstaining (``Settings.abstain_below``): at or above it strong, a little below fair."""
    if score >= confident:
        return "strong"
    if score >= 0.75 * confident:
        return "fair"
    return "weak"


# The most a hybrid score can reach: every signal of the blend at 1 (``Blend``'s weights summed);
# a card shows its score divided by this, on a 0-1 scale.
from .settings import Blend as _Blend  # noqa: E402

HYBRID_TOP = sum(vars(_Blend()).values())
QUOTE_MARKS = "\"'“”„‟‘’‚‛«»‹›"


def match_scale(score: float, mode: str = "hybrid") -> float:
    """A passage's score on a 0-1 scale: hybrid scores divided by the blend's top, the
    single-signal modes' scores (a cosine, a BM25 divided by the best) as they are."""
    top = HYBRID_TOP if mode == "hybrid" else 1.0
    return min(1.0, max(0.0, score / top))


def quoted(sentence: str) -> str:
    """``sentence`` between one pair of curly quotes: quote marks it starts or ends with are
    dropped first, so that a quoted sentence is not shown inside doubled marks."""
    inner = sentence.strip().strip(QUOTE_MARKS).strip()
    return f"“{inner or sentence.strip()}”"


def _link(url: str | None, label: str) -> str:
    href = safe_url(url)
    if href is None:
        return ""
    return (
        f'<a class="qa-link" href="{escape(href, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer nofollow">{escape(label)}</a>'
    )


def _meta_line(parts: list[str]) -> str:
    return ' <span class="qa-dot">·</span> '.join(p for p in parts if p)


def _tail_words(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, starting at a word boundary."""
    cut = text[-limit:]
    space = cut.find(" ")
    return cut[space + 1:] if 0 <= space < limit // 2 else cut


def _head_words(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``, ending at a word boundary."""
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def passage_html(passage: Passage, context: int | None = CARD_CONTEXT_CHARS) -> str:
    """The passage, escaped, with its best sentence in ``<mark>``; clipped around it if long."""
    text = passage.text
    hs, he = (max(0, min(i, len(text))) for i in passage.highlight)
    before, best, after = text[:hs], text[hs:he], text[he:]
    lead = tail = ""
    if context is not None and len(before) > context:
        before, lead = _tail_words(before, context), "… "
    if context is not None and len(after) > context:
        after, tail = _head_words(after, context), " …"
    before, best, after = (_lines(part) for part in (before, best, after))
    return f"{lead}{before}<mark>{best}</mark>{after}{tail}"


def _lines(text: str) -> str:
    """Escaped text with each run of line breaks as one ``<br>``: cards stay compact."""
    return "<br>".join(escape(line) for line in re.split(r"[ \t]*\n\s*", text))


def question_html(question: str) -> str:
    """A user's question as it appears in the chat: plain text, never markup."""
    return f'<div class="qa-question">{escape(question)}</div>'


def card_html(passage: Passage, number: int, turn: int, confident: float, mode: str = "hybrid",
              mark_undated: bool = False) -> str:
    """One numbered citation card: headline, publisher, date, link, match strength, passage.

    ``mark_undated``: say "undated" where the date would be (a timeline's undated articles)."""
    level = strength(passage.score, confident)
    scale = match_scale(passage.score, mode)
    undated = '<span class="qa-date qa-undated">undated</span>' if mark_undated else ""
    meta = _meta_line([
        f'<span class="qa-publisher">{escape(passage.publisher)}</span>' if passage.publisher else "",
        f'<span class="qa-date">{escape(format_date(passage.published))}</span>' if passage.published else undated,
        _link(passage.url, "original ↗"),
        f'<span class="qa-strength qa-{level}" title="match {scale:.2f} on a scale from 0 to 1">'
        f"{level} match ({scale:.2f} of 1)</span>",
    ])
    title = passage.title or passage.doc_id
    return (
        f'<div class="qa-card" id="qa-cite-{turn}-{number}">'
        f'<div class="qa-card-head"><span class="qa-num">{number}</span>'
        f'<span class="qa-title">{escape(title)}</span></div>'
        f'<div class="qa-meta">{meta}</div>'
        f'<div class="qa-passage">{passage_html(passage)}</div>'
        "</div>"
    )


def answer_html(answer: Answer, turn: int, confident: float) -> str:
    """The reply: the best sentence quoted with its citation number, then the citation cards.

    When the engine abstained, the reply says so plainly and folds the closest passages away.
    ``confident`` is the engine's abstention threshold, which grades each card's match.
    """
    cards = "".join(
        card_html(p, i, turn, confident, answer.mode, mark_undated=answer.timeline)
        for i, p in enumerate(answer.passages, start=1)
    )
    searched = ""
    if answer.history_used:  # only when the engine found the question depends on them
        searched = ('<div class="qa-searched">Searched with the conversation: '
                    f'{escape(" / ".join(answer.history_used))}</div>')
    searched += undated_note(answer)
    if not answer.passages:
        return (
            '<div class="qa-answer qa-none">No article in the archive matches this question '
            "with the current filters.</div>"
        )
    if answer.abstained:
        return (
            '<div class="qa-answer qa-abstained">'
            '<p class="qa-abstain-note">The archive has no confident answer to this question.</p>'
            + (f'<p class="qa-abstain-reason">{escape(answer.abstain_reason)}</p>' if answer.abstain_reason else "")
            + f"{searched}"
            f'<details class="qa-closest"><summary>Closest passages ({len(answer.passages)})</summary>'
            f'<div class="qa-cards">{cards}</div></details>'
            "</div>"
        )
    if answer.timeline:
        dated = sum(1 for p in answer.passages if p.published)
        undated = len(answer.passages) - dated
        return (
            '<div class="qa-answer qa-timeline">'
            f'<p class="qa-timeline-note">Over time: {len(answer.passages)} articles, one passage each, '
            f'oldest first{f"; {undated} undated last" if undated else ""}.</p>'
            f"{searched}"
            f'<div class="qa-cards">{cards}</div>'
            "</div>"
        )
    best = answer.passages[0]
    sentence = best.highlighted_sentence.strip() or best.text.strip()
    source = _meta_line([escape(best.title or best.doc_id), escape(best.publisher or "")])
    return (
        '<div class="qa-answer">'
        f'<blockquote class="qa-lead">{escape(quoted(sentence))} <span class="qa-ref">[1]</span>'
        f'<span class="qa-lead-source">— {source}</span></blockquote>'
        f"{searched}"
        f'<div class="qa-cards">{cards}</div>'
        "</div>"
    )


def undated_note(answer: Answer) -> str:
    """Under a date filter: how many articles without a date were searched (or that none were)."""
    n = answer.undated_searched
    if n is None:
        return ""
    text = (f"{n} article{'s' if n != 1 else ''} without a date searched too (the date filter cannot "
            "place them)." if n else "No article without a date was searched.")
    return f'<div class="qa-undated-note">{escape(text)}</div>'


def source_html(document: Document, passage: Passage | None = None, number: int | None = None) -> str:
    """The whole cleaned article with its metadata, the cited passage in ``<mark>``.

    The best sentence of the passage is emphasised inside the mark; ``number`` is the
    citation number shown in the header.
    """
    text = document.text
    if passage is not None and 0 <= passage.start <= passage.end <= len(text):
        hs, he = passage.highlight
        cited = text[passage.start:passage.end]
        body = (
            f"{escape(text[:passage.start])}"
            f'<mark class="qa-cited">{escape(cited[:hs])}'
            f'<strong class="qa-best">{escape(cited[hs:he])}</strong>'
            f"{escape(cited[he:])}</mark>"
            f"{escape(text[passage.end:])}"
        )
    else:
        body = escape(text)
    meta = _meta_line([
        f'<span class="qa-publisher">{escape(document.publisher)}</span>' if document.publisher else "",
        f"by {escape(document.author)}" if document.author else "",
        f'<span class="qa-date">{escape(format_date(document.published))}</span>' if document.published else "",
        _link(document.url, "original ↗"),
    ])
    badge = f'<span class="qa-num">{number}</span>' if number is not None else ""
    notes = ""
    if document.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in document.warnings)
        notes = f'<details class="qa-notes"><summary>Ingestion notes</summary><ul>{items}</ul></details>'
    return (
        '<div class="qa-source"><div class="qa-source-head">'
        f'<h2 class="qa-source-title">{badge}{escape(document.title or document.doc_id)}</h2>'
        f'<div class="qa-meta">{meta}</div>'
        f'<div class="qa-docid">doc id <code>{escape(document.doc_id)}</code></div>'
        f"{notes}</div>"
        f'<div class="qa-article">{body}</div>'
        "</div>"
    )


def status_html(message: str, error: bool = False) -> str:
    """The line under the question box: what was found, or what to fix."""
    kind = "qa-error" if error else "qa-info"
    return f'<div class="qa-status {kind}">{escape(message)}</div>' if message else ""


SOURCE_PLACEHOLDER = (
    '<div class="qa-source qa-empty">Open a citation to read the whole article here, '
    "with the cited passage highlighted.</div>"
)


# Styles of the markup above, passed to Gradio at launch. Colours come from the theme's
# variables so the page reads well in light and dark mode.
CSS = """
.qa-header h1 { font-size: 1.45rem; font-weight: 600; margin: 0 0 .15rem 0; }
.qa-header p { margin: 0; color: var(--body-text-color-subdued); }
#chat .message { max-width: 100%; }
.qa-question { white-space: pre-wrap; overflow-wrap: anywhere; }
.qa-answer { display: flex; flex-direction: column; gap: .6rem; }
.qa-lead { margin: 0; padding: .5rem .8rem; border-left: 4px solid var(--color-accent);
  background: var(--background-fill-secondary); font-size: 1.06rem; line-height: 1.5; }
.qa-lead-source { display: block; margin-top: .25rem; font-size: .85rem;
  color: var(--body-text-color-subdued); }
.qa-ref, .qa-num { font-weight: 600; color: var(--color-accent); }
.qa-num { display: inline-flex; align-items: center; justify-content: center; min-width: 1.5em;
  height: 1.5em; margin-right: .45rem; border-radius: 999px; font-size: .8rem;
  background: var(--color-accent-soft); }
.qa-searched, .qa-hint { font-size: .8rem; color: var(--body-text-color-subdued); }
.qa-cards { display: flex; flex-direction: column; gap: .5rem; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .55rem .7rem;
  background: var(--background-fill-primary); cursor: pointer; }
.qa-card:hover { border-color: var(--color-accent); }
.qa-card-head { display: flex; align-items: baseline; font-weight: 600; }
.qa-meta { font-size: .8rem; color: var(--body-text-color-subdued); margin: .15rem 0 .35rem 0; }
.qa-dot { margin: 0 .25rem; }
.qa-passage { font-size: .9rem; line-height: 1.5; overflow-wrap: anywhere; }
.qa-strength { font-weight: 600; }
.qa-strong { color: #15803d; } .qa-fair { color: #b45309; } .qa-weak { color: #b91c1c; }
mark { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: 2px; }
.dark mark { background: #854d0e; }
.qa-abstain-note { margin: 0; font-weight: 600; }
.qa-abstain-reason { margin: .25em 0 0; }
.qa-closest summary { cursor: pointer; color: var(--body-text-color-subdued); }
.qa-status { font-size: .85rem; padding: .1rem .2rem; }
.qa-error { color: #b91c1c; font-weight: 600; }
.qa-info { color: var(--body-text-color-subdued); }
.qa-source { max-height: calc(100vh - 230px); min-height: 200px; overflow-y: auto;
  padding: 0 .9rem .9rem .9rem; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.qa-source.qa-empty { display: flex; align-items: center; justify-content: center; text-align: center;
  color: var(--body-text-color-subdued); }
.qa-source-head { position: sticky; top: 0; z-index: 1; padding: .5rem 0 .4rem 0;
  background: var(--background-fill-primary); border-bottom: 1px solid var(--border-color-primary); }
.qa-source-title { font-size: 1.15rem; font-weight: 600; margin: 0 0 .2rem 0; display: flex;
  align-items: baseline; }
.qa-docid { font-size: .8rem; color: var(--body-text-color-subdued); }
.qa-article { padding-top: .6rem; }
.qa-article { white-space: pre-wrap; line-height: 1.6; overflow-wrap: anywhere; }
.qa-cited { background: #fef3c7; }
.qa-best { background: #fde68a; font-weight: 600; }
.dark .qa-cited { background: #713f12; } .dark .qa-best { background: #854d0e; }
"""

# Runs once when the page loads: a click on a citation card in the chat asks the server
# to open that citation, through the hidden #qa-open textbox.
APP_JS = """
() => {
  document.addEventListener('click', (event) => {
    if (event.target.closest('a, button, summary')) return;
    const card = event.target.closest('#chat .qa-card');
    const box = document.querySelector('#qa-open textarea, #qa-open input');
    if (!card || !box || !card.id.startsWith('qa-cite-')) return;
    box.value = card.id.slice('qa-cite-'.length) + '@' + Date.now();
    box.dispatchEvent(new Event('input', { bubbles: true }));
  });
}
"""

# After the source viewer changes: scroll the cited passage into view inside the viewer.
SCROLL_TO_MARK_JS = """
() => {
  setTimeout(() => {
    const viewer = document.querySelector('#source .qa-source');
    const mark = viewer && viewer.querySelector('mark');
    if (!mark) return;
    const head = viewer.querySelector('.qa-source-head');
    const offset = mark.getBoundingClientRect().top - viewer.getBoundingClientRect().top;
    viewer.scrollTop += offset - (head ? head.offsetHeight : 0) - 24;
  }, 60);
}
"""

# After an answer: show the new question at the top of the chat, so its reply reads from
# the quoted sentence down, and the cited passage in the source viewer.
AFTER_ANSWER_JS = """
() => {
  setTimeout(() => {
    const questions = document.querySelectorAll('#chat .qa-question');
    const last = questions[questions.length - 1];
    const log = last && last.closest('[role=log]');
    if (log) log.scrollTop += last.getBoundingClientRect().top - log.getBoundingClientRect().top - 12;
  }, 60);
  return (""" + SCROLL_TO_MARK_JS.strip() + """)();
}
"""
