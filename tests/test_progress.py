"""The build's progress bar shows its total (issue 17)."""
from __future__ import annotations

import re

import pytest
from engine_fixtures import SAMPLE_CORPUS, encoder  # noqa: F401

pytestmark = pytest.mark.model


def test_the_build_progress_bar_counts_files_against_their_total(tmp_path, encoder, capsys):
    from qa.build import build
    from qa.settings import Settings

    build(Settings(corpus=str(SAMPLE_CORPUS), index=str(tmp_path / "index")), progress=True,
          log=lambda m: None, encoder=encoder)
    err = capsys.readouterr().err
    files = len([p for p in SAMPLE_CORPUS.iterdir() if p.suffix == ".txt"])
    assert re.search(rf"Embedding: 100%.*\b{files}/{files} \[.*\d+ chunks", err), err[-500:]
