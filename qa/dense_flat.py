"""The flat dense index kind: exact inner-product search over every vector."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .dense import DenseIndex, copy, reusable


class FlatIndex(DenseIndex):
    """Exact search (``IndexFlatIP``); its vectors are the index's own memory, no second file."""

    kind = "flat"
    faiss_class = "IndexFlat"

    @classmethod
    def plan(cls, count: int) -> dict[str, Any]:
        return {"type": cls.kind}

    @classmethod
    def build(cls, vectors: np.ndarray, plan: dict[str, Any], start_from=None) -> "FlatIndex":
        import faiss

        old = reusable(cls, start_from, len(vectors))
        if old is not None:
            plan["reused"] = int(old.ntotal)
            built = cls(copy(old))
            built.add(vectors[old.ntotal:])
        else:
            built = cls(faiss.IndexFlatIP(vectors.shape[1]))
            built.add(vectors)
        return built

    @classmethod
    def read_flags(cls, mapped: bool) -> int:
        # Mapped: no copy (a build reading the previous generation). Read: the engine scans
        # every vector at every question, and mapped pages may be dropped between questions.
        import faiss

        return faiss.IO_FLAG_MMAP_IFC if mapped else 0

    def rows(self, folder: Path, in_memory: bool) -> np.ndarray:
        return flat_vectors(self.index)


def flat_vectors(index) -> np.ndarray:
    """The vectors of a flat FAISS index as a numpy view (no copy): keep ``index`` alive while
    it is used."""
    import faiss

    flat = faiss.downcast_index(index)  # a second handle: ``index`` still owns the C++ object
    if flat.ntotal == 0:
        return np.zeros((0, flat.d), dtype="float32")
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
