"""The qa command as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from engine_fixtures import ROOT, sample_index  # noqa: F401

pytestmark = pytest.mark.model


def qa(*args, env=None):
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_ask_prints_numbered_citations(sample_index):
    out = qa("ask", "How do Chinese ships contact North Korean vessels at sea?", "--index", str(sample_index))
    assert out.returncode == 0, out.stderr
    assert "[1]" in out.stdout and "004_12c742a49eb0f3d4.txt" in out.stdout


def test_ask_json(sample_index):
    out = qa("ask", "seafood smuggling", "--index", str(sample_index), "--json", "-k", "3")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["passages"]) == 3 and "abstained" in data


def test_missing_index_says_run_qa_build(tmp_path):
    out = qa("ask", "anything", "--index", str(tmp_path / "none"))
    assert out.returncode == 2
    assert 'run "qa build"' in out.stderr and "Traceback" not in out.stderr


def test_empty_question_is_refused_cleanly(sample_index):
    out = qa("ask", "  ", "--index", str(sample_index))
    assert out.returncode == 2 and "empty" in out.stderr and "Traceback" not in out.stderr


def test_build_prints_a_summary(tmp_path):
    out = qa("build", "--corpus", str(ROOT / "corpus"), "--index", str(tmp_path / "idx"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "5 added" in out.stdout and "chunks" in out.stdout
    again = qa("build", "--corpus", str(ROOT / "corpus"), "--index", str(tmp_path / "idx"), "--quiet")
    assert again.returncode == 0, again.stderr
    assert "5 unchanged" in again.stdout and "(0 embedded" in again.stdout
