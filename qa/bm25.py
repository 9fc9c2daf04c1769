"""BM25 over chunks: stemmed terms and word pairs, a sparse term-count matrix, numpy scoring.

The matrix is kept by chunk row so an incremental build copies the rows of unchanged chunks and
tokenises only new ones. A question's chunk BM25 is summed from the posting lists of its terms
(``qa.postings``); the sentences of its candidates, few and scattered, are scored from their rows.
"""
from __future__ import annotations

import re
import zlib
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from .postings import PostingLists, QueryLists, term_weight

TOKEN_RE = re.compile(r"\w+", re.UNICODE)

# A short English stopword list: function words that carry no topic.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not of off on once only or other our ours ourselves out over own
same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom
why will with would you your yours yourself yourselves s t d ll m re ve
""".split())


# Word pairs are hashed into a fixed number of columns: no vocabulary to grow without bound.
BIGRAM_BUCKETS = 1 << 21


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed word tokens without stopwords."""
    words = [w for w in TOKEN_RE.findall(text.lower()) if w not in STOPWORDS]
    return _stemmer().stemWords(words)


def bigrams(tokens: list[str]) -> list[int]:
    """Columns of the adjacent pairs of ``tokens`` (stopwords already gone): phrase evidence."""
    return [zlib.crc32(f"{a} {b}".encode()) % BIGRAM_BUCKETS for a, b in zip(tokens, tokens[1:])]


class BM25:
    """Okapi BM25 over a chunk × term matrix of raw counts.

    Args:
        counts: CSR matrix, one row per chunk, one column per vocabulary term.
        vocab: term → column.
    """

    def __init__(self, counts: sp.csr_matrix, vocab: dict[str, int] | None, k1: float = 1.2,
                 b: float = 0.75, pairs: bool = False, lengths: np.ndarray | None = None,
                 df: np.ndarray | None = None, postings: PostingLists | None = None) -> None:
        self.counts = counts.tocsr()
        self.vocab = vocab or {}
        self.pairs = pairs  # columns are hashed word pairs, not terms
        self.k1, self.b = k1, b
        n = self.counts.shape[0]
        if lengths is None:
            lengths = row_lengths(self.counts)
        if df is None:
            df = doc_freqs(self.counts)
        lengths, df = np.asarray(lengths, dtype="float32"), np.asarray(df, dtype="float32")
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype("float32")
        self.norm = row_norms(lengths, k1, b)
        self._postings = postings  # else made from the counts on first use

    @property
    def postings(self) -> PostingLists:
        if self._postings is None:
            self._postings = PostingLists.of(self.counts)
        return self._postings

    def prefetch(self, terms: dict[int, float]) -> None:
        """Ask the kernel to read the posting lists of ``terms`` now, in the background.

        A large index's posting lists are on disk, not in memory; the engine calls this before
        it encodes the question, so the reads overlap the model instead of following it.
        """
        if self._postings is not None:
            self._postings.prefetch(terms)

    @property
    def size(self) -> int:
        return self.counts.shape[0]

    def query_terms(self, query: str, weights: dict[str, float] | None = None) -> dict[int, float]:
        """Column → query weight of each known term of ``query`` (repeats add up).

        ``weights`` optionally scales terms (e.g. terms only from an earlier question count less).
        """
        terms: dict[int, float] = {}
        if self.pairs:
            for col in bigrams(tokenize(query)):
                terms[col] = terms.get(col, 0.0) + 1.0
            return terms
        for term in tokenize(query):
            col = self.vocab.get(term)
            if col is not None:
                terms[col] = terms.get(col, 0.0) + (weights.get(term, 1.0) if weights else 1.0)
        return terms

    def postings_of(self, terms: dict[int, float]) -> int:
        """How many postings the lists of query ``terms`` hold: what reading and summing them costs."""
        return sum(self.postings.length(col) for col in terms)

    def lists(self, terms: dict[int, float]) -> QueryLists:
        """The posting lists of query ``terms``, read once, with each posting's share of the score:
        the question's top rows (``top``) and the score of any row (``of``) come from them."""
        return QueryLists(self, terms)

    def scores_in_ranges(self, terms: dict[int, float], lo: np.ndarray, hi: np.ndarray,
                         idf: np.ndarray | None = None) -> np.ndarray:
        """BM25 scores of the rows ``lo[i] <= row < hi[i]``, range after range, from the posting
        lists of the query's terms (never from the rows themselves: a few reads per term, not
        one per row). ``idf`` as in ``scores_of``.
        """
        lo, hi = np.asarray(lo, dtype="int64"), np.asarray(hi, dtype="int64")
        sizes = hi - lo
        out = np.zeros(int(sizes.sum()), dtype="float32")
        if not terms or len(out) == 0:
            return out
        base = np.cumsum(sizes) - sizes  # where each range's rows start in ``out``
        idf = self.idf if idf is None else idf
        lo32, hi32 = lo.astype("int32"), hi.astype("int32")  # the posting lists' own type: no copy of them
        for col, qtf in terms.items():
            posted, counts = self.postings.get(col)
            if len(posted) == 0:
                continue
            first, last = np.searchsorted(posted, lo32), np.searchsorted(posted, hi32)
            found = last - first
            total = int(found.sum())
            if total == 0:
                continue
            owner = np.repeat(np.arange(len(lo)), found)
            at = np.repeat(first - (np.cumsum(found) - found), found) + np.arange(total)  # into ``posted``
            rows = posted[at]
            out[base[owner] + (rows - lo[owner])] += term_weight(counts[at], self.norm[rows], self.k1, qtf * idf[col])
        return out

    def scores_of(self, terms: dict[int, float], rows: np.ndarray, idf: np.ndarray | None = None) -> np.ndarray:
        """BM25 scores of some rows only, for query ``terms`` from ``query_terms``.

        ``idf`` lets sentence rows borrow the IDF of the chunk index (a sentence is too
        small a unit to judge how rare a word is).
        """
        if not terms or len(rows) == 0:
            return np.zeros(len(rows), dtype="float32")
        cols = np.fromiter(terms.keys(), dtype="int64")
        weight = np.zeros(self.counts.shape[1], dtype="float32")  # query weight × idf, by column
        weight[cols] = np.fromiter(terms.values(), dtype="float32") * (self.idf if idf is None else idf)[cols]
        # Only the nonzeros of the wanted rows are read (column slicing would walk every column).
        indptr = self.counts.indptr
        starts, ends = indptr[rows], indptr[rows + 1]
        lengths = ends - starts
        flat = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        owner = np.repeat(np.arange(len(rows)), lengths)
        col = self.counts.indices[flat]
        hit = weight[col] > 0
        row = owner[hit]
        contrib = term_weight(self.counts.data[flat[hit]], self.norm[rows[row]], self.k1, weight[col[hit]])
        return np.bincount(row, weights=contrib, minlength=len(rows)).astype("float32")


def count_matrix(texts: Iterable[str], vocab: dict[str, int] | None) -> sp.csr_matrix:
    """Term counts of ``texts``, growing ``vocab`` with new terms (``None``: hashed word pairs)."""
    indptr, indices, data = [0], [], []
    for text in texts:
        row: dict[int, int] = {}
        tokens = tokenize(text)
        cols = bigrams(tokens) if vocab is None else [vocab.setdefault(t, len(vocab)) for t in tokens]
        for col in cols:
            row[col] = row.get(col, 0) + 1
        indices.extend(row.keys())
        data.extend(row.values())
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.asarray(data, dtype="int32"), np.asarray(indices, dtype="int32"), np.asarray(indptr, dtype="int64")),
        shape=(len(indptr) - 1, BIGRAM_BUCKETS if vocab is None else max(len(vocab), 1)),
    )


def stack_rows(parts: Sequence[sp.csr_matrix], width: int) -> sp.csr_matrix:
    """Row-stack count matrices made against a growing vocabulary (pad to ``width`` columns)."""
    resized = []
    for m in parts:
        m = m.tocsr()
        m.resize((m.shape[0], width))
        resized.append(m)
    if not resized:
        return sp.csr_matrix((0, width), dtype="int32")
    return sp.vstack(resized, format="csr", dtype="int32")


def row_norms(lengths: np.ndarray, k1: float, b: float) -> np.ndarray:
    """BM25's length normalisation of each row: k1·(1 − b + b·length/average length)."""
    lengths = np.asarray(lengths, dtype="float32")
    avg = float(lengths.mean()) if len(lengths) else 1.0
    return (k1 * (1 - b + b * lengths / max(avg, 1e-9))).astype("float32")


def row_lengths(counts: sp.csr_matrix) -> np.ndarray:
    return np.asarray(counts.sum(axis=1), dtype="float32").ravel()


def doc_freqs(counts: sp.csr_matrix) -> np.ndarray:
    return np.bincount(counts.indices, minlength=counts.shape[1]).astype("int32")
