"""The lexical side's public names in one place: BM25 over stemmed terms and word pairs.

It lives in three modules, one job each: ``qa.bm25`` tokenises and scores (``BM25``, the count
matrices), ``qa.postings`` holds the posting lists and sums one question's score from them
(``PostingLists``, ``QueryLists``, the one BM25 term weight ``term_weight``), and
``qa.bm25_files`` writes what the build stores and opens it read-only for the engine.
"""
from __future__ import annotations

from .bm25 import (BIGRAM_BUCKETS, BM25, STOPWORDS, TOKEN_RE, bigrams, count_matrix, doc_freqs, row_lengths,
                   row_norms, stack_rows, tokenize)
from .bm25_files import POSTINGS, load_counts, load_vocab, open_bm25, save_counts
from .postings import PostingLists, QueryLists, term_weight

__all__ = [
    "BIGRAM_BUCKETS", "BM25", "POSTINGS", "STOPWORDS", "TOKEN_RE", "PostingLists", "QueryLists",
    "bigrams", "count_matrix", "doc_freqs", "load_counts", "load_vocab", "open_bm25", "row_lengths",
    "row_norms", "save_counts", "stack_rows", "term_weight", "tokenize",
]
