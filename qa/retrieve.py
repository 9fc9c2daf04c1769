"""Retrieval: dense (FAISS), BM25 and their fusion, over the chunks a filter allows."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import BM25
from .store import DocMeta


@dataclass
class Candidates:
    """Chunk rows with their fused score and the two raw scores, best first."""

    rows: np.ndarray
    scores: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray


def doc_mask(meta: list[DocMeta], filters: dict | None) -> np.ndarray | None:
    """Which documents a filter allows (None: all of them).

    Filters: ``source`` (doc-id prefix, or a list of them), ``publisher`` (a name or a list),
    ``after``/``before`` (ISO dates, inclusive; documents without a date are left out).
    """
    if not filters:
        return None
    unknown = set(filters) - {"source", "publisher", "after", "before"}
    if unknown:
        raise ValueError(f"Unknown filter {sorted(unknown)}: use source, publisher, after, before")
    mask = np.ones(len(meta), dtype=bool)
    sources = _as_list(filters.get("source"))
    if sources:
        mask &= np.array([any(m.doc_id.startswith(s) for s in sources) for m in meta], dtype=bool)
    publishers = {p.casefold() for p in _as_list(filters.get("publisher"))}
    if publishers:
        mask &= np.array([(m.publisher or "").casefold() in publishers for m in meta], dtype=bool)
    after, before = _date(filters.get("after"), "after"), _date(filters.get("before"), "before")
    if after or before:
        dates = [(m.published or "")[:10] for m in meta]
        mask &= np.array([bool(d) and (not after or d >= after) and (not before or d <= before)
                          for d in dates], dtype=bool)
    return mask


def _as_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def _date(value, name: str) -> str | None:
    if not value:
        return None
    text = str(value).strip()
    import datetime

    try:
        return datetime.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise ValueError(f"Filter {name!r} must be a date like 2019-01-31, not {text!r}") from None


class Retriever:
    """Scores chunks for a query vector and query text.

    Args:
        index: a flat inner-product FAISS index of normalised chunk vectors.
        vectors: the same vectors as a numpy array (used for filtered search).
        bm25: the lexical index over the same chunk rows.
        chunk_doc: the document position of every chunk row.
    """

    def __init__(self, index, vectors: np.ndarray, bm25: BM25, chunk_doc: np.ndarray) -> None:
        self.index = index
        self.vectors = vectors
        self.bm25 = bm25
        self.chunk_doc = chunk_doc

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def dense(self, qvec: np.ndarray, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` chunk rows by cosine similarity (rows, scores)."""
        if self.size == 0 or n <= 0:
            return np.zeros(0, dtype="int64"), np.zeros(0, dtype="float32")
        if allowed is None:
            scores, rows = self.index.search(qvec.reshape(1, -1), min(n, self.size))
            keep = rows[0] >= 0
            return rows[0][keep].astype("int64"), scores[0][keep]
        ids = np.flatnonzero(allowed)
        sims = self.vectors[ids] @ qvec.ravel()
        top = _top(sims, n)
        return ids[top], sims[top]

    def lexical(self, text: str, n: int, allowed: np.ndarray | None,
                weights: dict[str, float] | None = None,
                scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` chunk rows by BM25 (rows, scores); rows without a matching term are left out."""
        if scores is None:
            scores = self.bm25.scores(text, weights)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        top = _top(scores, n)
        top = top[scores[top] > 0]
        return top.astype("int64"), scores[top]

    def similarity(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.vectors[rows] @ qvec.ravel() if len(rows) else np.zeros(0, dtype="float32")

    def search(self, qvec: np.ndarray, text: str, mode: str, n: int, allowed_docs: np.ndarray | None,
               dense_weight: float, weights: dict[str, float] | None = None) -> Candidates:
        allowed = None if allowed_docs is None else allowed_docs[self.chunk_doc]
        if mode == "dense":
            rows, dense = self.dense(qvec, n, allowed)
            return Candidates(rows, dense.copy(), dense, np.zeros_like(dense))
        if mode == "bm25":
            rows, lex = self.lexical(text, n, allowed, weights)
            dense = self.similarity(qvec, rows)
            return Candidates(rows, lex / lex.max() if len(lex) else lex, dense, lex)
        all_lex = self.bm25.scores(text, weights)
        d_rows, _ = self.dense(qvec, n, allowed)
        l_rows, _ = self.lexical(text, n, allowed, scores=all_lex)
        rows = np.union1d(d_rows, l_rows)
        dense = self.similarity(qvec, rows)
        lex = all_lex[rows]
        top_lex = float(lex.max()) if len(lex) else 0.0
        lex_norm = lex / top_lex if top_lex > 0 else lex
        fused = dense_weight * dense + (1 - dense_weight) * lex_norm
        order = np.argsort(-fused, kind="stable")
        return Candidates(rows[order], fused[order], dense[order], lex[order])


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, highest first."""
    if len(scores) == 0 or n <= 0:
        return np.zeros(0, dtype="int64")
    if n < len(scores):
        part = np.argpartition(-scores, n - 1)[:n]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]
