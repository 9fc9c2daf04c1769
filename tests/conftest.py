"""Fixtures any test module may use without importing them.

- ``encoder``, ``sample_index``, ``sample_engine``: the real model and a read-only index of
  the sample corpus, built once per run (defined in ``engine_fixtures``, re-exported here);
- ``browser``: Debian's Chromium driven by Playwright, launched once per run.
"""
from __future__ import annotations

import os
from pathlib import Path

# Before anything imports gradio or torch: no telemetry, no hub, no progress bars.
from qa import environment

environment.apply()

import pytest  # noqa: E402
from engine_fixtures import encoder, sample_engine, sample_index  # noqa: E402,F401

CHROMIUM = Path(os.environ.get("QA_CHROMIUM", "/usr/bin/chromium"))
# Quiet, offline-friendly Chromium: no background fetches of its own, so every request the
# page makes is the app's.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Debian's package, never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: apt-get install chromium (or set QA_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
