"""BM25 over chunks: stemmed terms, a sparse term-frequency matrix, numpy scoring.

The matrix is kept by chunk row so an incremental build copies the rows of unchanged
chunks and tokenises only new ones. Beside each matrix the build writes its row lengths and
column document frequencies, and for chunks and word pairs the posting lists (the same counts
in column order, with each chunk posting's BM25 term weight): the engine loads the statistics
and maps the matrices, so opening computes nothing, and a question reads only the posting lists
of its own terms (``PostingLists``, ``QueryLists``), which it asks the kernel for (``prefetch``)
before it encodes the question. Sentence counts are read into memory and scored by row, for the
sentences of a question's candidates only.
"""
from __future__ import annotations

import json
import os
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
            from .store import IndexProblem

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
        if self._postings is not None and self._postings.has_impacts and terms:
            # The build stored each posting's tf·(k1+1)/(tf+norm): a weighted sum remains,
            # made in one bincount (1M chunks: a question's terms reach ~150k postings).
            rows, weights = [], []
            for col, qtf in terms.items():
                r, impact = self._postings.get_impacts(col)
                rows.append(r)
                weights.append(impact * np.float32(qtf * self.idf[col]))
            return np.bincount(np.concatenate(rows), weights=np.concatenate(weights),
                               minlength=self.size).astype("float32")
        out = np.zeros(self.size, dtype="float32")
        for col, qtf in terms.items():
            rows, tf = self.postings.get(col)
            tf = tf.astype("float32")
            out[rows] += (qtf * self.idf[col] * (self.k1 + 1)) * tf / (tf + self.norm[rows])
        return out

    def lists(self, terms: dict[int, float]) -> "QueryLists":
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
            tf = counts[at].astype("float32")
            out[base[owner] + (rows - lo[owner])] += (qtf * idf[col] * (self.k1 + 1)) * tf / (tf + self.norm[rows])
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


try:  # scipy's C loop of a sparse matrix times a vector, summing into an array in place
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
except ImportError:  # pragma: no cover - a scipy that moved it: bincount, the same sums
    _csc_matvec = None


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
        import threading

        self._free: list[np.ndarray] = []
        self._keep = keep
        self._lock = threading.Lock()

    def take(self, size: int) -> np.ndarray:
        with self._lock:
            kept = [i for i, a in enumerate(self._free) if len(a) == size]
            array = self._free.pop(kept[0]) if kept else None
        if array is None:
            from .store import huge_pages

            return huge_pages(size * 4).view("float32")  # fresh anonymous memory is zeros
        array.fill(0.0)
        return array

    def give(self, array: np.ndarray) -> None:
        with self._lock:
            self._free = [a for a in self._free if len(a) == len(array)][-(self._keep - 1):] + [array]


_ZEROS = _Zeros()


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

    def __init__(self, bm25: BM25, terms: dict[int, float]) -> None:
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
                tf = tf.astype("float32")
                rows[a:b], impacts[a:b] = posted, np.float32(bm25.k1 + 1) * tf / (tf + bm25.norm[posted])
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
                rows = np.sort(np.concatenate(taken))
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


# The matrices whose posting lists are stored: a question's chunk BM25 is summed from them.
# Sentences are scored only for the candidates, from the rows of their own counts (in memory).
POSTINGS = ("bm25", "pair_bm25")


def save_counts(folder: Path, counts: sp.csr_matrix, vocab: dict[str, int] | None,
                prefix: str = "bm25", impacts: tuple[float, float] | None = None) -> None:
    """Write a count matrix, its row lengths, document frequencies and posting lists (and,
    unless None, the vocabulary shared by all matrices).

    ``impacts``: BM25's (k1, b); each posting's term weight tf·(k1+1)/(tf+norm) is stored
    beside its count, so that scoring every row for a question is a weighted sum (an engine
    opened with other k1, b scores from the counts).
    """
    counts = counts.tocsr()
    np.save(folder / f"{prefix}_data.npy", counts.data.astype("int32"), allow_pickle=False)
    np.save(folder / f"{prefix}_indices.npy", counts.indices.astype("int32"), allow_pickle=False)
    np.save(folder / f"{prefix}_indptr.npy", counts.indptr.astype("int64"), allow_pickle=False)
    np.save(folder / f"{prefix}_lengths.npy", row_lengths(counts), allow_pickle=False)
    np.save(folder / f"{prefix}_df.npy", doc_freqs(counts), allow_pickle=False)
    if prefix in POSTINGS:
        by_term = PostingLists.of(counts)
        np.save(folder / f"{prefix}_postings_data.npy", by_term._counts, allow_pickle=False)
        np.save(folder / f"{prefix}_postings_rows.npy", by_term._rows, allow_pickle=False)
        np.save(folder / f"{prefix}_postings_indptr.npy", by_term.indptr.astype("int64"), allow_pickle=False)
        if impacts is not None:
            k1, b = impacts
            tf = by_term._counts.astype("float32")
            weight = tf * np.float32(k1 + 1) / (tf + row_norms(row_lengths(counts), k1, b)[by_term._rows])
            np.save(folder / f"{prefix}_postings_impacts.npy", weight.astype("float32"), allow_pickle=False)
            (folder / f"{prefix}_impacts.json").write_text(json.dumps({"k1": k1, "b": b}), encoding="utf-8")
    if vocab is not None:
        terms = [""] * len(vocab)
        for term, col in vocab.items():
            terms[col] = term
        (folder / "bm25_vocab.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")


def load_vocab(folder: Path) -> dict[str, int]:
    terms = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
    return {t: i for i, t in enumerate(terms)}


def load_counts(folder: Path, prefix: str = "bm25", pairs: bool = False, mmap: bool = False,
                vocab: dict[str, int] | None = None, resident: bool = False
                ) -> tuple[sp.csr_matrix, dict[str, int]]:
    """A count matrix and the vocabulary. ``mmap``: the arrays are mapped, not read (the
    engine's read-only open); an incremental build reads them. ``resident``: read into huge
    pages, counts as one byte each where they fit (the engine's sentence counts, read at
    scattered rows by every question)."""
    from .store import read_resident

    if pairs:
        vocab = {}
    elif vocab is None:
        vocab = load_vocab(folder)
    width = BIGRAM_BUCKETS if pairs else max(len(vocab), 1)
    mode = "r" if mmap else None

    def load(name):
        path = folder / f"{prefix}_{name}.npy"
        return read_resident(path) if resident else np.load(path, mmap_mode=mode, allow_pickle=False)

    data, indices, indptr = (load(k) for k in ("data", "indices", "indptr"))
    if indptr.ndim != 1 or len(indptr) == 0 or indptr[-1] != len(data) or len(indices) != len(data):
        raise ValueError(f"{prefix} term counts do not agree with each other")
    if not mmap and len(indices) and int(indices.max()) >= width:  # mapped: the build wrote them
        raise ValueError(f"{prefix} term counts name a column past the vocabulary")
    if resident and len(data) and 0 < int(data.min()) and int(data.max()) <= 255:
        data = data.astype("uint8")  # a sentence's counts: a quarter of the memory, the same values
    counts = sp.csr_matrix((np.asarray(data), np.asarray(indices), np.asarray(indptr)),
                           shape=(len(indptr) - 1, width))
    return counts, vocab


def open_bm25(folder: Path, prefix: str, vocab: dict[str, int] | None, k1: float, b: float,
              pairs: bool = False, resident: bool = False) -> BM25:
    """A read-only BM25 over the build's files and stored statistics: counts mapped (or, with
    ``resident``, read into memory), posting lists read per question (``PostingLists``)."""
    counts, vocab = load_counts(folder, prefix, pairs=pairs, mmap=not resident, vocab=vocab, resident=resident)
    lengths = np.load(folder / f"{prefix}_lengths.npy", allow_pickle=False)
    df = np.load(folder / f"{prefix}_df.npy", allow_pickle=False)
    if len(lengths) != counts.shape[0] or len(df) != counts.shape[1]:
        raise ValueError(f"{prefix} lengths or document frequencies do not agree with the counts")
    postings = None
    if prefix in POSTINGS:
        indptr = np.load(folder / f"{prefix}_postings_indptr.npy", allow_pickle=False)  # read at every question
        if len(indptr) != counts.shape[1] + 1 or indptr[-1] != counts.nnz:
            raise ValueError(f"{prefix} posting lists do not agree with the counts")
        wanted = [(folder / f"{prefix}_postings_{name}.npy", np.int32) for name in ("rows", "data")]
        stored = folder / f"{prefix}_impacts.json"  # term weights, used if made for this k1 and b
        impacts = folder / f"{prefix}_postings_impacts.npy"
        if impacts.exists() and stored.exists() and json.loads(stored.read_text(encoding="utf-8")) == {"k1": k1, "b": b}:
            wanted.append((impacts, np.float32))
        files = []
        for path, dtype in wanted:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)  # the header only: then read by pread
            if mapped.dtype != dtype or mapped.shape != (counts.nnz,):
                for fd, _ in files:
                    os.close(fd)
                raise ValueError(f"{path.name} does not agree with the counts")
            files.append((os.open(path, os.O_RDONLY), int(mapped.offset)))
            del mapped
        postings = PostingLists(indptr, files=files)
        for fd, _ in files:  # closed with the lists (an engine is reopened after every build)
            _close_with(postings, fd)
    return BM25(counts, vocab, k1, b, pairs=pairs, lengths=lengths, df=df, postings=postings)


def _close_with(owner, fd: int) -> None:
    """Close ``fd`` when ``owner`` is collected (an engine reopened after every build must not
    leak descriptors)."""
    import weakref

    weakref.finalize(owner, os.close, fd)
