"""Building the index: corpus files → documents → chunks → vectors and BM25, incrementally.

Each corpus file is hashed (its bytes and its sidecar entries). Files whose hash is in the
previous manifest keep their documents, chunk rows, vectors and term counts; only added and
changed files are read, chunked and embedded; removed files simply are not carried over.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import ingest, lexical, store
from .chunk import TITLE_TOKENS, Chunker
from .embed import Encoder, get_encoder
from .settings import Settings
from .types import BuildReport, Chunk, Document, FileResult


def _checkpoint(name: str) -> None:
    """Fault injection for the crash tests: ``QA_CRASH_AT=name`` kills the build here, for real."""
    if os.environ.get("QA_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def file_hash(root: Path, relpath: str, sidecar: dict[str, dict]) -> str:
    digest = hashlib.sha256()
    with open(root / relpath, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    entries = {k: v for k, v in sidecar.items() if k == relpath or k.startswith(relpath + "#")}
    if entries:
        digest.update(json.dumps(entries, sort_keys=True).encode())
    return digest.hexdigest()


def compatibility(manifest: dict[str, Any], settings: Settings, encoder: Encoder) -> str | None:
    """Why an old index cannot be extended by this build (None when it can)."""
    if manifest.get("model") != settings.model_name:
        return f"model changed ({manifest.get('model')} → {settings.model_name})"
    if manifest.get("dim") != encoder.dim:
        return f"dimension changed ({manifest.get('dim')} → {encoder.dim})"
    if manifest.get("chunking") != settings.chunking():
        return f"chunk settings changed ({manifest.get('chunking')} → {settings.chunking()})"
    if manifest.get("ingest_version") != ingest.INGEST_VERSION:
        return "ingestion changed since the last build"
    return None


class Previous:
    """What the last generation holds, for reuse by an incremental build."""

    def __init__(self, index_dir: Path, manifest: dict[str, Any]) -> None:
        folder = store.generation_dir(index_dir, manifest)
        self.files: dict[str, dict] = manifest.get("files", {})
        self.docs = store.DocumentStore(folder / "docs.sqlite")
        self.chunks = np.asarray(store.read_chunks(folder))
        self._faiss = store.read_vectors(folder, manifest["dim"], len(self.chunks))
        self.vectors = store.flat_vectors(self._faiss)  # a view: the index must stay alive
        self.counts, self.vocab = lexical.load_counts(folder)
        self.rows_of_doc: dict[int, np.ndarray] = {}
        order = np.argsort(self.chunks[:, 0], kind="stable")
        bounds = np.searchsorted(self.chunks[order, 0], np.arange(len(self.docs.meta) + 1))
        for pos in range(len(self.docs.meta)):
            self.rows_of_doc[pos] = order[bounds[pos]:bounds[pos + 1]]


def build(settings: Settings, progress: bool = True, log: Callable[[str], None] = print,
          encoder: Encoder | None = None) -> BuildReport:
    """Build or refresh the index at ``settings.index`` from ``settings.corpus``."""
    started = time.perf_counter()
    root, index_dir = Path(settings.corpus), Path(settings.index)
    if not root.is_dir():
        raise FileNotFoundError(f"Corpus folder not found: {root}/ (set --corpus or QA_CORPUS)")
    encoder = encoder or get_encoder(settings.model_path)
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
        fresh: list[FileResult] = []
        manifest_files: dict[str, dict] = {}
        for relpath in files:
            try:
                digest = file_hash(root, relpath, sidecar)
            except OSError as exc:
                report.failed[relpath] = f"cannot read: {exc.strerror or exc}"
                manifest_files[relpath] = {"hash": None, "error": report.failed[relpath]}
                continue
            old = old_files.get(relpath)
            if previous and old and old.get("hash") == digest:
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
                continue
            (report.changed if old else report.added).append(relpath)
            result = ingest.read_file(root, relpath, sidecar)
            fresh.append(result)
            entry: dict[str, Any] = {"hash": digest, "doc_ids": [d.doc_id for d in result.documents]}
            warnings = list(result.warnings) + [w for d in result.documents for w in d.warnings]
            if result.error:
                entry["error"] = report.failed[relpath] = result.error
            if warnings:
                entry["warnings"] = report.warnings[relpath] = warnings
            manifest_files[relpath] = entry

        new_docs = [d for r in fresh for d in r.documents]
        new_chunks = chunker.split_many(new_docs)
        titles = {d.doc_id: _title_prefix(encoder, d.title) for d in new_docs}
        t0 = time.perf_counter()
        new_vectors = _embed(encoder, [_embedded(titles[c.doc_id], c) for c in new_chunks],
                             settings.batch_size, progress)
        report.embed_seconds = time.perf_counter() - t0
        report.embedded_chunks = len(new_chunks)

        docs = kept_docs + new_docs
        position = {d.doc_id: i for i, d in enumerate(docs)}
        old_rows = np.concatenate(kept_rows) if kept_rows else np.zeros(0, dtype="int64")
        chunk_rows = np.zeros((len(old_rows) + len(new_chunks), 3), dtype="int32")
        vocab = dict(previous.vocab) if previous else {}
        parts = []
        vectors = np.zeros((len(chunk_rows), encoder.dim), dtype="float32")
        if len(old_rows):
            remap = np.zeros(len(previous.docs.meta), dtype="int32")
            for pos, m in enumerate(previous.docs.meta):
                remap[pos] = position.get(m.doc_id, -1)
            chunk_rows[: len(old_rows)] = previous.chunks[old_rows]
            chunk_rows[: len(old_rows), 0] = remap[previous.chunks[old_rows, 0]]
            vectors[: len(old_rows)] = previous.vectors[old_rows]
            parts.append(previous.counts[old_rows])
        for i, c in enumerate(new_chunks, start=len(old_rows)):
            chunk_rows[i] = (position[c.doc_id], c.start, c.end)
        if len(new_chunks):
            vectors[len(old_rows):] = new_vectors
        doc_title = {d.doc_id: d.title for d in new_docs}
        parts.append(lexical.count_matrix((f"{doc_title[c.doc_id]}\n{c.text}" for c in new_chunks), vocab))
        counts = lexical.stack_rows(parts, max(len(vocab), 1))

        folder = store.new_generation(index_dir)
        store.write_documents(folder, docs)
        store.write_chunks(folder, chunk_rows)
        store.write_vectors(folder, vectors)
        lexical.save_counts(folder, counts, vocab)
        _checkpoint("writing")
        report.documents, report.chunks = len(docs), len(chunk_rows)
        report.seconds = time.perf_counter() - started
        manifest = {
            "model": settings.model_name,
            "dim": encoder.dim,
            "chunking": settings.chunking(),
            "ingest_version": ingest.INGEST_VERSION,
            "settings": settings.to_dict(),
            "counts": {"files": len(files), "documents": len(docs), "chunks": len(chunk_rows)},
            "files": manifest_files,
            "last_build": {k: v for k, v in report.to_dict().items() if k != "unchanged"},
        }
        store.commit_generation(index_dir, folder, manifest)
        if previous:
            previous.docs.close()
    report.seconds = time.perf_counter() - started
    return report


def _previous(index_dir: Path, settings: Settings, encoder: Encoder, report: BuildReport,
              log: Callable[[str], None]) -> Previous | None:
    if not (index_dir / store.MANIFEST).exists():
        return None
    try:
        manifest = store.read_manifest(index_dir)
        reason = compatibility(manifest, settings, encoder)
        if reason is None:
            return Previous(index_dir, manifest)
    except store.IndexProblem as exc:
        reason = f"the previous index is unusable ({exc})"
    except (KeyError, ValueError) as exc:
        reason = f"the previous index is unusable ({exc})"
    report.rebuilt_reason = reason
    log(f"Rebuilding the whole index: {reason}")
    return None


def _title_prefix(encoder: Encoder, title: str) -> str:
    return encoder.truncate(title, TITLE_TOKENS) if title else ""


def _embedded(title: str, chunk: Chunk) -> str:
    return f"{title}\n{chunk.text}" if title else chunk.text


def _embed(encoder: Encoder, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, encoder.dim), dtype="float32")
    # Longest first keeps padding low inside each batch; results go back to their places.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), encoder.dim), dtype="float32")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit="chunk", desc="Embedding")
    step = batch_size * 4
    for lo in range(0, len(order), step):
        ids = order[lo:lo + step]
        out[ids] = encoder.encode([texts[i] for i in ids], batch_size=batch_size)
        _checkpoint("embedding")
        if bar:
            bar.update(len(ids))
    if bar:
        bar.close()
    return out
