"""Building on Ray: a real local cluster (loopback, no dashboard, no usage stats), the real model
and FAISS. A build on Ray must give the index a local build gives, field by field; a worker
killed mid-build is survived; a failure retries cannot mend leaves the previous index whole.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import ROOT, change_corpus, copy_corpus, encoder  # noqa: F401
from faults import actor_calls, killing_actor

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray")

from qa import Engine, distributed, store  # noqa: E402
from qa.build import build  # noqa: E402
from qa.distributed import ClusterError, RayOptions  # noqa: E402
from qa.settings import Settings  # noqa: E402

# Ray Data reads its whole context, deprecated fields included, when it starts a dataset.
pytestmark = [pytest.mark.model, pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")]

QUESTIONS = ["Which minerals made up most of the exports after Kim Jong-un's fourth trip to China?",
             "How do Chinese boats reach North Korean ships at sea?",
             "seafood smuggled into Dandong"]
ORIGINAL, COPY = "002_b64ff41df4f991e9.txt", "copy of 002.txt"
FAULTS = Path(__file__).with_name("faults.py")  # runs the command line with the model actor killing itself
# Sentence vectors are int8 codes of float16 vectors: a float16 difference may turn a code by one.
VECTOR_TOLERANCE = {"float32": 1e-4, "float16": 2e-3, "int8": 1.5}


@pytest.fixture(scope="module")
def cluster():
    """A Ray head on loopback for the whole module, started and stopped here."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level="ERROR", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def built(tmp_path_factory, cluster, encoder):
    """The sample corpus plus a duplicate article, built locally and on Ray (2 model workers)."""
    base = tmp_path_factory.mktemp("ray-built")
    corpus = copy_corpus(base / "corpus")
    shutil.copy(corpus / ORIGINAL, corpus / COPY)  # read and embedded on the cluster, dropped by the driver
    (corpus / "broken.json").write_text('{"title": "Nothing here", "content": ""}', encoding="utf-8")  # fails
    local = _build(corpus, base / "local", encoder)
    logs: list[str] = []
    on_ray = _build(corpus, base / "ray", encoder, RayOptions(address=cluster, workers=2), logs)
    return corpus, base / "local", base / "ray", local, on_ray, logs


def _build(corpus: Path, index: Path, encoder, ray_options: RayOptions | None = None, logs=None):
    return build(Settings(corpus=str(corpus), index=str(index)), progress=False,
                 log=(logs.append if logs is not None else lambda m: None), encoder=encoder, ray=ray_options)


def _report(report) -> dict:
    return {k: v for k, v in report.to_dict().items() if k not in ("seconds", "embed_seconds", "entity_seconds")}


def assert_same_index(a: Path, b: Path) -> None:
    """Every field of two indexes: manifest, documents, every array (exact, except vectors:
    within float tolerance), and the answers."""
    ma, mb = store.read_manifest(a), store.read_manifest(b)
    for key in ("model", "dim", "chunking", "ingest_version", "vector_index", "counts", "files", "format_version",
                "entities"):
        assert ma.get(key) == mb.get(key), key
    for key in ("added", "changed", "removed", "failed", "warnings", "documents", "chunks", "embedded_chunks"):
        assert ma["last_build"][key] == mb["last_build"][key], key
    assert ({k: v for k, v in ma["settings"].items() if k not in ("index", "corpus")}
            == {k: v for k, v in mb["settings"].items() if k not in ("index", "corpus")})
    ga, gb = store.generation_dir(a, ma), store.generation_dir(b, mb)
    assert sorted(p.name for p in ga.iterdir()) == sorted(p.name for p in gb.iterdir())

    da, db = store.DocumentStore(ga / "docs.sqlite"), store.DocumentStore(gb / "docs.sqlite")
    try:
        assert len(da.meta) == len(db.meta) == ma["counts"]["documents"]
        for pos in range(len(da.meta)):
            assert da.document(pos) == db.document(pos)  # doc id, text, title, url, date, author, ...
    finally:
        da.close(), db.close()

    compared = set()
    for path in sorted(ga.iterdir()):
        other = gb / path.name
        if path.suffix == ".npy":
            x, y = np.load(path, allow_pickle=False), np.load(other, allow_pickle=False)
            assert x.dtype == y.dtype and x.shape == y.shape, path.name
            if "vector" in path.name:
                assert np.abs(x.astype("float32") - y.astype("float32")).max(initial=0) < VECTOR_TOLERANCE[x.dtype.name]
            else:  # chunks (doc, start, end), sentences, BM25 counts and statistics: exactly equal
                assert np.array_equal(x, y), path.name
        elif path.suffix == ".json":
            assert json.loads(path.read_text()) == json.loads(other.read_text()), path.name
        elif path.suffix == ".faiss":
            import faiss

            x, y = faiss.read_index(str(path)), faiss.read_index(str(other))
            assert type(x) is type(y) and x.ntotal == y.ntotal == ma["counts"]["chunks"]
            vx, vy = x.reconstruct_n(0, x.ntotal), y.reconstruct_n(0, y.ntotal)
            assert np.abs(vx - vy).max(initial=0) < VECTOR_TOLERANCE["float32"]
        elif path.name != "docs.sqlite":
            assert path.read_bytes() == other.read_bytes(), path.name
        compared.add(path.name)
    assert {"chunks.npy", "sentences.npy", "sentence_vectors.npy", "vectors.faiss", "bm25_data.npy"} <= compared

    ea, eb = Engine.open(a), Engine.open(b)
    for question in QUESTIONS:
        pa, pb = ea.ask(question).passages, eb.ask(question).passages
        assert [(p.doc_id, p.start, p.end, p.highlight) for p in pa] == [(p.doc_id, p.start, p.end, p.highlight)
                                                                         for p in pb]
        assert [p.score for p in pa] == pytest.approx([p.score for p in pb], abs=1e-3)


def test_a_build_on_ray_is_the_local_build(built):
    corpus, local, on_ray, local_report, ray_report, logs = built
    assert _report(ray_report) == _report(local_report)
    assert any(f"{COPY} is a duplicate of {ORIGINAL}" in w for w in ray_report.warnings[COPY])
    assert ray_report.failed == local_report.failed and "broken.json" in ray_report.failed
    assert any("7 files to 2 model worker(s)" in m for m in logs), logs
    assert_same_index(local, on_ray)


def test_incremental_build_on_ray_sends_only_the_changed_files(built, tmp_path, cluster, encoder):
    corpus, local, on_ray, _, _, _ = built
    corpus = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    index = Path(shutil.copytree(on_ray, tmp_path / "index"))
    local = Path(shutil.copytree(local, tmp_path / "local"))
    change_corpus(corpus, "000_82916424e9c57ef5.txt")
    shutil.copy(corpus / "001_28f2545c660e1931.txt", corpus / "nested" / "copy of 001.txt")  # of a kept article
    logs: list[str] = []
    report = _build(corpus, index, encoder, RayOptions(address=cluster), logs)
    assert report.changed == ["000_82916424e9c57ef5.txt"]
    assert report.removed == ["003_aa44470263f3cb35.txt"]
    assert report.added == ["nested/copy of 001.txt", "nested/new.md"]
    assert len(report.unchanged) == 5
    assert any(m.startswith("Ray: 3 files to") for m in logs), logs  # only those went to the cluster
    engine = Engine.open(index)
    assert report.embedded_chunks == sum(1 for r in engine.chunk_doc if engine.docs.meta[r].doc_id in
                                         {"000_82916424e9c57ef5.txt", "nested/new.md"})
    # The same incremental build done locally gives the same index, field by field ...
    local_report = _build(corpus, local, encoder)
    assert _report(local_report) == _report(report)
    assert_same_index(local, index)
    # ... and it holds what a fresh build of the new corpus holds.
    fresh = tmp_path / "fresh"
    _build(corpus, fresh, encoder)
    _same_content(fresh, index)
    # Nothing changed: nothing is sent, Ray is not even asked.
    logs.clear()
    again = _build(corpus, index, encoder, RayOptions(address="203.0.113.1:1"), logs)
    assert again.embedded_chunks == 0 and not any(m.startswith("Ray:") for m in logs)


def _same_content(fresh: Path, incremental: Path) -> None:
    """An incremental build equals a fresh local build of the new corpus, but for what differs
    between any incremental build and a fresh one (the build report, and term counts keep the
    old vocabulary's column order): documents, chunk rows, vectors and answers."""
    mf, mi = store.read_manifest(fresh), store.read_manifest(incremental)
    assert mf["files"] == mi["files"]
    assert mf["counts"] == mi["counts"]
    ef, ei = Engine.open(fresh), Engine.open(incremental)
    assert sorted(ef.doc_ids()) == sorted(ei.doc_ids())
    gf, gi = store.generation_dir(fresh, mf), store.generation_dir(incremental, mi)
    key = lambda rows, docs: sorted((docs.meta[d].doc_id, s, e) for d, s, e in rows.tolist())  # noqa: E731
    assert key(store.read_chunks(gf), ef.docs) == key(store.read_chunks(gi), ei.docs)
    for question in QUESTIONS + ["When did the ferry cross the Tumen River again?"]:
        pf, pi = ef.ask(question).passages, ei.ask(question).passages
        assert [(p.doc_id, p.start, p.end) for p in pf] == [(p.doc_id, p.start, p.end) for p in pi]
        assert [p.score for p in pf] == pytest.approx([p.score for p in pi], abs=1e-3)


def test_a_worker_killed_mid_build_is_survived(built, tmp_path, cluster, encoder, monkeypatch):
    corpus, local, _, _, _, _ = built
    marker = tmp_path / "killed"
    monkeypatch.setattr(distributed, "_Embed", killing_actor(once=marker))  # the model actor kills itself, once
    _build(corpus, tmp_path / "index", encoder, RayOptions(address=cluster, workers=1))
    # It died on its first call, and Ray restarted it (another process) and retried its batch.
    killed, calls = int(marker.read_text()), actor_calls(marker)
    assert calls[0] == killed and len(calls) > 1 and killed not in calls[1:], calls
    assert_same_index(local, tmp_path / "index")


def test_a_failure_retries_cannot_mend_leaves_the_previous_index(built, tmp_path, cluster):
    """Through the command line, as a user meets it: one clear line, exit 1, the old index answers."""
    corpus, _, on_ray, _, _, _ = built
    corpus = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    index = Path(shutil.copytree(on_ray, tmp_path / "index"))
    before = Engine.open(index).ask(QUESTIONS[0]).to_dict()
    manifest = (index / store.MANIFEST).read_text()
    path = corpus / "000_82916424e9c57ef5.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nOne more paragraph.\n", encoding="utf-8")
    env = dict(os.environ, QA_RAY_RESTARTS="1")
    proc = subprocess.run([sys.executable, str(FAULTS), "ray-actor", "build", "--corpus", str(corpus),  # dies on every batch
                           "--index", str(index), "--quiet", "--ray", cluster], env=env, capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("qa: the build on Ray failed, the previous index is unchanged: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert (index / store.MANIFEST).read_text() == manifest
    assert sorted(p.name for p in index.iterdir() if p.name.startswith("gen-")) == [json.loads(manifest)["generation"]]
    assert Engine.open(index).ask(QUESTIONS[0]).to_dict()["passages"] == before["passages"]


def test_the_local_build_never_imports_ray(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Coal\n\nCoal barges crossed the river at night.\n", encoding="utf-8")
    code = ("import sys; from qa.cli import main; "
            f"rc = main(['build', '--corpus', {str(corpus)!r}, '--index', {str(tmp_path / 'index')!r}, '--quiet']); "
            "assert rc == 0; leaked = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')); "
            "assert not leaked, leaked; print('no ray')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "no ray" in proc.stdout, proc.stderr


def test_an_unreachable_head_is_said_at_once():
    from qa.distributed import _reachable

    with pytest.raises(ClusterError, match="cannot reach the Ray head at 127.0.0.1:1"):
        _reachable("127.0.0.1:1")
