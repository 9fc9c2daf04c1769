"""The short load test: 8 gradio clients against ``python serve.py`` for a few seconds, 0 errors.

The full figures (1, 8 and 32 clients) come from ``benchmarks/bench_load.py``; this runs the
same code on the shared sample index. No timing is asserted: only that every request was
answered and every client got at least one answer.
"""
from __future__ import annotations

import importlib.util
import sys

import pytest
from engine_fixtures import ROOT, sample_index  # noqa: F401

pytestmark = pytest.mark.model

CLIENTS, SECONDS = 8, 5.0


def _bench_load():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "benchmarks" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_load", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_eight_clients_for_a_few_seconds_get_answers_and_no_errors(sample_index, tmp_path):
    bench = _bench_load()
    questions = bench.load_questions()
    with bench.served(sample_index, log=tmp_path / "serve.log") as url:
        assert url.startswith("http://127.0.0.1:")
        run = bench.drive(url, CLIENTS, SECONDS, questions, request_timeout=180)
    assert run.errors == []
    assert len(run.per_client) == CLIENTS and min(run.per_client) >= 1, run.per_client
    assert run.answers == sum(run.per_client)
    # The CPU columns: the server's (its pid from served()) and the clients' were both measured.
    assert run.server_cpu > 0 and run.client_cpu > 0, (run.server_cpu, run.client_cpu)
    print("\n" + bench.table([run]))


def test_serve_answers_a_question_asked_while_its_model_loads(sample_index, tmp_path):
    """With an index up to date with its corpus, serve.py serves the page before the model has
    loaded (nothing to embed): a question asked at once waits for the model and is answered."""
    import time

    from gradio_client import Client

    bench = _bench_load()
    log = tmp_path / "serve.log"
    before = sorted(p.name for p in sample_index.iterdir())
    with bench.served(sample_index, corpus=ROOT / "corpus", log=log, start_timeout=300, until="Serving http") as url:
        assert "up to date" in log.read_text()
        answer = Client(url, verbose=False).predict("When did China ban seafood imports from North Korea?", 5,
                                                    api_name="/ask")
        assert answer["passages"] and not answer["abstained"]
        deadline = time.monotonic() + 300
        while "Ready:" not in log.read_text(errors="replace"):  # said once the model is in
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    assert sorted(p.name for p in sample_index.iterdir()) == before  # nothing rebuilt or written
