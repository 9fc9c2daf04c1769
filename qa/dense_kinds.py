"""Which dense index kind a generation gets and holds: chosen by size for a build, by the
manifest's ``vector_index.type`` on opening."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .dense import FILE, DenseIndex
from .dense_flat import FlatIndex
from .dense_ivf import IvfIndex
from .index_files import IndexProblem

KINDS: dict[str, type[DenseIndex]] = {kind.kind: kind for kind in (FlatIndex, IvfIndex)}


def plan(count: int, settings) -> dict[str, Any]:
    """The manifest's ``vector_index`` for a generation of ``count`` vectors: exact search
    below ``settings.ann_min_chunks``, IVF-Flat from there on."""
    return (FlatIndex if count < settings.ann_min_chunks else IvfIndex).plan(count)


def kind_of(index) -> type[DenseIndex] | None:
    """The kind of a FAISS index, None for one no kind holds."""
    import faiss

    index = faiss.downcast_index(index)
    return next((kind for kind in KINDS.values() if kind.holds(index)), None)


def kind_name(index) -> str:
    kind = kind_of(index)
    return kind.kind if kind is not None else type(index).__name__


def write(folder: Path, vectors: np.ndarray, plan: dict[str, Any] | None = None,
          start_from=None) -> dict[str, Any]:
    """Build and write the index ``plan`` names; returns the plan as built (the manifest's
    ``vector_index``). ``start_from``: see ``DenseIndex.build``."""
    plan = dict(plan or {"type": FlatIndex.kind})
    kind = KINDS.get(plan["type"])
    if kind is None:
        raise ValueError(f"Unknown vector index type {plan['type']!r}: use one of {', '.join(KINDS)}")
    vectors = np.ascontiguousarray(vectors, dtype="float32")
    kind.build(vectors, plan, start_from).write(folder, vectors)
    return plan


def read(folder: Path, dim: int, count: int, kind: str | None = None, mapped: bool = True):
    """The FAISS index of a generation, checked against the manifest's dimension, count and
    kind (None: any kind, read as a flat one). ``mapped``: see ``DenseIndex.read_flags``."""
    import faiss

    path = folder / FILE
    chosen = KINDS.get(kind or FlatIndex.kind)
    if chosen is None:
        raise IndexProblem(f'Index file {path} is of a kind this program does not read ({kind!r}): '
                           'run "qa build" to rebuild the index')
    if not path.exists():
        raise IndexProblem(f'Index file {path} is missing: run "qa build" to rebuild the index')
    try:
        index = faiss.read_index(str(path), chosen.read_flags(mapped))
    except RuntimeError as exc:
        raise IndexProblem(f'Index file {path} is damaged: run "qa build" to rebuild the index') from exc
    if index.d != dim or index.ntotal != count:
        raise IndexProblem(
            f"Index file {path} holds {index.ntotal} vectors of dimension {index.d}, the manifest says "
            f'{count} of {dim}: run "qa build" to rebuild the index')
    if kind is not None and not chosen.holds(faiss.downcast_index(index)):
        raise IndexProblem(f'Index file {path} is a {kind_name(index)} index, the manifest says {kind}: '
                           'run "qa build" to rebuild the index')
    return index


def open_dense(folder: Path, dim: int, count: int, kind: str | None = None, mapped: bool = True,
               nprobe: int = 64) -> DenseIndex:
    """``read``, as the kind's ``DenseIndex`` searching ``nprobe`` cells where it has cells."""
    index = read(folder, dim, count, kind, mapped)
    return (kind_of(index) or FlatIndex)(index, nprobe=nprobe)


def rows_of(folder: Path, index, in_memory: bool = False):
    """The chunk vectors of a generation in row order (``DenseIndex.rows``)."""
    return (kind_of(index) or FlatIndex)(index).rows(folder, in_memory)
