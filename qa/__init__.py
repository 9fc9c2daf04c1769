"""Extractive, cited question answering over a news archive.

```python
from qa import Engine
engine = Engine.build(corpus="corpus", index="index")
answer = engine.ask("Who is smuggling minerals into China?", k=5)
```
"""
from __future__ import annotations

from .engine import Engine
from .settings import Settings
from .store import IndexProblem
from .types import Answer, BuildReport, Chunk, Document, FileResult, Passage

__all__ = ["Answer", "BuildReport", "Chunk", "Document", "Engine", "FileResult", "IndexProblem",
           "Passage", "Settings"]
