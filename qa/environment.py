"""The process environment the model and web libraries need: offline, quiet, no telemetry.

Hugging Face, tokenizers and Gradio read these variables when they are imported, so they are
set before: ``qa/__init__.py`` applies them as defaults (every ``import qa.x`` runs it first,
and it imports none of those libraries), and ``serve.py`` applies them over the caller's values.
"""
from __future__ import annotations

import os
from typing import MutableMapping

QUIET: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",  # the model is a local directory: nothing to fetch or check
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # model loads print nothing
    # The tokenizer's own threads would fight the encoder's for 2 cores, and warn after a fork.
    "TOKENIZERS_PARALLELISM": "false",
    "GRADIO_ANALYTICS_ENABLED": "False",  # the web app reports nothing to Gradio
}


def apply(*, force: bool = False, environ: MutableMapping[str, str] = os.environ) -> None:
    """Set :data:`QUIET` in ``environ``: as defaults (a value already set wins), or over any
    value when ``force`` (a server that must never phone home)."""
    for name, value in QUIET.items():
        if force:
            environ[name] = value
        else:
            environ.setdefault(name, value)
