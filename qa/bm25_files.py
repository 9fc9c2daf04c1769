"""BM25's files: what the build writes beside each count matrix, and the engine's read-only open.

Beside each matrix the build writes its row lengths and column document frequencies, and for
chunks and word pairs the posting lists (the same counts in column order, with each chunk
posting's BM25 term weight): the engine loads the statistics and maps the matrices, so opening
computes nothing, and a question reads only the posting lists of its own terms. Sentence counts
are read into memory (``resident``): every question reads them at scattered rows.
"""
from __future__ import annotations

import json
import os
import weakref
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .bm25 import BIGRAM_BUCKETS, BM25, doc_freqs, row_lengths, row_norms
from .postings import PostingLists, term_weight
from .index_files import read_resident

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
        np.save(folder / f"{prefix}_postings_data.npy", by_term.counts, allow_pickle=False)
        np.save(folder / f"{prefix}_postings_rows.npy", by_term.rows, allow_pickle=False)
        np.save(folder / f"{prefix}_postings_indptr.npy", by_term.indptr.astype("int64"), allow_pickle=False)
        if impacts is not None:
            k1, b = impacts
            weight = term_weight(by_term.counts, row_norms(row_lengths(counts), k1, b)[by_term.rows], k1)
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
            weakref.finalize(postings, os.close, fd)
    return BM25(counts, vocab, k1, b, pairs=pairs, lengths=lengths, df=df, postings=postings)
