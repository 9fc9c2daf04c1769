"""Extractive, cited question answering over a news archive.

```python
from qa import Engine
engine = Engine.build(corpus="corpus", index="index")
answer = engine.ask("Who is smuggling minerals into China?", k=5)
```

The package's public names. Importing it sets the offline, quiet environment of
``qa/environment.py`` (as defaults) before its other modules load.
"""
from __future__ import annotations

from . import environment

# First: every ``import qa.x`` runs this file before x, so whatever x imports later (torch,
# transformers, gradio) reads these variables; nothing below imports those libraries.
environment.apply()

from .engine import Engine  # noqa: E402
from .settings import Settings  # noqa: E402
from .store import IndexProblem  # noqa: E402
from .types import Answer, BuildReport, Chunk, Document, FileResult, Passage  # noqa: E402

__all__ = ["Answer", "BuildReport", "Chunk", "Document", "Engine", "FileResult", "IndexProblem",
           "Passage", "Settings"]
