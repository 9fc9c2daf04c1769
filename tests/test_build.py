"""Building: incremental refresh, atomic writes under SIGKILL, locks, damaged indexes."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from engine_fixtures import ROOT, change_corpus, copy_corpus, encoder, sample_index  # noqa: F401

from qa import Engine, IndexProblem
from qa.build import build
from qa.settings import Settings
from qa.store import MANIFEST

pytestmark = pytest.mark.model

QUESTION = "Which minerals made up most of the exports after Kim Jong-un's fourth trip to China?"
FAULTS = Path(__file__).with_name("faults.py")  # runs the command line with the build killed at a point


def _build(corpus: Path, index: Path, encoder):
    return build(Settings(corpus=str(corpus), index=str(index)), progress=False, log=lambda m: None,
                 encoder=encoder)


def test_up_to_date_says_whether_a_build_would_find_nothing_to_do(tmp_path, sample_index):
    """serve.py serves an up-to-date index before the model has loaded: ``up_to_date`` must be
    False for every change a build would act on."""
    from qa.build import up_to_date

    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    settings = Settings(corpus=str(corpus), index=str(index))
    assert up_to_date(settings)
    assert not up_to_date(settings.with_(index=str(tmp_path / "no-index")))
    assert not up_to_date(settings.with_(chunk_tokens=120))
    assert not up_to_date(settings.with_(model=str(tmp_path / "another-model")))
    path = corpus / "002_b64ff41df4f991e9.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + " One more word.", encoding="utf-8")
    assert not up_to_date(settings)
    path.write_text(text, encoding="utf-8")
    assert up_to_date(settings)  # the same bytes again
    (corpus / "extra.txt").write_text("A new article about barges on the Yalu River.\n", encoding="utf-8")
    assert not up_to_date(settings)
    (corpus / "extra.txt").unlink()
    (corpus / "003_aa44470263f3cb35.txt").unlink()
    assert not up_to_date(settings)
    shutil.copy(ROOT / "corpus" / "003_aa44470263f3cb35.txt", corpus)
    sidecar = corpus / "qa-metadata.json"
    entries = json.loads(sidecar.read_text(encoding="utf-8"))
    sidecar.write_text(json.dumps({**entries, "001_28f2545c660e1931.txt": {"publisher": "Someone Else"}}),
                       encoding="utf-8")
    assert not up_to_date(settings)


def test_incremental_build_reembeds_only_what_changed(tmp_path, encoder, sample_index):
    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    unchanged = _build(corpus, index, encoder)
    assert unchanged.embedded_chunks == 0 and len(unchanged.unchanged) == 5
    before = Engine.open(index).ask(QUESTION).to_dict()

    change_corpus(corpus, "002_b64ff41df4f991e9.txt")
    report = _build(corpus, index, encoder)
    assert report.changed == ["002_b64ff41df4f991e9.txt"]
    assert report.removed == ["003_aa44470263f3cb35.txt"]
    assert report.added == ["nested/new.md"]
    assert len(report.unchanged) == 3
    engine = Engine.open(index)
    new_chunks = sum(1 for r in engine.chunk_doc if engine.docs.meta[r].doc_id in
                     {"002_b64ff41df4f991e9.txt", "nested/new.md"})
    assert report.embedded_chunks == new_chunks
    assert "003_aa44470263f3cb35.txt" not in engine.doc_ids()
    assert engine.ask("When did the ferry cross the Tumen River again?").passages[0].doc_id == "nested/new.md"
    assert engine.ask(QUESTION).to_dict()["passages"][0] == before["passages"][0]
    # Unchanged articles keep identical vectors: same answer scores as a fresh full build.
    fresh = tmp_path / "fresh"
    _build(corpus, fresh, encoder)
    a = Engine.open(index).ask(QUESTION, k=5)
    b = Engine.open(fresh).ask(QUESTION, k=5)
    assert [(p.doc_id, p.start) for p in a.passages] == [(p.doc_id, p.start) for p in b.passages]
    assert [p.score for p in a.passages] == pytest.approx([p.score for p in b.passages], abs=1e-4)


def test_changed_chunk_settings_rebuild_everything(tmp_path, encoder, sample_index):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    report = build(Settings(corpus=str(ROOT / "corpus"), index=str(index), chunk_tokens=120),
                   progress=False, log=lambda m: None, encoder=encoder)
    assert report.rebuilt_reason and "chunk" in report.rebuilt_reason
    assert report.embedded_chunks == report.chunks


@pytest.mark.parametrize("point", ["embedding", "writing", "committing"])
def test_build_killed_midway_leaves_the_old_index_answering(tmp_path, sample_index, point):
    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    before = Engine.open(index).ask(QUESTION).to_dict()
    manifest = (index / MANIFEST).read_text()
    old = index / json.loads(manifest)["generation"]
    for name in ("000_82916424e9c57ef5.txt", "001_28f2545c660e1931.txt"):
        p = corpus / name
        p.write_text(p.read_text(encoding="utf-8") + "\n\nOne more paragraph so the file changes.\n",
                     encoding="utf-8")
    proc = subprocess.run([sys.executable, str(FAULTS), point, "build", "--corpus", str(corpus),
                           "--index", str(index), "--quiet"], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # Killed where the point says: the new generation not begun, written whole but not in
    # place, or in place but not named by the manifest.
    new = [p for p in index.iterdir() if p.name.startswith("gen-") and p != old]
    if point == "embedding":
        assert new == []
    else:
        assert len(new) == 1 and new[0].name.endswith(".tmp") == (point == "writing"), new
        assert sorted(p.name for p in new[0].iterdir()) == sorted(p.name for p in old.iterdir())
        assert not (index / f"{MANIFEST}.tmp").exists()
    assert (index / MANIFEST).read_text() == manifest
    after = Engine.open(index).ask(QUESTION).to_dict()
    assert after["passages"] == before["passages"]
    report = _build(corpus, index, None)
    assert sorted(report.changed) == ["000_82916424e9c57ef5.txt", "001_28f2545c660e1931.txt"]
    assert len([p for p in index.iterdir() if p.name.startswith("gen-")]) == 1


def test_a_second_build_waits_for_the_first(tmp_path, encoder, sample_index):
    """While one build holds the index, a second one says it waits, writes nothing, and runs
    once the first is done."""
    from qa.store import build_lock

    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    manifest = (index / MANIFEST).read_text()
    change_corpus(corpus, "002_b64ff41df4f991e9.txt")
    settings = Settings(corpus=str(corpus), index=str(index))
    said, news, done = [], threading.Event(), []

    def second() -> None:
        def log(message: str) -> None:
            said.append(message)
            news.set()

        try:
            done.append(build(settings, progress=False, encoder=encoder, log=log))
        finally:
            news.set()

    with build_lock(index):  # the first build
        with pytest.raises(IndexProblem, match="Another build"):
            with build_lock(index, wait=False):
                pass
        thread = threading.Thread(target=second)
        thread.start()
        assert news.wait(timeout=300)
        assert any("Another build" in m for m in said), said
        thread.join(timeout=0.5)  # a grace period, for a build that said it waits and went on
        assert thread.is_alive() and not done
        assert (index / MANIFEST).read_text() == manifest
        assert [p.name for p in index.iterdir() if p.name.startswith("gen-")] == [json.loads(manifest)["generation"]]
    thread.join(timeout=300)
    assert done and done[0].changed == ["002_b64ff41df4f991e9.txt"]
    assert json.loads((index / MANIFEST).read_text())["generation"] != json.loads(manifest)["generation"]
    assert Engine.open(index).ask("When did the ferry cross the Tumen River again?").passages[0].doc_id == "nested/new.md"


@pytest.mark.parametrize("damage", ["manifest-garbage", "format", "model", "dimension", "vectors-missing",
                                    "vectors-truncated", "docs-garbage", "chunks-missing", "postings-truncated",
                                    "sentence-counts-truncated", "sentence-scales-missing"])
def test_damaged_index_gives_a_clear_error(tmp_path, sample_index, damage):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    manifest = json.loads((index / MANIFEST).read_text())
    gen = index / manifest["generation"]
    if damage == "manifest-garbage":
        (index / MANIFEST).write_text("{not json")
    elif damage == "format":
        manifest["format_version"] = 999
        (index / MANIFEST).write_text(json.dumps(manifest))
    elif damage == "model":
        manifest["model"] = "/some/other/model"
        (index / MANIFEST).write_text(json.dumps(manifest))
    elif damage == "dimension":
        manifest["dim"] = 768
        (index / MANIFEST).write_text(json.dumps(manifest))
    elif damage == "vectors-missing":
        (gen / "vectors.faiss").unlink()
    elif damage == "vectors-truncated":
        data = (gen / "vectors.faiss").read_bytes()
        (gen / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "docs-garbage":
        (gen / "docs.sqlite").write_bytes(b"this is not a database" * 100)
    elif damage == "chunks-missing":
        (gen / "chunks.npy").unlink()
    elif damage == "postings-truncated":
        data = (gen / "bm25_postings_rows.npy").read_bytes()
        (gen / "bm25_postings_rows.npy").write_bytes(data[: len(data) - 8])
    elif damage == "sentence-counts-truncated":  # read whole into memory at open
        data = (gen / "sent_bm25_indices.npy").read_bytes()
        (gen / "sent_bm25_indices.npy").write_bytes(data[: len(data) - 8])
    elif damage == "sentence-scales-missing":
        (gen / "sentence_vector_scales.npy").unlink()
    with pytest.raises(IndexProblem, match="qa build"):
        Engine.open(index)


def test_a_posting_list_file_cut_short_while_open_gives_a_clear_error(tmp_path, sample_index):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    engine = Engine.open(index)
    gen = index / json.loads((index / MANIFEST).read_text())["generation"]
    data = (gen / "bm25_postings_rows.npy").read_bytes()
    (gen / "bm25_postings_rows.npy").write_bytes(data[:128])  # the header and a few rows: the rest gone
    with pytest.raises(IndexProblem, match="cut short.*qa build"):
        engine.ask(QUESTION)


def test_unreadable_corpus_folder_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="Corpus folder not found"):
        build(Settings(corpus=str(tmp_path / "missing"), index=str(tmp_path / "i")), progress=False)


def test_duplicate_article_is_indexed_once_and_returns_when_the_original_goes(tmp_path, encoder):
    corpus = copy_corpus(tmp_path / "corpus")
    original = "002_b64ff41df4f991e9.txt"
    shutil.copy(corpus / original, corpus / "copy of 002.txt")
    index = tmp_path / "index"
    report = _build(corpus, index, encoder)
    assert any("duplicate of 002_b64ff41df4f991e9.txt" in w for w in report.warnings["copy of 002.txt"])
    engine = Engine.open(index)
    assert "copy of 002.txt" not in engine.doc_ids()
    texts = [p.text for p in engine.ask("seafood smuggled into Dandong", k=10).passages]
    assert len(texts) == len(set(texts))
    (corpus / original).unlink()
    again = _build(corpus, index, encoder)
    assert again.removed == [original] and again.changed == ["copy of 002.txt"]
    assert "copy of 002.txt" in Engine.open(index).doc_ids()


def test_past_the_threshold_the_index_is_ivf_and_an_addition_extends_it(tmp_path, encoder):
    """The FAISS index kind follows the corpus size (recorded in the manifest); an added article
    is added to the previous IVF index without training its cells again, and IVF (searching
    every cell of so small an index) answers as the exact index does."""
    import faiss
    import numpy as np

    from qa import store

    corpus = copy_corpus(tmp_path / "corpus")
    ivf = Settings(corpus=str(corpus), index=str(tmp_path / "ivf"), ann_min_chunks=10)
    build(ivf, progress=False, log=lambda m: None, encoder=encoder)
    exact = Settings(corpus=str(corpus), index=str(tmp_path / "flat"))
    build(exact, progress=False, log=lambda m: None, encoder=encoder)
    manifest = store.read_manifest(tmp_path / "ivf")
    assert manifest["vector_index"] == {"type": "ivf", "nlist": 21}
    assert store.read_manifest(tmp_path / "flat")["vector_index"] == {"type": "flat"}
    engine = Engine.open(tmp_path / "ivf", ivf_nprobe=21)
    assert isinstance(faiss.downcast_index(engine.retriever.index), faiss.IndexIVFFlat)
    a, b = engine.ask(QUESTION, k=5), Engine.open(tmp_path / "flat").ask(QUESTION, k=5)
    assert [(p.doc_id, p.start, p.score) for p in a.passages] == [(p.doc_id, p.start, p.score) for p in b.passages]

    (corpus / "new.md").write_text("# Ferry service resumes on the Tumen River\n\nA passenger ferry crossed "
                                   "the Tumen River on Monday for the first time in three years.\n", encoding="utf-8")
    report = build(ivf, progress=False, log=lambda m: None, encoder=encoder)
    manifest = store.read_manifest(tmp_path / "ivf")
    assert report.added == ["new.md"] and manifest["vector_index"]["reused"] == engine.size
    engine = Engine.open(tmp_path / "ivf", ivf_nprobe=21)
    assert engine.size == manifest["counts"]["chunks"] > manifest["vector_index"]["reused"]
    assert engine.ask("When did the ferry cross the Tumen River again?").passages[0].doc_id == "new.md"
    # The index holds exactly the stored vectors, in row order: each one finds itself first,
    # and the engine's copies out of the index are the rows of vectors.npy.
    vectors = np.load(store.generation_dir(tmp_path / "ivf", manifest) / "vectors.npy")
    assert np.array_equal(np.array(engine.retriever.vectors), vectors)
    rows = np.array([3, 0, len(vectors) - 1])
    assert np.array_equal(engine.retriever.vectors[rows], vectors[rows])
    _, found = engine.retriever.index.search(vectors, 1, params=faiss.SearchParametersIVF(nprobe=21))
    assert (found[:, 0] == np.arange(len(vectors))).all()


def test_index_kind_disagreeing_with_the_manifest_is_refused(tmp_path, sample_index):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    manifest = json.loads((index / MANIFEST).read_text())
    manifest["vector_index"] = {"type": "ivf", "nlist": 21}
    (index / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexProblem, match="flat index, the manifest says ivf"):
        Engine.open(index)


def test_sentence_vectors_are_stored_as_int8_close_to_the_model_and_copied_unchanged(encoder):
    import numpy as np

    from qa.store import SentenceVectors, quantize

    texts = ["Coal and iron ore made up most of the exports. Seafood went through Dandong.",
             "A passenger ferry crossed the Tumen River on Monday. It was the first time in three years."]
    spans = [[(0, 47), (48, 76)], [(0, 52), (53, 92)]]
    _, pooled = encoder.encode_with_spans(texts, spans)
    exact = np.concatenate(pooled)
    stored = SentenceVectors(*quantize(exact.astype("float16")))  # what the build writes
    assert stored.codes.dtype == np.int8 and stored.shape == exact.shape
    query = encoder.encode_query("Which goods were exported?")[0]
    ids = np.arange(len(exact))
    assert np.abs(stored.dot(ids, query) - exact @ query).max() < 3e-3
    assert np.abs(stored[ids] - exact).max() < 3e-3
    # An incremental build copies old sentences as float16 and quantises them again: same codes.
    codes, scales = quantize(stored.take(ids, "float16"))
    assert np.array_equal(codes, stored.codes) and np.allclose(scales, stored.scales, rtol=1e-6)
