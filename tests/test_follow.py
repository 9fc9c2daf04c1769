"""The live archive: reader leases against builds, an engine that follows its index, and
``serve.py --watch`` answering a new article without a restart (real model, FAISS, Gradio)."""
from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_fixtures import FERRY_ARTICLE, ROOT, copy_corpus

from qa import Engine
from qa.build import build
from qa.follow import LiveEngine
from qa.generation import Generation
from qa.settings import Settings
from qa.store import MANIFEST, GenerationGone, Lease

pytestmark = pytest.mark.model

FERRY_QUESTION = "When did the passenger ferry cross the Tumen River again?"


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("gen-"))


def current(index: Path) -> str:
    return json.loads((index / MANIFEST).read_text())["generation"]


@pytest.fixture
def live_index(tmp_path, sample_index):
    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    return corpus, index


def _build(corpus, index, encoder):
    return build(Settings(corpus=str(corpus), index=str(index)), progress=False, log=lambda m: None,
                 encoder=encoder)


def test_a_build_keeps_a_generation_a_reader_holds_and_the_reader_deletes_it_when_done(live_index, encoder):
    corpus, index = live_index
    engine = Engine.open(index)
    engine._encoder = encoder
    old = current(index)
    (corpus / "ferry.md").write_text(FERRY_ARTICLE, encoding="utf-8")
    _build(corpus, index, encoder)
    assert current(index) != old and old in generations(index)  # kept: a reader has it open
    answer = engine.ask(FERRY_QUESTION)  # still answers, wholly from its own generation
    assert all(engine.document(p.doc_id).text[p.start:p.end] == p.text for p in answer.passages)
    assert "ferry.md" not in {p.doc_id for p in answer.passages}
    engine.close()
    assert generations(index) == [current(index)]  # the last reader deleted it


def test_a_lease_of_a_killed_reader_does_not_keep_a_generation(live_index, encoder):
    corpus, index = live_index
    old = current(index)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from qa.store import Lease; from pathlib import Path; "
         "lease = Lease(Path(sys.argv[1])); print('held', flush=True); time.sleep(600)", str(index / old)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        (corpus / "ferry.md").write_text(FERRY_ARTICLE, encoding="utf-8")
        _build(corpus, index, encoder)
        assert old in generations(index)  # a live reader's lease is respected
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        (corpus / "ferry.md").write_text(FERRY_ARTICLE + "\nIt will run twice a week.\n", encoding="utf-8")
        _build(corpus, index, encoder)
        assert generations(index) == [current(index)]  # the dead reader's lease is ignored
    finally:
        holder.kill()
        holder.wait()


def test_a_reader_that_finds_its_generation_gone_says_so_and_engine_open_reopens(live_index, encoder):
    corpus, index = live_index
    manifest = Generation.manifest_of(index)
    (corpus / "ferry.md").write_text(FERRY_ARTICLE, encoding="utf-8")
    _build(corpus, index, encoder)  # nobody held the old generation: deleted
    with pytest.raises(GenerationGone, match="is gone"):
        Generation.open(index, manifest, Settings())
    with pytest.raises(GenerationGone):
        Lease(index / manifest["generation"])
    assert not (index / manifest["generation"]).exists()  # the failed lease created nothing
    engine = Engine.open(index)
    engine._encoder = encoder
    assert engine.ask(FERRY_QUESTION).passages[0].doc_id == "ferry.md"
    engine.close()


def test_live_engine_swaps_between_questions_and_a_question_in_flight_keeps_its_generation(live_index, encoder):
    corpus, index = live_index
    logged: list[str] = []
    live = LiveEngine.open(index, background=False, log=logged.append)
    live.engine._encoder = encoder
    first = live.generation
    assert live.ask(FERRY_QUESTION).passages[0].doc_id != "ferry.md"
    assert live.refresh() is False  # nothing committed: one stat, no swap
    (corpus / "ferry.md").write_text(FERRY_ARTICLE, encoding="utf-8")
    with live.pinned() as in_flight:
        _build(corpus, index, encoder)
        assert live.refresh() is True
        assert live.generation != first and in_flight.generation.name == first
        late = in_flight.ask(FERRY_QUESTION)  # finishes on the generation it started on
        assert "ferry.md" not in {p.doc_id for p in late.passages}
        assert all(in_flight.document(p.doc_id).text[p.start:p.end] == p.text for p in late.passages)
        assert first in generations(index)
        stale = late.passages[0]
        assert live.source_document(stale, first).text[stale.start:stale.end] == stale.text
    assert generations(index) == [live.generation]  # closed and deleted once nobody held it
    assert any(f"Closed {first}" in m for m in logged), logged
    answer = live.ask(FERRY_QUESTION)
    assert answer.passages[0].doc_id == "ferry.md" and not answer.abstained
    assert live.new_since(0) == (1, 0, 1) and live.new_since(live.seq) == (0, 0, 0)
    # The source of an answer from a closed generation: shown only while its text is unchanged.
    assert live.source_document(stale, first).doc_id == stale.doc_id
    moved = type(stale)(**{**stale.__dict__, "text": stale.text + "!"})
    with pytest.raises(LookupError, match="changed"):
        live.source_document(moved, first)
    live.close()


def test_live_engine_keeps_answering_when_the_new_generation_cannot_be_opened(live_index, encoder):
    corpus, index = live_index
    logged: list[str] = []
    live = LiveEngine.open(index, background=False, log=logged.append)
    live.engine._encoder = encoder
    before = live.generation
    (corpus / "ferry.md").write_text(FERRY_ARTICLE, encoding="utf-8")
    _build(corpus, index, encoder)
    (index / current(index) / "chunks.npy").write_bytes(b"damaged")
    assert live.refresh() is False
    assert live.generation == before and any("Cannot open" in m for m in logged), logged
    assert live.ask(FERRY_QUESTION).passages
    live.close()


def _bench_load():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "benchmarks" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_load", module)
    spec.loader.exec_module(module)
    return module


def _ask_until(client, question, doc_id, timeout):
    deadline = time.monotonic() + timeout
    while True:
        answer = client.predict(question, 5, api_name="/ask")
        if any(p["doc_id"] == doc_id for p in answer["passages"]):
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)


def test_serve_watch_builds_a_new_article_and_answers_it_without_a_restart(live_index, tmp_path):
    from gradio_client import Client

    corpus, index = live_index
    bench = _bench_load()
    log = tmp_path / "serve.log"
    with bench.served(index, corpus=corpus, log=log, extra=("--watch", "--watch-every", "0.5")) as url:
        client = Client(url, verbose=False)
        first = client.predict(FERRY_QUESTION, 5, api_name="/ask")
        assert first["generation"] == current(index)
        assert "ferry.md" not in {p["doc_id"] for p in first["passages"]}
        (corpus / "ferry.md").write_text(FERRY_ARTICLE, encoding="utf-8")
        answer = _ask_until(client, FERRY_QUESTION, "ferry.md", timeout=240)
        assert answer["generation"] == current(index) != first["generation"]
        deadline = time.monotonic() + 60
        while "[watch] Archive updated" not in log.read_text():  # said once the build's swap is done
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert "Now answering from" in log.read_text()
        (corpus / "ferry.md").unlink()  # a file that goes is built away too
        deadline = time.monotonic() + 240
        while "ferry.md" in {p["doc_id"] for p in client.predict(FERRY_QUESTION, 5, api_name="/ask")["passages"]}:
            assert time.monotonic() < deadline
            time.sleep(0.5)


def test_short_soak_clients_rebuilds_and_a_killed_build_no_error_no_mixed_answer(tmp_path):
    """benchmarks/bench_soak.py, short: 4 clients while two articles are added and built (the
    first build killed with SIGKILL, then run again); every answer is whole from one generation
    and every new article gets answered, the server never restarted. No timing is asserted."""
    spec = importlib.util.spec_from_file_location("bench_soak", ROOT / "benchmarks" / "bench_soak.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_soak", bench)
    spec.loader.exec_module(bench)
    soak = bench.run(clients=4, seconds=30, builds=2, kill=1, work=tmp_path / "soak")
    print("\n" + bench.tables(soak))
    assert soak.errors == [] and soak.mixed() == []
    assert len(soak.answers) >= 4 and len({gen for gen, _ in soak.answers}) >= 2  # answers from both sides of a swap
    assert [b.outcome for b in soak.builds] == ["killed (SIGKILL), then run again", "committed"]
    assert all(b.answered_after is not None for b in soak.builds)
    assert not soak.restarted
