"""The opened generation: every file of an index's current generation, opened once and checked.

The engine and the retriever are handed what they need from here; nothing else opens index
files for answering.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import lexical, store
from .dense import DenseIndex
from .dense_kinds import open_dense
from .lexical import BM25
from .store import DocumentStore, GenerationGone, IndexProblem, SentenceVectors  # noqa: F401 (GenerationGone: public here too)


@dataclass
class Generation:
    """One generation's files, open read-only.

    ``vectors`` are the chunk vectors in row order (the cosines of candidates the dense search
    did not return, and filtered search); ``sentences`` are rows ``(chunk row, doc start, doc
    end)`` grouped by chunk row, with one vector each (``sentence_vectors``); ``sentence_bm25``
    counts terms per sentence (its IDF is the chunk index's); ``pair_bm25`` counts adjacent word
    pairs per chunk.
    """

    index_dir: Path
    manifest: dict[str, Any]
    docs: DocumentStore
    chunk_doc: np.ndarray  # the document position of every chunk row
    chunk_span: np.ndarray  # (start, end) of every chunk row in its document's text
    dense: DenseIndex
    vectors: Any
    bm25: BM25
    sentences: np.ndarray
    sentence_vectors: SentenceVectors
    sentence_bm25: BM25
    pair_bm25: BM25
    lease: store.Lease | None = None  # held from open to close: no build deletes the folder meanwhile

    @property
    def name(self) -> str:
        """The generation's folder name (``gen-000003``): what an answer says it came from."""
        return str(self.manifest.get("generation"))

    def close(self) -> None:
        """Close its files and let go of its lease; when the index has moved on to a newer
        generation, the folder is deleted if no other reader holds it."""
        self.docs.close()
        if self.lease is not None and self.lease.held:
            self.lease.release()
            try:
                store.delete_unleased(self.index_dir)
            except OSError:
                pass

    @staticmethod
    def manifest_of(index_dir: Path) -> dict[str, Any]:
        """The index's manifest (``IndexProblem`` when it is missing or of another format)."""
        return store.read_manifest(index_dir)

    @classmethod
    def open(cls, index_dir: Path, manifest: dict[str, Any], settings) -> "Generation":
        """Open the generation ``manifest`` names, as ``settings`` say (BM25 ``k1``/``b``, IVF
        ``nprobe``, the memory for sentence vectors); ``IndexProblem`` when its files are missing,
        damaged or disagree with each other or with the manifest."""
        folder = store.generation_dir(index_dir, manifest)
        lease = store.Lease(folder)  # GenerationGone when a build deleted it since the manifest was read
        try:
            return cls._open(index_dir, manifest, settings, folder, lease)
        except BaseException:
            lease.release()
            raise

    @classmethod
    def _open(cls, index_dir: Path, manifest: dict[str, Any], settings, folder: Path, lease) -> "Generation":
        docs = DocumentStore(folder / "docs.sqlite")
        chunks = store.read_chunks(folder)
        counts = manifest.get("counts", {})
        if len(chunks) != counts.get("chunks") or len(docs.meta) != counts.get("documents"):
            raise IndexProblem(
                f'Index at {index_dir}/ is inconsistent (its files disagree with its manifest): '
                'run "qa build" to rebuild it')
        dense = open_dense(folder, manifest["dim"], len(chunks),
                           manifest.get("vector_index", {}).get("type", "flat"), mapped=False,
                           nprobe=settings.ivf_nprobe)
        k1, b = settings.bm25_k1, settings.bm25_b
        try:  # memory-mapped, with the statistics the build stored: nothing recomputed here
            vocab = lexical.load_vocab(folder)
            chunk_bm25 = lexical.open_bm25(folder, "bm25", vocab, k1, b)
            # in memory: a question reads the rows of a few hundred candidate sentences
            sentence_bm25 = lexical.open_bm25(folder, "sent_bm25", vocab, k1, b, resident=True)
            pair_bm25 = lexical.open_bm25(folder, "pair_bm25", None, k1, b, pairs=True)
        except (OSError, ValueError) as exc:
            raise IndexProblem(
                f'Index at {index_dir}/ has a missing or damaged BM25 file ({exc}): run "qa build"') from exc
        # In memory: every question reads a few hundred sentence vectors, scattered (int8: 1.7 GB
        # per million chunks); from disk they cost a read each (README "Speed").
        sentences, sentence_vectors = store.read_sentences(
            folder, len(chunks), memory_limit=settings.sentence_vectors_in_memory_gb * 2**30)
        if chunk_bm25.size != len(chunks) or sentence_bm25.size != len(sentences) or pair_bm25.size != len(chunks):
            raise IndexProblem(f'Index at {index_dir}/ is inconsistent: run "qa build" to rebuild it')
        return cls(index_dir=Path(index_dir), manifest=manifest, docs=docs,
                   chunk_doc=np.ascontiguousarray(chunks[:, 0]), chunk_span=np.ascontiguousarray(chunks[:, 1:3]),
                   dense=dense, vectors=dense.rows(folder, in_memory=True), bm25=chunk_bm25,
                   sentences=sentences, sentence_vectors=sentence_vectors, sentence_bm25=sentence_bm25,
                   pair_bm25=pair_bm25, lease=lease)

    @property
    def size(self) -> int:
        return self.dense.size
