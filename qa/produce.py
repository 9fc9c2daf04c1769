"""A build's reading stage in this process: the files to do ingested, chunked and embedded.

``Produced`` is what either producer hands the build: this module's ``produce_locally``, or
``qa.distributed.produce_on_ray`` (the same stage on a Ray cluster). Both embed each chunk as
``qa.chunk.model_text`` makes it, so their vectors are the same.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import clean, ingest
from .chunk import Chunker, model_text, title_prefix
from .embed import Encoder
from .types import Chunk, Document, FileResult

# Takes one file's ingestion result and returns the articles the build keeps (first seen).
Accept = Callable[[str, FileResult], list[Document]]


@dataclass(frozen=True)
class Produced:
    """The new material of a build, in file order.

    Attributes:
        docs: the first-seen documents of the files done (duplicates dropped).
        chunks: their chunks.
        vectors: one float32 vector per chunk.
        sentences: sentence rows ``(chunk index in chunks, doc start, doc end)``, grouped by chunk.
        sentence_vectors: one float16 vector per sentence row (the store keeps them as int8 codes,
            quantised from float16 whichever producer made them).
    """

    docs: list[Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    sentences: np.ndarray
    sentence_vectors: np.ndarray

    @classmethod
    def stack(cls, docs: list[Document], chunks: list[Chunk], vectors: list[np.ndarray],
              rows: list[tuple[int, int, int]], pooled: list[np.ndarray], dim: int) -> Produced:
        """From per-chunk vectors and per-chunk blocks of sentence vectors, in chunk order."""
        stacked = np.stack(vectors) if vectors else np.zeros((0, dim), dtype="float32")
        sentence_vectors = np.concatenate(pooled) if pooled else np.zeros((0, dim), dtype="float16")
        return cls(docs, chunks, stacked.astype("float32"), np.array(rows, dtype="int32").reshape(-1, 3),
                   sentence_vectors.astype("float16"))


def produce_locally(root: Path, todo: list[str], sidecar: dict[str, dict], accept: Accept, encoder: Encoder,
                    chunker: Chunker, batch_size: int, progress: bool,
                    chrome: frozenset[str] = frozenset()) -> Produced:
    """Read and chunk in a thread ahead of the encoder, in this process. ``chrome``: the line
    keys that recur across the corpus (``qa.changes.recurring_lines``), cleaned away."""

    def read(relpath: str) -> tuple[list[Document], list[Chunk], dict[str, str]]:
        with clean.recurring(chrome):
            result = ingest.read_file(root, relpath, sidecar)
        unique = accept(relpath, result)
        return unique, chunker.split_many(unique), {d.doc_id: title_prefix(encoder.truncate, d.title) for d in unique}

    new_docs: list[Document] = []
    new_chunks: list[Chunk] = []
    embedder = _Embedder(encoder, batch_size, progress, files=len(todo))
    for docs_read, chunks_read, heads in _ahead(read, todo):
        new_docs.extend(docs_read)
        new_chunks.extend(chunks_read)
        embedder.add(chunks_read, heads)
    embedder.finish()
    return Produced.stack(new_docs, new_chunks, embedder.vectors, embedder.rows, embedder.pooled, encoder.dim)


def _ahead(work: Callable, items: list, depth: int = 32):
    """``work(item)`` for each item, run in a thread ahead of the caller (the model releases
    the GIL while it computes, so reading and chunking hide behind encoding)."""
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                results.put((True, work(item)))
        except BaseException as exc:  # handed to the caller, which raises it
            results.put((False, exc))
            return
        results.put((True, _DONE))

    thread = threading.Thread(target=run, name="qa-reader", daemon=True)
    thread.start()
    try:
        while True:
            ok, value = results.get()
            if not ok:
                raise value
            if value is _DONE:
                return
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                results.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


_DONE = object()


class _Embedder:
    """Encodes chunks as they arrive, a window at a time, longest first within the window
    (less padding per batch), and keeps chunk and sentence vectors in arrival order."""

    def __init__(self, encoder: Encoder, batch_size: int, progress: bool, files: int | None = None) -> None:
        self.encoder, self.batch_size = encoder, batch_size
        # 32 batches: sorted by token count within it, padding is that of a global sort on
        # squad-dev (115k tokens run for 785 chunks; 8 batches: 121k), at 1,024 texts in memory.
        self.window = batch_size * 32
        self.pending: list[tuple[int, str, list[tuple[int, int]]]] = []
        self.vectors: list[np.ndarray] = []
        self.pooled: list[np.ndarray] = []
        self.rows: list[tuple[int, int, int]] = []
        self.count = 0
        self.bar = None
        self.files_pending = 0  # files whose chunks wait in ``pending``
        if progress:
            from tqdm import tqdm

            # Counted in files, whose number is known before reading (chunks are not): a bar
            # with its total, and the chunks embedded so far beside it.
            self.bar = tqdm(total=files, unit="file", desc="Embedding")

    def add(self, chunks: list[Chunk], titles: dict[str, str]) -> None:
        """The chunks of one file."""
        self.files_pending += 1
        for c in chunks:
            seen = model_text(titles.get(c.doc_id, ""), c.text)
            self.rows.extend((self.count, c.start + s, c.start + e) for s, e in seen.spans)
            self.pending.append((self.count, seen.text, seen.text_spans))
            self.vectors.append(None)
            self.pooled.append(None)
            self.count += 1
        if len(self.pending) >= self.window:
            self._flush()

    def _flush(self) -> None:
        batch = sorted(self.pending, key=lambda p: -len(p[1]))
        self.pending = []
        vecs, pooled = self.encoder.encode_with_spans([p[1] for p in batch], [p[2] for p in batch],
                                                      batch_size=self.batch_size)
        for (i, _, _), v, sv in zip(batch, vecs, pooled):
            self.vectors[i], self.pooled[i] = v, sv
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.count} chunks", refresh=False)
            self.bar.update(self.files_pending)
        self.files_pending = 0

    def finish(self) -> None:
        """Encode what is pending: then every chunk has its vector and sentence vectors."""
        if self.pending:
            self._flush()
        if self.bar is not None:
            self.bar.update(self.files_pending)  # files that gave no chunk
            self.bar.close()
