"""Retrieval: dense (FAISS), BM25 and their fusion, over the chunks a filter allows."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import BM25
from .store import DocMeta


@dataclass
class Candidates:
    """Chunk rows with their fused score, raw scores and sentence scores, best first."""

    rows: np.ndarray
    scores: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    sentences: "SentenceTable"  # per row: (sentence ids, cosines, BM25 scores)
    confidence: np.ndarray  # the hybrid blend, whatever the mode: the abstention signal


class SentenceTable:
    """The sentences of candidates in ranked order: ``table[i]`` is (ids, cosines, BM25 scores)
    of the i-th candidate, cut out only when asked for (the passages ask for k of ~180)."""

    def __init__(self, ids: np.ndarray, per_chunk: np.ndarray, sims: np.ndarray, lex: np.ndarray,
                 order: np.ndarray) -> None:
        self.ids, self.sims, self.lex = ids, sims, lex
        ends = np.cumsum(per_chunk)
        self.starts, self.ends = (ends - per_chunk)[order], ends[order]

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = int(self.starts[i]), int(self.ends[i])
        return self.ids[a:b], self.sims[a:b], self.lex[a:b]

    def best_lexical(self) -> float:
        """The highest sentence BM25 among all candidates."""
        return float(self.lex.max()) if len(self.lex) else 0.0


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
        index: a FAISS index of normalised chunk vectors, inner product: flat (exact) or IVF-Flat.
        vectors: the same vectors in row order (anything indexable by rows): the cosines of
            candidates FAISS did not return, and filtered search.
        bm25: the lexical index over the same chunk rows.
        chunk_doc: the document position of every chunk row.
        sentences: rows ``(chunk row, doc start, doc end)``, grouped by chunk row.
        sentence_vectors: one vector per sentence, pooled from its chunk's tokens
            (``store.SentenceVectors``).
        sentence_bm25: term counts per sentence (its IDF is the chunk index's).
        pair_bm25: counts of adjacent word pairs per chunk.
        nprobe: the IVF cells searched per question (an IVF index only).
    """

    def __init__(self, index, vectors: np.ndarray, bm25: BM25, chunk_doc: np.ndarray,
                 sentences: np.ndarray, sentence_vectors: np.ndarray, sentence_bm25: BM25,
                 pair_bm25: BM25, nprobe: int = 64) -> None:
        import faiss

        # One query at a time: FAISS's OpenMP threads cost more than they give and fight
        # torch's (100k chunks: ask p50 47 -> 29 ms with one thread, benchmarks/bench_query.py);
        # concurrent questions use the other core.
        faiss.omp_set_num_threads(1)
        self.index = index
        # IVF: the cells searched, passed per call (concurrent asks share the index).
        self.params = faiss.SearchParametersIVF(nprobe=nprobe) \
            if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else None
        self.vectors = vectors
        self.bm25 = bm25
        self.chunk_doc = chunk_doc
        self.sentences = sentences
        self.sentence_vectors = sentence_vectors
        self.sentence_bm25 = sentence_bm25
        self.pair_bm25 = pair_bm25
        self.sentence_bounds = np.searchsorted(np.asarray(sentences[:, 0]), np.arange(len(chunk_doc) + 1))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def dense(self, qvec: np.ndarray, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` chunk rows by cosine similarity (rows, scores)."""
        if self.size == 0 or n <= 0:
            return np.zeros(0, dtype="int64"), np.zeros(0, dtype="float32")
        if allowed is None:
            k = min(n, self.size)
            if self.params is not None:
                scores, rows = self.index.search(qvec.reshape(1, -1), k, params=self.params)
            else:
                scores, rows = self.index.search(qvec.reshape(1, -1), k)
            keep = rows[0] >= 0
            return rows[0][keep].astype("int64"), scores[0][keep]
        ids = np.flatnonzero(allowed)
        sims = self.vectors[ids] @ qvec.ravel()
        top = _top(sims, n)
        return ids[top], sims[top]

    def query_terms(self, text: str, term_weights: dict[str, float] | None = None
                    ) -> tuple[dict[int, float], dict[int, float]]:
        """The query's terms (for chunks and sentences) and word pairs, as BM25 columns."""
        return self.bm25.query_terms(text, term_weights), self.pair_bm25.query_terms(text)

    def prefetch(self, terms: tuple[dict[int, float], dict[int, float]]) -> None:
        """Start reading the posting lists a search for ``terms`` will read (see ``BM25.prefetch``)."""
        words, pairs = terms
        self.bm25.prefetch(words)
        self.pair_bm25.prefetch(pairs)

    def sentence_scores(self, rows: np.ndarray, qvec: np.ndarray, terms: dict[int, float]):
        """Per candidate chunk: its sentence ids, their cosine and their BM25 with the query."""
        lo, hi = self.sentence_bounds[rows], self.sentence_bounds[rows + 1]
        ids = _ranges(lo, hi)
        sims = self.sentence_vectors.dot(ids, qvec) if len(ids) else np.zeros(0, dtype="float32")
        lex = self.sentence_bm25.scores_of(terms, ids, idf=self.bm25.idf)
        return ids, hi - lo, sims, lex

    def search(self, qvec: np.ndarray, text: str, mode: str, n: int, allowed_docs: np.ndarray | None,
               weights: tuple[float, float, float, float, float],
               term_weights: dict[str, float] | None = None,
               terms: tuple[dict[int, float], dict[int, float]] | None = None) -> Candidates:
        """Candidate chunks, best first, scored by ``mode``.

        ``hybrid`` blends five signals, each in [0, 1]-ish: chunk cosine, best-sentence cosine,
        chunk BM25, best-sentence BM25 and word-pair BM25 (BM25s divided by their best among
        the candidates). ``terms``: ``query_terms(text, term_weights)`` if already made.
        """
        allowed = None if allowed_docs is None else allowed_docs[self.chunk_doc]
        terms, pair_terms = terms or self.query_terms(text, term_weights)  # the query is tokenised once
        found, cosines = np.zeros(0, dtype="int64"), np.zeros(0, dtype="float32")
        if mode == "dense":
            rows, _ = self.dense(qvec, n, allowed)
            lex = self.bm25.scores_in_ranges(terms, rows, rows + 1)
        else:
            if mode != "bm25":
                # First, as in the floor: an IVF search streams tens of MB through the CPU
                # caches, which would evict the BM25 sums between their making and their use.
                found, cosines = self.dense(qvec, n, allowed)
            lists = self.bm25.lists(terms)  # read once: the top rows by BM25 and any row's score
            try:
                top = lists.top(n, allowed)
                rows = top if mode == "bm25" else np.union1d(found, top)
                lex = lists.of(rows)
            finally:
                lists.release()
        # The cosines: those the dense search gave, the others from the rows' vectors.
        dense = np.empty(len(rows), dtype="float32")
        known = np.zeros(len(rows), dtype=bool)
        known[np.searchsorted(rows, found)] = True
        dense[known] = cosines[np.argsort(found)]
        if not known.all():
            dense[~known] = self.vectors[rows[~known]] @ qvec.ravel()
        sent_ids, per_chunk, sent_sims, sent_lex = self.sentence_scores(rows, qvec, terms)
        starts = np.concatenate([[0], np.cumsum(per_chunk)[:-1]]).astype("int64")
        best_sim = np.maximum.reduceat(sent_sims, starts) if len(sent_sims) else dense
        best_lex = np.maximum.reduceat(sent_lex, starts) if len(sent_lex) else lex
        pairs = self.pair_bm25.scores_in_ranges(pair_terms, rows, rows + 1)
        wd, ws, wl, wsl, wp = weights
        blend = wd * dense + ws * best_sim + wl * _scaled(lex) + wsl * _scaled(best_lex) + wp * _scaled(pairs)
        fused = {"dense": dense, "bm25": _scaled(lex)}.get(mode, blend)
        order = np.argsort(-fused, kind="stable")
        return Candidates(rows[order], fused[order], dense[order], lex[order],
                          SentenceTable(sent_ids, per_chunk, sent_sims, sent_lex, order), blend[order])


def _scaled(scores: np.ndarray) -> np.ndarray:
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``lo[0]..hi[0]-1, lo[1]..hi[1]-1, ...`` in one array."""
    sizes = hi - lo
    return np.repeat(lo - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, highest first."""
    if len(scores) == 0 or n <= 0:
        return np.zeros(0, dtype="int64")
    if n < len(scores):
        part = np.argpartition(-scores, n - 1)[:n]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]
