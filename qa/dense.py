"""The interface of a dense index kind: what every kind of FAISS index a generation may hold does.

A kind is one short class (``dense_flat.FlatIndex``, ``dense_ivf.IvfIndex``); the manifest's
``vector_index.type`` names it and ``dense_kinds`` chooses it. Adding a kind (IVF-PQ, say) is
one more such class and one line in ``dense_kinds.KINDS``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

FILE = "vectors.faiss"


class Hits(NamedTuple):
    """What a search found: rows (-1 where fewer were found) and their scores, best first."""

    rows: np.ndarray
    scores: np.ndarray


class DenseIndex(ABC):
    """A generation's chunk vectors in one FAISS index of one kind (inner product, normalised).

    Wraps the FAISS index (``index``) rather than hiding it: a build hands the previous
    generation's index to the next as ``start_from``.
    """

    kind: ClassVar[str]  # the manifest's ``vector_index.type``
    faiss_class: ClassVar[str]  # the FAISS class of an index of this kind

    def __init__(self, index, nprobe: int = 64) -> None:
        self.index = index

    @classmethod
    @abstractmethod
    def plan(cls, count: int) -> dict[str, Any]:
        """The manifest's ``vector_index`` for a new index of ``count`` vectors."""

    @classmethod
    def holds(cls, index) -> bool:
        """Whether the (downcast) FAISS ``index`` is of this kind."""
        import faiss

        return isinstance(index, getattr(faiss, cls.faiss_class))

    @classmethod
    @abstractmethod
    def build(cls, vectors: np.ndarray, plan: dict[str, Any], start_from=None) -> "DenseIndex":
        """An index of ``vectors`` (float32, contiguous): trained, or a copy of ``start_from``
        with the new rows added when it can be reused; ``plan`` is updated to what was built."""

    @abstractmethod
    def rows(self, folder: Path, in_memory: bool):
        """The vectors in row order, indexable by an array of rows."""

    @classmethod
    def read_flags(cls, mapped: bool) -> int:
        """FAISS's IO flags for reading this kind (``mapped``: without copying, where it can)."""
        return 0

    def add(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self.index.add(vectors)

    def search(self, query: np.ndarray, k: int) -> Hits:
        """The ``k`` nearest to each query row."""
        scores, rows = self.index.search(query, k)
        return Hits(rows, scores)

    def write(self, folder: Path, vectors: np.ndarray) -> None:
        import faiss

        faiss.write_index(self.index, str(folder / FILE))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)


def reusable(cls: type[DenseIndex], start_from, count: int):
    """``start_from`` downcast, when it is of kind ``cls`` and holds at most ``count`` vectors
    (the first rows of the new ones); else None."""
    import faiss

    old = faiss.downcast_index(start_from) if start_from is not None else None
    return old if old is not None and cls.holds(old) and old.ntotal <= count else None


def copy(index):
    """A copy of ``index`` that owns its memory (the original may map its file)."""
    import faiss

    return faiss.deserialize_index(faiss.serialize_index(index))
