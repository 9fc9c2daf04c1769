"""BM25's posting lists and one question's sums over them.

The build stores, for chunks and word pairs, the counts of each term in column order (posting
lists) with each posting's BM25 term weight (``term_weight``); a question reads only the lists
of its own terms (``PostingLists``), which the engine asks the kernel for (``prefetch``) before
it encodes the question, and sums them into every row's score and its top rows (``QueryLists``).
"""
from __future__ import annotations

import os
import threading
from typing import Iterable, Protocol, Sequence

import numpy as np
import scipy.sparse as sp

from .index_files import IndexProblem, huge_pages

try:  # scipy's C loop of a sparse matrix times a vector, summing into an array in place
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
except ImportError:  # pragma: no cover - a scipy that moved it: bincount, the same sums
    _csc_matvec = None


def term_weight(counts: np.ndarray, norms: np.ndarray, k1: float,
                weight: float | np.ndarray | None = None) -> np.ndarray:
    """BM25's share of each posting in its row's score: ``weight · tf·(k1+1)/(tf+norm)``, float32.

    Args:
        counts: the postings' term frequencies (tf, any integer type).
        norms: their rows' length normalisation (``row_norms``), float32.
        k1: BM25's k1.
        weight: the query's weight of the term (qtf · idf): one number for a whole posting list,
            or one per posting; None for the bare term weight the build stores per posting.

    One number is multiplied into (k1+1) before it meets the postings (one product per list, not
    per posting); one per posting meets tf first. The two orders round apart by a unit in the
    last place: each is the one its caller has always used, so no score moves by a bit.
    """
    tf = counts.astype("float32")
    if weight is None:
        return tf * np.float32(k1 + 1) / (tf + norms)
    if np.ndim(weight) == 0:
        return (weight * (k1 + 1)) * tf / (tf + norms)
    return weight * tf * (k1 + 1) / (tf + norms)


class PostingLists:
    """Posting lists by column: the rows holding each term (ascending) and their counts.

    In memory (made from a count matrix), or read from the build's files by ``pread`` for the
    columns a question asks for. Reading, not mapping: a mapped posting list stays counted in
    the server's memory once touched (1M chunks: +1.25 GB after 200 questions), a read one is
    gone with the question. ``prefetch`` asks the kernel for them ahead of time.
    """

    def __init__(self, indptr: np.ndarray, rows: np.ndarray | None = None, counts: np.ndarray | None = None,
                 files: Sequence[tuple[int, int]] = ()) -> None:
        self.indptr = indptr
        self._rows, self._counts = rows, counts
        # (descriptor, offset of the first item) of the rows, counts and, if stored, impacts files
        self._files = list(files)

    @property
    def has_impacts(self) -> bool:
        """Whether each posting's BM25 term weight was stored by the build (see ``save_counts``)."""
        return len(self._files) == 3

    @property
    def rows(self) -> np.ndarray | None:
        """Every posting's row (int32), list after list: in memory only (None when read from files)."""
        return self._rows

    @property
    def counts(self) -> np.ndarray | None:
        """Every posting's count (int32), list after list: in memory only (None when read from files)."""
        return self._counts

    @classmethod
    def of(cls, counts: sp.csr_matrix) -> "PostingLists":
        by_term = counts.tocsc()
        by_term.sort_indices()
        return cls(by_term.indptr, by_term.indices.astype("int32"), by_term.data.astype("int32"))

    def get(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (int32, ascending) and counts (int32) of column ``col``."""
        lo, hi = int(self.indptr[col]), int(self.indptr[col + 1])
        if not self._files:
            return self._rows[lo:hi], self._counts[lo:hi]
        return self._read(0, lo, hi, "int32"), self._read(1, lo, hi, "int32")

    def get_impacts(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and the stored BM25 term weights (float32) of column ``col`` (``has_impacts``)."""
        rows, weights = np.empty(self.length(col), dtype="int32"), np.empty(self.length(col), dtype="float32")
        self.read_into(col, rows, weights)
        return rows, weights

    def length(self, col: int) -> int:
        return int(self.indptr[col + 1] - self.indptr[col])

    def read_into(self, col: int, rows: np.ndarray, values: np.ndarray) -> None:
        """Rows (int32) and stored BM25 term weights (float32, ``has_impacts``) of column
        ``col`` into ``rows`` and ``values``, each ``length(col)`` long."""
        lo, hi = int(self.indptr[col]), int(self.indptr[col + 1])
        self._read(0, lo, hi, "int32", rows)
        self._read(2, lo, hi, "float32", values)

    def _read(self, which: int, lo: int, hi: int, dtype: str, part: np.ndarray | None = None) -> np.ndarray:
        """Items ``lo:hi`` of file ``which``, into ``part`` if given."""
        fd, offset = self._files[which]
        if part is None:
            part = np.empty(hi - lo, dtype=dtype)
        if hi > lo and os.preadv(fd, [part], offset + 4 * lo) != part.nbytes:
            raise IndexProblem('A posting list file of the index was cut short while open: run "qa build"')
        return part

    def prefetch(self, cols: Iterable[int]) -> None:
        """Ask the kernel for the rows of ``cols`` and what scores them (impacts, else counts)."""
        files = [self._files[0], self._files[2 if self.has_impacts else 1]] if self._files else []
        for col in cols:
            lo, hi = int(self.indptr[col]), int(self.indptr[col + 1])
            for fd, offset in files:
                if hi > lo:
                    os.posix_fadvise(fd, offset + 4 * lo, 4 * (hi - lo), os.POSIX_FADV_WILLNEED)


class _Zeros:
    """Float32 arrays of one length, kept between questions and zeroed when taken.

    A question's BM25 adds up in an array of one float per chunk. A new one is new memory, and
    faulting in its pages took 0.7 ms a question at 1M chunks, more than the sums themselves.
    A kept array is zeroed when the next question takes it, not when the last one gives it
    back: zeroed at the end of a question, its 4 MB (1M chunks) left the CPU caches while the
    next question was encoded, and the sums then fetched them from memory again (1M chunks,
    lists read, summed and ranked after an encode: 1.6-1.7 -> 1.0-1.15 ms p50, one-off script).
    The arrays are in transparent huge pages where the kernel gives them (see
    ``store.huge_pages``): the sums touch every part of them, and so every page.
    """

    def __init__(self, keep: int = 4) -> None:
        self._free: list[np.ndarray] = []
        self._keep = keep
        self._lock = threading.Lock()

    def take(self, size: int) -> np.ndarray:
        with self._lock:
            kept = [i for i, a in enumerate(self._free) if len(a) == size]
            array = self._free.pop(kept[0]) if kept else None
        if array is None:
            return huge_pages(size * 4).view("float32")  # fresh anonymous memory is zeros
        array.fill(0.0)
        return array

    def give(self, array: np.ndarray) -> None:
        with self._lock:
            self._free = [a for a in self._free if len(a) == len(array)][-(self._keep - 1):] + [array]


_ZEROS = _Zeros()


class Scoring(Protocol):
    """What a question's sums read of a BM25 index (``qa.bm25.BM25``, which imports this module)."""

    k1: float
    idf: np.ndarray  # by column
    norm: np.ndarray  # by row: ``row_norms``

    @property
    def postings(self) -> PostingLists: ...

    @property
    def size(self) -> int: ...


class QueryLists:
    """One question's BM25: every row's score, and the top rows found without ranking every row.

    The posting lists of the question's terms are read once; each posting's share of its row's
    score (qtf · idf · tf·(k1+1)/(tf+norm)) is summed per row. The top ``n``
    rows are looked for among the rows of the terms that can add the most to one row, taken in
    that order until the terms left could not lift a row none of the taken ones reach above the
    n-th best so far (MaxScore's bound). At 1M chunks a question's frequent terms post to
    ~150k rows; ranking the ~13k rows of its rarer terms gives the same top rows as ranking
    every row (a test checks it).
    """

    def __init__(self, bm25: Scoring, terms: dict[int, float]) -> None:
        postings = bm25.postings
        cols = [(col, qtf) for col, qtf in terms.items() if postings.length(col)]
        starts = np.zeros(len(cols) + 1, dtype="int32")
        np.cumsum([postings.length(col) for col, _ in cols], out=starts[1:])
        # The lists, end to end: rows (ascending within a list) and what each posting gives its
        # row before the term's query weight (its stored tf·(k1+1)/(tf+norm)).
        rows, impacts = np.empty(starts[-1], dtype="int32"), np.empty(starts[-1], dtype="float32")
        for (col, _), a, b in zip(cols, starts[:-1], starts[1:]):
            if postings.has_impacts:
                postings.read_into(col, rows[a:b], impacts[a:b])
            else:
                posted, tf = postings.get(col)
                rows[a:b], impacts[a:b] = posted, term_weight(tf, bm25.norm[posted], bm25.k1)
        weights = np.array([np.float32(qtf * bm25.idf[col]) for col, qtf in cols], dtype="float32")
        self.lists = [rows[a:b] for a, b in zip(starts[:-1], starts[1:])]
        self.bounds = np.array([float(impacts[a:b].max() * w) for a, b, w in zip(starts[:-1], starts[1:], weights)])
        # Every row's score: the lists are the columns of a sparse matrix, and its product with
        # the query weights is scipy's own C loop, summing straight into a kept array (at 1M
        # chunks ~150k postings, 0.4 ms after the encode has emptied the CPU caches; np.bincount
        # took twice that, its fresh array's page faults as much again).
        self.scores = _ZEROS.take(bm25.size)
        if _csc_matvec is not None and cols:
            _csc_matvec(bm25.size, len(cols), starts, rows, impacts, weights, self.scores)
        elif cols:
            self.scores += np.bincount(rows, weights=impacts * np.repeat(weights, np.diff(starts)),
                                       minlength=bm25.size).astype("float32")

    def release(self) -> None:
        """Done with this question: its score array goes back to be used again (optional)."""
        scores, self.scores = self.scores, None
        if scores is not None:
            _ZEROS.give(scores)

    def of(self, rows: np.ndarray) -> np.ndarray:
        """The BM25 score (float32) of each of ``rows``."""
        return self.scores[rows]

    def top(self, n: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """The ``n`` rows with the highest BM25 (among ``allowed`` rows), best first; rows that
        no term reaches are left out."""
        if n <= 0 or not self.lists:
            return np.zeros(0, dtype="int64")
        bounds = self.bounds
        order = np.argsort(-bounds, kind="stable")
        # What the terms after the i-th could give one row at most, and a hair more: a row's
        # float32 sum of m shares may round up by m parts in 2^24.
        rest = np.append(np.cumsum(bounds[order][::-1])[::-1][1:], 0.0) * (1 + 1e-7 * (len(order) + 10))
        taken: list[np.ndarray] = []
        for i, t in enumerate(order):
            taken.append(self.lists[t])
            if rest[i] > 0 and sum(len(r) for r in taken) < n:
                continue
            if len(taken) == 1:
                rows = taken[0]
            else:
                # Each list is ascending: timsort merges the runs (at 1M, 18k rows: 50 us against
                # 470 us for the default introsort, the same rows).
                rows = np.sort(np.concatenate(taken), kind="stable")
                rows = rows[np.append(True, rows[1:] != rows[:-1])]  # a row of two lists, once
            if allowed is not None:
                rows = rows[allowed[rows]]
            if rest[i] == 0:
                break
            if len(rows) >= n and rest[i] < np.partition(self.scores[rows], len(rows) - n)[len(rows) - n]:
                break  # a row outside ``rows`` scores at most rest[i]: below n rows already seen
        scores = self.scores[rows]
        hits = scores > 0
        rows, scores = rows[hits], scores[hits]
        if n < len(scores):
            part = np.argpartition(-scores, n - 1)[:n]
        else:
            part = np.arange(len(scores))
        return rows[part[np.argsort(-scores[part], kind="stable")]].astype("int64")
