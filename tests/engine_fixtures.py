"""Fixtures shared by the engine's tests: the real model and an index of the sample corpus.

Heavy things are made once per test run (cached functions), whichever module asks first.
"""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = ROOT / "corpus"


@functools.cache
def _encoder():
    from qa.embed import get_encoder
    from qa.settings import bundled_model_path

    return get_encoder(bundled_model_path())


@functools.cache
def _sample_index() -> Path:
    from qa.build import build
    from qa.settings import Settings

    index = Path(tempfile.mkdtemp(prefix="qa-sample-index-"))
    build(Settings(corpus=str(SAMPLE_CORPUS), index=str(index)), progress=False, log=lambda m: None,
          encoder=_encoder())
    return index


@pytest.fixture(scope="session")
def encoder():
    return _encoder()


@pytest.fixture(scope="session")
def sample_documents():
    from qa import ingest

    sidecar, _ = ingest.load_sidecar(SAMPLE_CORPUS)
    return [d for rel in ingest.list_files(SAMPLE_CORPUS)
            for d in ingest.read_file(SAMPLE_CORPUS, rel, sidecar).documents]


@pytest.fixture(scope="session")
def sample_index() -> Path:
    """A read-only index of the sample corpus (copy it before changing it)."""
    return _sample_index()


@pytest.fixture(scope="session")
def sample_engine(sample_index):
    from qa import Engine

    engine = Engine.open(sample_index)
    engine._encoder = _encoder()
    return engine


def copy_corpus(dest: Path) -> Path:
    shutil.copytree(SAMPLE_CORPUS, dest)
    return dest


FERRY_ARTICLE = ("# Ferry service resumes on the Tumen River\n\nA passenger ferry crossed the Tumen River on Monday "
                 "for the first time in three years, officials in Hunchun said.\n")


def change_corpus(corpus: Path, changed: str) -> None:
    """The incremental-build edit of the sample corpus: ``changed`` gets a new paragraph,
    003 is removed and ``nested/new.md`` (the ferry article) is added."""
    path = corpus / changed
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA new closing paragraph about coal barges.\n",
                    encoding="utf-8")
    (corpus / "003_aa44470263f3cb35.txt").unlink()
    (corpus / "nested").mkdir()
    (corpus / "nested" / "new.md").write_text(FERRY_ARTICLE, encoding="utf-8")
