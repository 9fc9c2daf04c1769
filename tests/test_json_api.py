"""``POST /api/ask`` on a real Gradio server: the same answer as the Gradio ``/ask`` API, the
same login, clear errors, and concurrent questions answered in batches, each correctly."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from qa.json_api import AskBatcher, add_json_api, parse_request

pytestmark = pytest.mark.model

SEAFOOD = "When did China ban seafood imports from North Korea?"


def post(url: str, body, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "api/ask", data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def servers(sample_engine):
    from qa.web import create_app, launch

    made = {}
    for name, auth in (("open", None), ("login", [("ana", "s3cret")])):
        app = create_app(sample_engine, sample_engine.settings)
        port = free_port()
        launch(app, port=port, auth=auth, prevent_thread_lock=True, quiet=True)
        add_json_api(app, sample_engine, auth)
        made[name] = (app, f"http://127.0.0.1:{port}/")
    yield {name: url for name, (_, url) in made.items()}
    for app, _ in made.values():
        app.close()


def test_the_json_answer_is_the_gradio_answer(servers):
    from gradio_client import Client

    url = servers["open"]
    filters = {"publisher": "Daily NK"}
    status, answer = post(url, {"question": "Who reported that?", "k": 3, "history": [SEAFOOD], "filters": filters})
    assert status == 200
    expected = Client(url, verbose=False).predict(question="Who reported that?", history=[SEAFOOD],
                                                  filters=filters, k=3, api_name="/ask")
    strip = lambda a: {k: v for k, v in a.items() if k != "seconds"}  # noqa: E731
    assert strip(answer) == strip(expected) and answer["passages"]
    # the day asked and the timeline view pass through as they do in /ask
    status, answer = post(url, {"question": SEAFOOD, "k": 3, "timeline": True, "as_of": "2019-03-01"})
    assert status == 200 and answer["timeline"] is True
    expected = Client(url, verbose=False).predict(question=SEAFOOD, k=3, timeline=True, as_of="2019-03-01",
                                                  api_name="/ask")
    assert strip(answer) == strip(expected)


def test_bad_requests_get_a_clear_400(servers):
    url = servers["open"]
    assert post(url, {"question": "   "}) == (400, {"error": "The question is empty: type a question about the news archive"})
    status, body = post(url, b"{not json")
    assert status == 400 and "JSON object" in body["error"]
    status, body = post(url, {"question": SEAFOOD, "filters": {"after": "yesterday"}})
    assert status == 400 and "after" in body["error"]
    status, body = post(url, {"question": SEAFOOD, "as_of": "yesterday"})  # the day reaches the engine
    assert status == 400 and "as_of" in body["error"]
    status, body = post(url, {"question": SEAFOOD, "limit": 3})
    assert status == 400 and "limit" in body["error"]
    assert post(url, {"question": SEAFOOD})[0] == 200  # and the server still answers


def test_with_a_login_only_its_users_are_answered(servers):
    url = servers["login"]
    assert post(url, {"question": SEAFOOD})[0] == 401
    wrong = base64.b64encode(b"ana:guess").decode()
    assert post(url, {"question": SEAFOOD}, {"Authorization": f"Basic {wrong}"})[0] == 401
    right = base64.b64encode(b"ana:s3cret").decode()
    status, answer = post(url, {"question": SEAFOOD}, {"Authorization": f"Basic {right}"})
    assert status == 200 and answer["passages"][0]["doc_id"] == "002_b64ff41df4f991e9.txt"


def test_questions_waiting_together_are_answered_together_and_each_as_if_alone(sample_engine):
    questions = [SEAFOOD, "Which minerals were smuggled into China?", "Who reported it?", "",
                 "How do Chinese boats reach North Korean ships at sea?"]
    alone = {q: sample_engine.ask(q, k=3).to_dict() for q in questions if q}
    batcher = AskBatcher(sample_engine, workers=1)
    blocker = batcher.submit(SEAFOOD, k=3)  # keeps the one worker busy while the others queue up
    futures = [batcher.submit(q, k=3) for q in questions]
    blocker.result(timeout=120)
    for future in futures:
        future.exception(timeout=120)
    assert batcher.largest_batch >= 2  # the questions that waited were encoded together
    for q, future in zip(questions, futures):
        if not q:
            with pytest.raises(ValueError, match="empty"):
                future.result(timeout=120)
            continue
        got = future.result(timeout=120)
        assert [p["doc_id"] for p in got["passages"]] == [p["doc_id"] for p in alone[q]["passages"]]
        assert [p["score"] for p in got["passages"]] == pytest.approx([p["score"] for p in alone[q]["passages"]],
                                                                        abs=1e-3)


def test_parse_request_refuses_what_is_not_an_ask():
    assert parse_request(b'{"question": "q", "k": 99}') == ("q", 10, None, None, False, None)
    assert parse_request(b'{"question": "q", "timeline": true, "as_of": " 2022-06-16 "}') == (
        "q", 5, None, None, True, "2022-06-16")
    for body, message in ((b"[]", "JSON object"), (b'{"question": 3}', "text"), (b'{"question": "q", "k": 1.5}', "whole"),
                          (b'{"question": "q", "history": "x"}', "history"), (b'{"question": "q", "filters": []}', "filters"),
                          (b'{"question": "q", "timeline": "yes"}', "timeline"), (b'{"question": "q", "as_of": 20220616}', "as_of")):
        with pytest.raises(ValueError, match=message):
            parse_request(body)


class Gated:
    """The real engine, whose ``ask_many`` waits for ``gate`` and records each batch's size:
    the questions that arrive meanwhile wait in the batcher's queue together."""

    def __init__(self, engine):
        import threading

        self.engine, self.gate, self.batches = engine, threading.Event(), []
        self.waiting = threading.Event()  # set when a batch is held at the gate

    def ask_many(self, questions, **kwargs):
        self.waiting.set()
        assert self.gate.wait(timeout=120)
        self.batches.append(len(questions))
        return self.engine.ask_many(questions, **kwargs)

    def __getattr__(self, name):
        return getattr(self.engine, name)


def test_gradio_ask_questions_that_wait_together_share_one_batch(sample_engine):
    """The Gradio ``/ask`` API hands its questions to the batcher POST /api/ask uses: questions
    asked while the engine is busy are answered in one ``ask_many``, each as if alone."""
    import concurrent.futures
    import time

    from gradio_client import Client

    from qa.web import create_app, launch

    gated = Gated(sample_engine)
    batcher = AskBatcher(gated, workers=1)
    app = create_app(gated, sample_engine.settings, batcher=batcher)
    port = free_port()
    launch(app, port=port, prevent_thread_lock=True, quiet=True)
    try:
        assert add_json_api(app, gated) is batcher  # one batcher for both APIs
        url = f"http://127.0.0.1:{port}/"
        first = Client(url, verbose=False).submit(SEAFOOD, 3, [], None, api_name="/ask")
        assert gated.waiting.wait(timeout=120)  # the one worker holds the first question
        questions = ["Which minerals were smuggled into China?", "How do Chinese boats reach North Korean ships at sea?",
                     "Who reported it?"]
        clients = [Client(url, verbose=False) for _ in questions]
        jobs = [c.submit(q, 3, [SEAFOOD], None, api_name="/ask") for c, q in zip(clients, questions)]
        deadline = time.monotonic() + 120
        while batcher._queue.qsize() < len(questions):  # all three wait behind the first
            assert time.monotonic() < deadline
            time.sleep(0.05)
        gated.gate.set()
        answers = [job.result(timeout=120) for job in jobs]
        assert first.result(timeout=120)["passages"]
    finally:
        gated.gate.set()
        app.close()
    assert gated.batches == [1, len(questions)]
    for q, got in zip(questions, answers):
        alone = sample_engine.ask(q, k=3, history=[SEAFOOD]).to_dict()
        assert got["question"] == q and got["history_used"] == alone["history_used"]
        assert [p["doc_id"] for p in got["passages"]] == [p["doc_id"] for p in alone["passages"]]


def test_a_bad_day_or_a_timeline_in_a_batch_is_answered_alone(sample_engine):
    gated = Gated(sample_engine)
    batcher = AskBatcher(gated, workers=1)
    blocker = batcher.submit(SEAFOOD, k=3)
    assert gated.waiting.wait(timeout=120)
    plain = batcher.submit(SEAFOOD, k=3, as_of="2019-03-01")
    bad_day = batcher.submit(SEAFOOD, k=3, as_of="yesterday")
    timeline = batcher.submit(SEAFOOD, k=3, timeline=True, as_of="2019-03-01")
    gated.gate.set()
    blocker.result(timeout=120)
    with pytest.raises(ValueError, match="as_of"):
        bad_day.result(timeout=120)
    for future, as_timeline in ((plain, False), (timeline, True)):
        alone = sample_engine.ask(SEAFOOD, k=3, timeline=as_timeline, as_of="2019-03-01").to_dict()
        got = future.result(timeout=120)
        assert [p["doc_id"] for p in got["passages"]] == [p["doc_id"] for p in alone["passages"]]
        assert got["timeline"] is as_timeline
    assert sorted(gated.batches) == [1, 1, 1]  # the timeline was not searched with the plain question
