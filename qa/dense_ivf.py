"""The IVF-Flat dense index kind: k-means cells of exact vectors, a few cells searched per question.

Chosen past ``Settings.ann_min_chunks``. Measured against HNSW in ``benchmarks/bench_ann.py``:
on chunk-like vectors HNSW's recall@10 stopped at 0.83 at 1M, IVF's did not, so HNSW was dropped.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .dense import DenseIndex, Hits, copy, reusable
from .index_files import IndexProblem, RowReader

TRAIN_PER_LIST = 64  # k-means sample: 64 vectors per cell
REUSE_GROWTH = 4     # cells trained on n vectors serve appends up to 4n; past that, retrain
ROWS_FILE = "vectors.npy"


def ivf_lists(count: int) -> int:
    """IVF cells for ``count`` vectors: about 4 sqrt(count), FAISS's rule of thumb."""
    return max(16, int(4 * count ** 0.5))


class IvfIndex(DenseIndex):
    """``IndexIVFFlat``, inner product; ``nprobe`` cells searched per question. The generation
    also keeps its vectors in row order (``vectors.npy``) for a build to read back."""

    kind = "ivf"
    faiss_class = "IndexIVFFlat"

    def __init__(self, index, nprobe: int = 64) -> None:
        import faiss

        super().__init__(index)
        # Passed per call, not set on the index: concurrent asks share it.
        self.params = faiss.SearchParametersIVF(nprobe=nprobe)

    @classmethod
    def plan(cls, count: int) -> dict[str, Any]:
        return {"type": cls.kind, "nlist": ivf_lists(count)}

    @classmethod
    def build(cls, vectors: np.ndarray, plan: dict[str, Any], start_from=None) -> "IvfIndex":
        import faiss

        old = reusable(cls, start_from, len(vectors))
        if old is not None and (old.nlist / 4) ** 2 * REUSE_GROWTH < len(vectors):
            old = None  # its cells were made for a quarter of these vectors or fewer: train again
        if old is not None:
            plan["nlist"] = int(old.nlist)
            plan["reused"] = int(old.ntotal)
            built = cls(copy(old))
            built.add(vectors[old.ntotal:])
            return built
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # k-means and assignment use every core
        dim, nlist = vectors.shape[1], int(plan["nlist"])
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors if len(vectors) <= nlist * TRAIN_PER_LIST else \
            vectors[np.sort(rng.choice(len(vectors), size=nlist * TRAIN_PER_LIST, replace=False))]
        index.train(sample)
        built = cls(index)
        built.add(vectors)
        return built

    @classmethod
    def read_flags(cls, mapped: bool) -> int:
        return 0  # read whole: FAISS maps IVF lists only as on-disk lists, which it cannot copy

    def search(self, query: np.ndarray, k: int) -> Hits:
        scores, rows = self.index.search(query, k, params=self.params)
        return Hits(rows, scores)

    def write(self, folder: Path, vectors: np.ndarray) -> None:
        super().write(folder, vectors)
        np.save(folder / ROWS_FILE, vectors, allow_pickle=False)

    def rows(self, folder: Path, in_memory: bool):
        """``in_memory``: rows copied out of the index (``IvfRows``: the engine's scattered
        reads); else ``vectors.npy`` read by row (a build)."""
        if in_memory:
            return IvfRows(self.index)
        vectors = RowReader(folder / ROWS_FILE)
        if vectors.shape != (self.index.ntotal, self.index.d):
            raise IndexProblem(f'Index file {vectors.path} disagrees with vectors.faiss: run "qa build" to rebuild the index')
        return vectors


class IvfRows:
    """Rows of an IVF-Flat index's vectors, copied out of the index itself by row number.

    The index holds every vector in memory already; its direct map (8 bytes a row) finds them,
    where ``vectors.npy`` would cost a disk read per candidate a question re-scores.
    """

    def __init__(self, index) -> None:
        import faiss

        self.ivf = faiss.extract_index_ivf(index)
        self.ivf.make_direct_map()
        self.shape = (int(index.ntotal), int(index.d))
        self._index = index  # the IVF view lives as long as the index that owns it

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype="int64").ravel()
        if len(rows) == 0:
            return np.zeros((0, self.shape[1]), dtype="float32")
        if rows.min() < 0 or rows.max() >= self.shape[0]:
            raise IndexError(f"row out of range 0..{self.shape[0] - 1}")
        return self.ivf.reconstruct_batch(rows)

    def __array__(self, dtype=None, copy=None):
        whole = self[np.arange(self.shape[0])]
        return whole if dtype is None else whole.astype(dtype)
