"""BM25 over chunks: stemmed terms, a sparse term-frequency matrix, numpy scoring.

The matrix is kept by chunk row so an incremental build copies the rows of unchanged
chunks and tokenises only new ones; IDF and length norms are recomputed on open.
"""
from __future__ import annotations

import json
import re
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

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
                 b: float = 0.75, pairs: bool = False) -> None:
        self.counts = counts.tocsr()
        self.vocab = vocab or {}
        self.pairs = pairs  # columns are hashed word pairs, not terms
        self.k1, self.b = k1, b
        n = self.counts.shape[0]
        lengths = np.asarray(self.counts.sum(axis=1)).ravel().astype("float32")
        avg = float(lengths.mean()) if n else 1.0
        df = np.bincount(self.counts.indices, minlength=self.counts.shape[1]).astype("float32")
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype("float32")
        self.norm = (k1 * (1 - b + b * lengths / max(avg, 1e-9))).astype("float32")
        self._csc: sp.csc_matrix | None = None  # made on first full-index scoring only

    @property
    def by_term(self) -> sp.csc_matrix:
        """Posting lists (column-ordered counts); sentence and pair indexes never need them."""
        if self._csc is None:
            self._csc = self.counts.tocsc()
        return self._csc

    @property
    def size(self) -> int:
        return self.counts.shape[0]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "BM25":
        vocab: dict[str, int] = {}
        return cls(count_matrix(texts, vocab), vocab)

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

    def scores(self, query: str, weights: dict[str, float] | None = None) -> np.ndarray:
        """BM25 score of every row for ``query`` (zeros where no term matches)."""
        return self.scores_all(self.query_terms(query, weights))

    def scores_all(self, terms: dict[int, float]) -> np.ndarray:
        """BM25 score of every row for query ``terms`` from ``query_terms``."""
        out = np.zeros(self.size, dtype="float32")
        for col, qtf in terms.items():
            csc = self.by_term
            lo, hi = csc.indptr[col], csc.indptr[col + 1]
            rows = csc.indices[lo:hi]
            tf = csc.data[lo:hi].astype("float32")
            out[rows] += qtf * self.idf[col] * tf * (self.k1 + 1) / (tf + self.norm[rows])
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
        tf = self.counts.data[flat[hit]].astype("float32")
        row = owner[hit]
        contrib = weight[col[hit]] * tf * (self.k1 + 1) / (tf + self.norm[rows[row]])
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


def save_counts(folder: Path, counts: sp.csr_matrix, vocab: dict[str, int] | None,
                prefix: str = "bm25") -> None:
    """Write a count matrix (and, unless None, the vocabulary shared by all matrices)."""
    counts = counts.tocsr()
    np.save(folder / f"{prefix}_data.npy", counts.data.astype("int32"), allow_pickle=False)
    np.save(folder / f"{prefix}_indices.npy", counts.indices.astype("int32"), allow_pickle=False)
    np.save(folder / f"{prefix}_indptr.npy", counts.indptr.astype("int64"), allow_pickle=False)
    if vocab is not None:
        terms = [""] * len(vocab)
        for term, col in vocab.items():
            terms[col] = term
        (folder / "bm25_vocab.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")


def load_counts(folder: Path, prefix: str = "bm25", pairs: bool = False) -> tuple[sp.csr_matrix, dict[str, int]]:
    if pairs:
        vocab = {}
    else:
        terms = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
        vocab = {t: i for i, t in enumerate(terms)}
    width = BIGRAM_BUCKETS if pairs else max(len(vocab), 1)
    data = np.load(folder / f"{prefix}_data.npy", allow_pickle=False)
    indices = np.load(folder / f"{prefix}_indices.npy", allow_pickle=False)
    indptr = np.load(folder / f"{prefix}_indptr.npy", allow_pickle=False)
    if len(indptr) == 0 or indptr[-1] != len(data) or len(indices) != len(data) or (
            len(indices) and int(indices.max()) >= width):
        raise ValueError(f"{prefix} term counts do not agree with each other")
    counts = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, width))
    return counts, vocab
