"""Building the index: corpus files → documents → chunks → vectors and BM25, incrementally.

Each corpus file is hashed (its bytes and its sidecar entries: ``qa.changes``). Files whose
hash is in the previous manifest keep their documents, chunk rows, vectors and term counts;
only added and changed files are read, chunked and embedded (``qa.produce`` in this process,
``qa.distributed`` on Ray); removed files simply are not carried over. This module merges the
kept and the new into the next generation, writes it and commits it.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import dense_kinds, entities, ingest, lexical, store
from .changes import (chrome_digest, compatibility, file_states, line_keys_of, read_line_keys,
                      recurring_lines, write_line_keys)
from .changes import up_to_date  # noqa: F401 - serve.py asks qa.build whether a build is needed
from .chunk import Chunker
from .embed import Encoder, get_encoder
from .produce import Produced, produce_locally
from .settings import Settings
from .types import BuildReport, Document, FileResult

if TYPE_CHECKING:
    from .distributed import RayOptions


class Previous:
    """What the last generation holds, for reuse by an incremental build."""

    def __init__(self, index_dir: Path, manifest: dict[str, Any]) -> None:
        folder = store.generation_dir(index_dir, manifest)
        self.files: dict[str, dict] = manifest.get("files", {})
        self.line_keys = read_line_keys(folder)
        self.docs = store.DocumentStore(folder / "docs.sqlite")
        self.chunks = np.asarray(store.read_chunks(folder))
        self._faiss = dense_kinds.read(folder, manifest["dim"], len(self.chunks),
                                         manifest.get("vector_index", {}).get("type", "flat"))
        self.vectors = dense_kinds.rows_of(folder, self._faiss)  # a view: the index must stay alive
        self.counts, self.vocab = lexical.load_counts(folder)
        self.sentences, self.sentence_vectors = store.read_sentences(folder, len(self.chunks))
        self.sentence_term_counts, _ = lexical.load_counts(folder, prefix="sent_bm25")
        self.pair_counts, _ = lexical.load_counts(folder, prefix="pair_bm25", pairs=True)
        self._sentence_bounds = np.searchsorted(self.sentences[:, 0], np.arange(len(self.chunks) + 1))
        self.rows_of_doc: dict[int, np.ndarray] = {}
        order = np.argsort(self.chunks[:, 0], kind="stable")
        bounds = np.searchsorted(self.chunks[order, 0], np.arange(len(self.docs.meta) + 1))
        for pos in range(len(self.docs.meta)):
            self.rows_of_doc[pos] = order[bounds[pos]:bounds[pos + 1]]


    def sentence_counts(self, rows: np.ndarray) -> np.ndarray:
        return self._sentence_bounds[rows + 1] - self._sentence_bounds[rows]

    def sentences_of(self, rows: np.ndarray) -> np.ndarray:
        """Sentence ids of chunk ``rows``, in row order (sentences are stored grouped by chunk)."""
        return np.concatenate([np.arange(self._sentence_bounds[r], self._sentence_bounds[r + 1])
                               for r in rows]) if len(rows) else np.zeros(0, dtype="int64")


def build(settings: Settings, progress: bool = True, log: Callable[[str], None] = print,
          encoder: Encoder | None = None, ray: "RayOptions | None" = None) -> BuildReport:
    """Build or refresh the index at ``settings.index`` from ``settings.corpus``.

    With ``ray`` (``qa.distributed.RayOptions``) the files to do are read, chunked and embedded
    on a Ray cluster instead of in this process; everything else (what to do, duplicates, the
    writing and the atomic commit) is the same code, so the index is the same.
    """
    started = time.perf_counter()
    root, index_dir = Path(settings.corpus), Path(settings.index)
    if not root.is_dir():
        raise FileNotFoundError(f"Corpus folder not found: {root}/ (set --corpus or QA_CORPUS)")
    if ray is not None and settings.encoder != "torch":
        raise ValueError(f"--ray builds with the torch encoder only, not {settings.encoder}")
    encoder = encoder or get_encoder(settings.model_path, settings.encoder)
    chunker = Chunker(encoder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens)
    report = BuildReport()
    with store.build_lock(index_dir, log=log):
        previous = _previous(index_dir, settings, encoder, report, log)
        sidecar, sidecar_warnings = ingest.load_sidecar(root)
        if sidecar_warnings:
            report.warnings[ingest.SIDECAR_NAME] = list(sidecar_warnings)
        files = ingest.list_files(root)
        old_files = previous.files if previous else {}
        report.removed = sorted(set(old_files) - set(files))

        kept_docs: list[Document] = []
        kept_rows: list[np.ndarray] = []  # per kept doc: its rows in the previous generation
        manifest_files: dict[str, dict] = {}
        digests: dict[str, str] = {}
        for state in file_states(root, files, sidecar):
            if state.digest is None:
                report.failed[state.relpath] = state.error
                manifest_files[state.relpath] = {"hash": None, "error": state.error}
            else:
                digests[state.relpath] = state.digest
        # The site's chrome: lines recurring across files. A file whose share of it changed (a
        # line of it began or stopped recurring) is cleaned again, so an incremental build cleans
        # as a fresh one does.
        line_keys = line_keys_of(root, digests, sidecar, previous.line_keys if previous else {})
        chrome = recurring_lines(line_keys)
        chrome_of = {p: chrome_digest(e["keys"], chrome) for p, e in line_keys.items()}
        same = {p for p, d in digests.items() if previous and old_files.get(p, {}).get("hash") == d}
        report.recleaned = sorted(p for p in same if old_files[p].get("chrome") != chrome_of[p])
        same -= set(report.recleaned)
        # A file held back as a duplicate is read again when the file it duplicated goes or changes.
        moved = set(report.removed) | (set(digests) - same)
        same = {p for p in same if not moved & {d.split("#", 1)[0] for d in old_files[p].get("duplicate_of", [])}}
        seen_texts: dict[str, str] = {}  # text fingerprint → doc id, to index each article once
        for relpath in (p for p in files if p in same):
            old = old_files[relpath]
            report.unchanged.append(relpath)
            manifest_files[relpath] = old
            if old.get("error"):
                report.failed[relpath] = old["error"]
            if old.get("warnings"):
                report.warnings[relpath] = old["warnings"]
            for doc_id in old.get("doc_ids", []):
                pos = previous.docs.position[doc_id]
                kept_docs.append(previous.docs.document(pos))
                kept_rows.append(previous.rows_of_doc[pos])
                seen_texts.setdefault(_fingerprint(kept_docs[-1].text), doc_id)
        todo = [p for p in files if p in digests and p not in same]
        for relpath in todo:
            if relpath not in report.recleaned:
                (report.changed if relpath in old_files else report.added).append(relpath)

        def accept(relpath: str, result: FileResult) -> list[Document]:
            """Record what ingestion made of one file and keep its first-seen articles. Called in
            file order whoever read the file: duplicates are decided by order (first file wins)."""
            entry: dict[str, Any] = {"hash": digests[relpath], "chrome": chrome_of[relpath]}
            warnings = list(result.warnings) + [w for d in result.documents for w in d.warnings]
            unique = []
            for doc in result.documents:
                original = seen_texts.setdefault(_fingerprint(doc.text), doc.doc_id)
                if original == doc.doc_id:
                    unique.append(doc)
                else:
                    warnings.append(f"{doc.doc_id} is a duplicate of {original}: indexed once, as {original}")
                    entry.setdefault("duplicate_of", []).append(original)
            entry["doc_ids"] = [d.doc_id for d in unique]
            if result.error:
                entry["error"] = report.failed[relpath] = result.error
            if warnings:
                entry["warnings"] = report.warnings[relpath] = warnings
            manifest_files[relpath] = entry
            return unique

        t0 = time.perf_counter()
        produced: Produced
        if ray is None:
            produced = produce_locally(root, todo, sidecar, accept, encoder, chunker, settings.batch_size, progress,
                                       chrome=chrome)
        else:
            from .distributed import produce_on_ray  # the only way into Ray: nothing of it is imported otherwise

            produced = produce_on_ray(ray, root, todo, digests, sidecar, accept, settings, encoder.dim, progress, log,
                                      chrome=chrome)
        new_docs, new_chunks, new_sentences = produced.docs, produced.chunks, produced.sentences
        report.embed_seconds = time.perf_counter() - t0
        report.embedded_chunks = len(new_chunks)

        docs = kept_docs + new_docs
        _find_entities(docs, report)
        position = {d.doc_id: i for i, d in enumerate(docs)}
        old_rows = np.concatenate(kept_rows) if kept_rows else np.zeros(0, dtype="int64")
        vocab = dict(previous.vocab) if previous else {}
        chunk_parts, count_parts, pair_parts, vector_parts = [], [], [], []
        sentence_parts, sentence_count_parts, sentence_vector_parts = [], [], []
        if len(old_rows):
            remap = np.array([position.get(m.doc_id, -1) for m in previous.docs.meta], dtype="int32")
            kept = previous.chunks[old_rows].copy()
            kept[:, 0] = remap[kept[:, 0]]
            chunk_parts.append(kept)
            vector_parts.append(previous.vectors[old_rows])
            count_parts.append(previous.counts[old_rows])
            pair_parts.append(previous.pair_counts[old_rows])
            sent_ids = previous.sentences_of(old_rows)
            sents = previous.sentences[sent_ids].copy()
            sents[:, 0] = np.repeat(np.arange(len(old_rows)), previous.sentence_counts(old_rows))
            sentence_parts.append(sents)
            sentence_vector_parts.append(previous.sentence_vectors.take(sent_ids, "float16"))
            sentence_count_parts.append(previous.sentence_term_counts[sent_ids])
        chunk_parts.append(np.array([(position[c.doc_id], c.start, c.end) for c in new_chunks],
                                    dtype="int32").reshape(-1, 3))
        vector_parts.append(produced.vectors)
        doc_title = {d.doc_id: d.title for d in new_docs}
        indexed = [f"{doc_title[c.doc_id]}\n{c.text}" for c in new_chunks]  # what BM25 sees: headline + text
        count_parts.append(lexical.count_matrix(indexed, vocab))
        pair_parts.append(lexical.count_matrix(indexed, None))
        new_sentences[:, 0] += len(old_rows)
        sentence_parts.append(new_sentences)
        sentence_vector_parts.append(produced.sentence_vectors)
        sentence_count_parts.append(lexical.count_matrix(
            (docs[position[new_chunks[r - len(old_rows)].doc_id]].text[s:e] for r, s, e in new_sentences), vocab))
        width = max(len(vocab), 1)
        chunk_rows = np.concatenate(chunk_parts)
        sentences = np.concatenate(sentence_parts)

        folder = store.new_generation(index_dir)
        store.write_documents(folder, docs)
        write_line_keys(folder, line_keys)
        store.write_chunks(folder, chunk_rows)
        all_vectors = np.concatenate(vector_parts)
        # Only appended (nothing removed, kept rows in their old order): the previous FAISS
        # index is extended, not rebuilt: an IVF index keeps its cells instead of training k-means again.
        appended = previous is not None and np.array_equal(old_rows, np.arange(len(previous.chunks)))
        vector_index = dense_kinds.write(folder, all_vectors, dense_kinds.plan(len(all_vectors), settings),
                                           start_from=previous._faiss if appended else None)
        store.write_sentences(folder, sentences, np.concatenate(sentence_vector_parts))
        lexical.save_counts(folder, lexical.stack_rows(count_parts, width), vocab,
                            impacts=(settings.bm25_k1, settings.bm25_b))
        lexical.save_counts(folder, lexical.stack_rows(sentence_count_parts, width), None, prefix="sent_bm25")
        lexical.save_counts(folder, lexical.stack_rows(pair_parts, lexical.BIGRAM_BUCKETS), None, prefix="pair_bm25")
        report.documents, report.chunks = len(docs), len(chunk_rows)
        report.seconds = time.perf_counter() - started
        manifest = {
            "model": settings.model_name,
            "dim": encoder.dim,
            "chunking": settings.chunking(),
            "ingest_version": ingest.INGEST_VERSION,
            "entities": entities.version(),
            "vector_index": vector_index,
            "settings": settings.to_dict(),
            "counts": {"files": len(files), "documents": len(docs), "chunks": len(chunk_rows),
                   "sentences": len(sentences)},
            "files": manifest_files,
            "last_build": {k: v for k, v in report.to_dict().items() if k != "unchanged"},
        }
        store.commit_generation(index_dir, folder, manifest)
        if previous:
            previous.docs.close()
    report.seconds = time.perf_counter() - started
    return report


def _find_entities(docs: list[Document], report: BuildReport) -> None:
    """The named entities of the articles that have none yet (new ones, and kept ones of an index
    built before they were kept), in this process (``qa.entities``; on a Ray build too)."""
    missing = [d for d in docs if d.entities is None]
    reason = entities.available()
    report.entities = reason or entities.version()
    if reason is not None or not missing:
        return
    t0 = time.perf_counter()
    for doc, found in zip(missing, entities.find([d.text for d in missing])):
        doc.entities = found
    report.entity_seconds = time.perf_counter() - t0


def _previous(index_dir: Path, settings: Settings, encoder: Encoder, report: BuildReport,
              log: Callable[[str], None]) -> Previous | None:
    if not (index_dir / store.MANIFEST).exists():
        return None
    try:
        manifest = store.read_manifest(index_dir)
        reason = compatibility(manifest, settings, encoder.dim)
        if reason is None:
            return Previous(index_dir, manifest)
    except (store.IndexProblem, KeyError, ValueError) as exc:
        reason = f"the previous index is unusable ({exc})"
    report.rebuilt_reason = reason
    log(f"Rebuilding the whole index: {reason}")
    return None


def _fingerprint(text: str) -> str:
    """Same article, same fingerprint: case and white space do not count."""
    return hashlib.sha1(" ".join(text.casefold().split()).encode()).hexdigest()
