"""Retrieval: dense (FAISS), BM25 and their blend, over the chunks a filter allows; and for each
candidate chunk, the sentence that best answers (the highlight)."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .dense import Hits
from .generation import Generation
from .lexical import tokenize
from .settings import Blend
from .timewords import TimePrior, published_days

if TYPE_CHECKING:
    from .postings import QueryLists

HISTORY_WEIGHT = 0.5  # how much terms only from an earlier question count in a follow-up's BM25 query
BESIDE_THREADS = 2  # the threads a hybrid search's BM25 runs in, beside its FAISS search
# ... when the question's posting lists hold at least this many postings; below, the handoff to a
# thread costs more than the overlap gives (benchmarks/bench_query.py, ask p50 over its floor,
# alternating runs: 10k chunks, 1,500 postings a question at the median, 1.24x -> 1.25-1.26x with
# the thread; 100k, 15k postings, 1.19x either way; 1M, 150k postings, 1.31-1.33x -> 1.27-1.30x).
BESIDE_POSTINGS = 50_000

_beside: ThreadPoolExecutor | None = None
_beside_lock = threading.Lock()


def _beside_pool() -> ThreadPoolExecutor:
    """The threads BM25 runs in beside the dense search, made on first use in each process."""
    global _beside
    if _beside is None:
        with _beside_lock:
            if _beside is None:
                _beside = ThreadPoolExecutor(BESIDE_THREADS, thread_name_prefix="qa-bm25")
    return _beside


def _forget_beside_pool() -> None:
    """In a forked child: the parent's threads are not there, nor a lock one of them held."""
    global _beside, _beside_lock
    _beside, _beside_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_beside_pool)


class QueryTerms(NamedTuple):
    """A query as BM25 columns: its terms (for chunks and sentences) and its word pairs."""

    words: dict[int, float]
    pairs: dict[int, float]


class SentenceScores(NamedTuple):
    """The sentences of some chunks: their ids, how many each chunk has, their cosines and BM25."""

    ids: np.ndarray
    per_chunk: np.ndarray
    sims: np.ndarray
    lex: np.ndarray


class BestSentence(NamedTuple):
    """A candidate's best sentence: its id and its span in the document's text."""

    id: int
    start: int
    end: int


@dataclass
class Candidates:
    """Chunk rows with their fused score, raw scores and sentence scores, best first."""

    rows: np.ndarray
    scores: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    sentences: "SentenceTable"  # per row: (sentence ids, cosines, BM25 scores)
    confidence: np.ndarray  # the hybrid blend, whatever the mode: the abstention signal
    signals: np.ndarray | None = None  # per row: the blend's five signals, as Blend orders them

    def best_sentence(self, i: int) -> BestSentence:
        """The i-th candidate's sentence that best answers (``SentenceTable.best``)."""
        return self.sentences.best(i)


class SentenceTable:
    """The sentences of candidates in ranked order: ``table[i]`` is (ids, cosines, BM25 scores)
    of the i-th candidate, cut out only when asked for (the passages ask for k of ~180)."""

    def __init__(self, ids: np.ndarray, per_chunk: np.ndarray, sims: np.ndarray, lex: np.ndarray,
                 order: np.ndarray, rows: np.ndarray, blend: Blend) -> None:
        self.ids, self.sims, self.lex = ids, sims, lex
        ends = np.cumsum(per_chunk)
        self.starts, self.ends = (ends - per_chunk)[order], ends[order]
        self.rows, self.blend = rows, blend  # every sentence's (chunk row, doc start, doc end)
        self._top_lex: float | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = int(self.starts[i]), int(self.ends[i])
        return self.ids[a:b], self.sims[a:b], self.lex[a:b]

    def best_lexical(self) -> float:
        """The highest sentence BM25 among all candidates."""
        if self._top_lex is None:
            self._top_lex = float(self.lex.max()) if len(self.lex) else 0.0
        return self._top_lex

    def best(self, i: int) -> BestSentence:
        """The i-th candidate's sentence with the highest blend of the two sentence signals of
        hybrid, its BM25 divided by the best among all candidates (first of ties)."""
        ids, sims, lex = self[i]
        w = self.blend
        blended = w.sentence * sims + w.sentence_bm25 * _scaled(lex, self.best_lexical())
        best = int(ids[int(np.argmax(blended))])
        _, start, end = self.rows[best]
        return BestSentence(best, int(start), int(end))


def follow_up_weights(question: str, history: list[str]) -> dict[str, float] | None:
    """BM25 weights of a follow-up's query: terms only from the earlier questions it continues
    (``history``, the ones it was found to depend on) count less."""
    if not history:
        return None
    own = set(tokenize(question))
    return {t: HISTORY_WEIGHT for h in history for t in tokenize(h) if t not in own}


class Retriever:
    """Scores the chunks of an opened generation for a query vector and query text.

    Args:
        generation: the opened index (its dense index, chunk and sentence BM25, word pairs,
            sentence rows and vectors).
        blend: the hybrid blend's weights.
        candidates: how many chunks each signal contributes to the candidates.
        lede_weight: added to the hybrid ranking of a chunk that opens its article (0: none).
        headline_weight: times the share of the query's BM25 IDF whose terms are in the
            chunk's headline, added to the hybrid ranking (0: none).
    """

    def __init__(self, generation: Generation, *, blend: Blend = Blend(), candidates: int = 100,
                 lede_weight: float = 0.0, headline_weight: float = 0.0) -> None:
        import faiss

        # One query at a time: FAISS's OpenMP threads cost more than they give and fight
        # torch's (100k chunks: ask p50 47 -> 29 ms with one thread, benchmarks/bench_query.py);
        # concurrent questions use the other core.
        faiss.omp_set_num_threads(1)
        self.blend, self.candidates, self.lede_weight = blend, candidates, lede_weight
        # Per chunk row: it opens its article (read only when the lede counts).
        self.lede = np.asarray(generation.chunk_span[:, 0]) == 0 if lede_weight else None
        self.headline_weight = headline_weight
        self._meta = generation.docs.meta
        self._headline_terms: dict[int, frozenset] = {}  # doc -> BM25 columns of its headline, as asked
        self.dense_index = generation.dense
        self.index = generation.dense.index  # the FAISS index itself
        self.vectors = generation.vectors
        self.bm25 = generation.bm25
        self.chunk_doc = generation.chunk_doc
        self.sentences = generation.sentences
        self.sentence_vectors = generation.sentence_vectors
        self.sentence_bm25 = generation.sentence_bm25
        self.pair_bm25 = generation.pair_bm25
        self.doc_days = published_days(m.published for m in generation.docs.meta)
        self.sentence_bounds = np.searchsorted(np.asarray(self.sentences[:, 0]),
                                               np.arange(len(self.chunk_doc) + 1))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def dense(self, qvec: np.ndarray, n: int, allowed: np.ndarray | None) -> Hits:
        """Top ``n`` chunk rows by cosine similarity."""
        if self.size == 0 or n <= 0:
            return Hits(np.zeros(0, dtype="int64"), np.zeros(0, dtype="float32"))
        if allowed is None:
            rows, scores = self.dense_index.search(qvec.reshape(1, -1), min(n, self.size))
            keep = rows[0] >= 0
            return Hits(rows[0][keep].astype("int64"), scores[0][keep])
        ids = np.flatnonzero(allowed)
        sims = self.vectors[ids] @ qvec.ravel()
        top = _top(sims, n)
        return Hits(ids[top], sims[top])

    def query_terms(self, text: str, term_weights: dict[str, float] | None = None) -> QueryTerms:
        """The query's terms (for chunks and sentences) and word pairs, as BM25 columns."""
        return QueryTerms(self.bm25.query_terms(text, term_weights), self.pair_bm25.query_terms(text))

    def question_terms(self, query: str, question: str, history: list[str]) -> QueryTerms:
        """``query_terms`` of what is searched for ``question`` with the earlier questions
        ``history`` it continues: terms only they have count less (``follow_up_weights``)."""
        return self.query_terms(query, follow_up_weights(question, history))

    def prefetch(self, terms: QueryTerms) -> None:
        """Start reading the posting lists a search for ``terms`` will read (see ``BM25.prefetch``)."""
        self.bm25.prefetch(terms.words)
        self.pair_bm25.prefetch(terms.pairs)

    def _lexical(self, terms: dict[int, float], n: int,
                 allowed: np.ndarray | None) -> tuple["QueryLists", np.ndarray]:
        """The query's BM25 lists, read once (any row's score), and its top ``n`` rows."""
        lists = self.bm25.lists(terms)
        try:
            return lists, lists.top(n, allowed)
        except BaseException:
            lists.release()
            raise

    def headline_share(self, terms: dict[int, float], docs: np.ndarray) -> np.ndarray:
        """Per entry of ``docs``: the share of the query terms' IDF whose terms are in that
        article's headline (each term once)."""
        cols = list(terms)
        idf = self.bm25.idf[cols] if cols else np.zeros(0, dtype="float32")
        total = float(idf.sum())
        if total <= 0:
            return np.zeros(len(docs))
        unique, inverse = np.unique(docs, return_inverse=True)
        share = np.empty(len(unique))
        for j, d in enumerate(unique.tolist()):
            have = self._headline_terms.get(d)
            if have is None:
                vocab = self.bm25.vocab
                have = frozenset(vocab[t] for t in tokenize(self._meta[d].title or "") if t in vocab)
                self._headline_terms[d] = have
            share[j] = sum(float(w) for c, w in zip(cols, idf) if c in have) / total
        return share[inverse]

    def sentence_scores(self, rows: np.ndarray, qvec: np.ndarray, terms: dict[int, float]) -> SentenceScores:
        """The sentences of the chunks ``rows``, with their cosine and BM25 with the query."""
        lo, hi = self.sentence_bounds[rows], self.sentence_bounds[rows + 1]
        ids = _ranges(lo, hi)
        sims = self.sentence_vectors.dot(ids, qvec) if len(ids) else np.zeros(0, dtype="float32")
        lex = self.sentence_bm25.scores_of(terms, ids, idf=self.bm25.idf)
        return SentenceScores(ids, hi - lo, sims, lex)

    def search(self, qvec: np.ndarray, text: str, mode: str, allowed_docs: np.ndarray | None = None,
               terms: QueryTerms | None = None, prior: TimePrior | None = None) -> Candidates:
        """Candidate chunks, best first, scored by ``mode``.

        ``hybrid`` blends five signals, each in [0, 1]-ish (``Blend``): chunk cosine,
        best-sentence cosine, chunk BM25, best-sentence BM25 and word-pair BM25 (BM25s divided
        by their best among the candidates). ``terms``: ``query_terms(text)`` if already made.
        ``prior``: the question's time bonus, added to the hybrid blend of each candidate by its
        article's publication day (a preference, not a filter; the confidence stays the blend).
        In hybrid, a chunk that opens its article gains ``lede_weight`` in the ranking too.
        """
        n = self.candidates
        allowed = None if allowed_docs is None else allowed_docs[self.chunk_doc]
        terms, pair_terms = terms or self.query_terms(text)  # the query is tokenised once
        found, cosines = np.zeros(0, dtype="int64"), np.zeros(0, dtype="float32")
        if mode == "dense":
            rows, _ = self.dense(qvec, n, allowed)
            lex = self.bm25.scores_in_ranges(terms, rows, rows + 1)
        else:
            if mode == "hybrid" and self.bm25.postings_of(terms) >= BESIDE_POSTINGS:
                # BM25 (its lists read, summed and ranked) runs on another thread while FAISS
                # searches on this one (with one OpenMP thread): the reads, scipy's sums and
                # FAISS let go of the GIL: at 1M chunks, on two cores, the two take 1.5-1.7 ms
                # together, FAISS alone 1.1 ms and BM25 alone 1.1-1.7 (README, "Speed").
                job = _beside_pool().submit(self._lexical, terms, n, allowed)
                try:
                    found, cosines = self.dense(qvec, n, allowed)
                finally:
                    wait([job])  # no job outlives its search, even a failed one
                lists, top = job.result()
            else:
                if mode != "bm25":
                    # First, as in the floor: an IVF search streams tens of MB through the CPU
                    # caches, which would evict the BM25 sums between their making and their use.
                    found, cosines = self.dense(qvec, n, allowed)
                lists, top = self._lexical(terms, n, allowed)
            try:
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
        w = self.blend
        signals = (dense, best_sim, _scaled(lex), _scaled(best_lex), _scaled(pairs))
        blend = w.dense * signals[0] + w.sentence * signals[1] + w.bm25 * signals[2] \
            + w.sentence_bm25 * signals[3] + w.pairs * signals[4]
        ranked = blend
        if prior is not None and mode == "hybrid":
            ranked = blend + prior.bonus(self.doc_days[self.chunk_doc[rows]])
        if self.lede_weight and mode == "hybrid":
            ranked = ranked + self.lede_weight * self.lede[rows]
        if self.headline_weight and mode == "hybrid":
            ranked = ranked + self.headline_weight * self.headline_share(terms, self.chunk_doc[rows])
        fused = {"dense": dense, "bm25": _scaled(lex)}.get(mode, ranked)
        order = np.argsort(-fused, kind="stable")
        return Candidates(rows[order], fused[order], dense[order], lex[order],
                          SentenceTable(sent_ids, per_chunk, sent_sims, sent_lex, order, self.sentences, w),
                          blend[order], np.stack(signals, axis=1)[order])


def _scaled(scores: np.ndarray, top: float | None = None) -> np.ndarray:
    """``scores`` divided by ``top`` (default: their highest), when it is above 0."""
    if top is None:
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
