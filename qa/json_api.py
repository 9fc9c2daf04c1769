"""``POST /api/ask``: the Gradio ``/ask`` API as one plain JSON request, with batched encoding.

The body is ``{"question": ..., "k": 5, "history": [...], "filters": {...}, "timeline": false,
"as_of": "2022-06-16"}`` (the arguments of ``/ask``; all but the question optional); the reply is
the same answer JSON (``Answer.to_dict()`` and the ``generation`` it came from), or
``{"error": message}`` with status 400 for a bad question, k, filter or day. With a login set,
the same users: HTTP Basic credentials or the page's login cookie; anything else gets 401.

Questions that arrive while others are being answered wait in a queue; a worker takes every
question waiting at that moment and answers those of the same ``k``, filters and timeline
together with ``ask_many`` (one batched query encode, from one pinned generation). Two workers,
as the chat runs two questions at once on two cores. The Gradio ``/ask`` API (``qa.web``) hands
its questions to the same batcher.
"""
from __future__ import annotations

import base64
import binascii
import json
import queue
import threading
from concurrent.futures import Future
from typing import Any, NamedTuple

from fastapi import Request
from fastapi.responses import JSONResponse

from .engine import clean_question
from .settings import MAX_K_SHOWN
from .store import IndexProblem
from .timewords import as_of_day, typed_day
from .web import generation_of, pinned

ROUTE = "/api/ask"
MAX_BODY = 64 * 1024


class AskRequest(NamedTuple):
    """The arguments of one ``POST /api/ask``, as ``AskBatcher.submit`` takes them."""
    question: str
    k: int
    history: list[str] | None
    filters: dict | None
    timeline: bool
    as_of: str | None


# One submitted question waiting for its batch: its arguments and the future of its answer.
_Asked = NamedTuple("_Asked", [*AskRequest.__annotations__.items(), ("future", Future)])


class AskBatcher:
    """Answers submitted questions in batches (see the module docstring)."""

    def __init__(self, engine: Any, workers: int = 2, max_batch: int = 32) -> None:
        self.engine, self.max_batch = engine, max_batch
        self.largest_batch = 0  # the most questions one encode has taken so far
        self._queue: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name=f"qa-ask-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, question: str, k: int = 5, history: list[str] | None = None,
               filters: dict | None = None, timeline: bool = False, as_of: str | None = None) -> Future:
        """A future of the answer's JSON (``Answer.to_dict()`` and its ``generation``), or of
        the ValueError a bad question, k, filter or day gets."""
        future: Future = Future()
        self._queue.put(_Asked(question, k, history, filters, bool(timeline), as_of, future))
        return future

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            groups: dict[str, list] = {}
            for item in batch:
                try:
                    clean_question(item.question)  # a bad question or day fails alone, not its batch
                    as_of_day(item.as_of)
                    key = json.dumps([item.k, item.filters, item.timeline], sort_keys=True, default=str)
                except (ValueError, TypeError) as exc:
                    item.future.set_exception(ValueError(str(exc)))
                    continue
                groups.setdefault(key, []).append(item)
            for items in groups.values():
                self._answer(items)

    def _answer(self, items: list[_Asked]) -> None:
        first = items[0]  # the batch shares its k, filters and timeline
        self.largest_batch = max(self.largest_batch, len(items))
        try:
            with pinned(self.engine) as one:
                answers = one.ask_many([i.question for i in items], k=first.k,
                                       histories=[i.history for i in items], filters=first.filters,
                                       timeline=first.timeline, as_of=[i.as_of for i in items])
                generation = generation_of(one)
        except (ValueError, TypeError, IndexProblem) as exc:
            for item in items:
                item.future.set_exception(ValueError(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - every waiting client gets an answer or an error
            for item in items:
                item.future.set_exception(exc)
            return
        for item, answer in zip(items, answers):
            result = answer.to_dict()
            if generation:
                result["generation"] = generation
            item.future.set_result(result)


def parse_request(body: bytes) -> AskRequest:
    """The arguments of one request; ValueError with a message for the client."""
    if len(body) > MAX_BODY:
        raise ValueError(f"The request is larger than {MAX_BODY // 1024} KB")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The body must be a JSON object: {\"question\": \"...\", \"k\": 5}") from None
    if not isinstance(data, dict) or "question" not in data:
        raise ValueError("The body must be a JSON object with a \"question\"")
    unknown = set(data) - set(AskRequest._fields)
    if unknown:
        raise ValueError(f"Unknown fields: {', '.join(sorted(unknown))} (use {', '.join(AskRequest._fields)})")
    k = data.get("k", 5)
    if isinstance(k, bool) or not isinstance(k, (int, float)) or int(k) != k:
        raise ValueError("k must be a whole number")
    history = data.get("history")
    if history is not None and (not isinstance(history, list) or not all(isinstance(h, str) for h in history)):
        raise ValueError("history must be a list of earlier questions")
    history = history or None
    filters = data.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise ValueError("filters must be an object: source, publisher, after, before")
    filters = filters or None
    timeline = data.get("timeline", False)
    if not isinstance(timeline, bool) and timeline is not None:
        raise ValueError("timeline must be true or false")
    as_of = data.get("as_of")
    if as_of is not None and not isinstance(as_of, str):
        raise ValueError("as_of must be a day as text, YYYY-MM-DD")
    as_of = typed_day(as_of)
    if not isinstance(data["question"], str):
        raise ValueError("The question must be text")
    return AskRequest(data["question"], max(1, min(int(k), MAX_K_SHOWN)), history, filters,
                    bool(timeline), as_of)


def add_json_api(blocks: Any, engine: Any, auth: list[tuple[str, str]] | None = None,
                 batcher: AskBatcher | None = None) -> AskBatcher:
    """Add ``POST /api/ask`` to a launched Gradio app (``blocks.server_app``); its questions go to
    ``batcher``, by default the one the app's Gradio ``/ask`` API uses."""
    import hmac

    server = blocks.server_app
    batcher = batcher or getattr(blocks, "qa_batcher", None) or AskBatcher(engine)
    users = dict(auth or [])

    def allowed(request: Request) -> bool:
        if not users:
            return True
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            expected = users.get(user)
            return expected is not None and hmac.compare_digest(expected.encode(), password.encode())
        cookie = request.cookies.get(f"access-token-{server.cookie_id}") or request.cookies.get(
            f"access-token-unsecure-{server.cookie_id}")
        return server.tokens.get(cookie) is not None

    async def ask(request: Request):
        import asyncio

        if not allowed(request):
            return JSONResponse({"error": "Not authenticated"}, status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="qa"'})
        try:
            asked = parse_request(await request.body())
            result = await asyncio.wrap_future(batcher.submit(*asked))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result)

    server.add_api_route(ROUTE, ask, methods=["POST"])
    routes = server.router.routes
    routes.insert(0, routes.pop())  # before Gradio's catch-all routes
    return batcher
