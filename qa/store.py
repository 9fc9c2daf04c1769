"""The index on disk: a manifest naming one complete generation of files.

```
index/
  manifest.json          the commit point: format, model, chunking, files, generation
  gen-000003/
    docs.sqlite          documents (metadata and cleaned text)
    chunks.npy           int32 rows (doc position, start, end), one per vector
    vectors.faiss        normalised embeddings: exact inner-product FAISS index, or IVF-Flat
                         (inner product) past ``ann_min_chunks``; the manifest says which
    vectors.npy          IVF only: the same vectors in row order
    bm25_*.npy, bm25_vocab.json   term counts per chunk, row lengths, document frequencies,
                         posting lists (the counts by term), all memory-mapped by the engine
    sentences.npy        int32 rows (chunk row, start, end) of each chunk's sentences
    sentence_vectors.npy, sentence_vector_scales.npy   their vectors as int8 codes and one
                         scale per sentence (held in memory by the engine: read at every question)
    sent_bm25_*.npy      term counts per sentence (read into memory by the engine, which scores
                         the sentences of a question's candidates from their rows)
    pair_bm25_*.npy      counts of hashed adjacent word pairs per chunk, with posting lists
    .readers             readers' leases: every open generation holds a shared flock on it
  .build.lock            held by the build that is running
```
A build writes a new generation folder, then replaces ``manifest.json`` atomically; a build
killed at any point leaves the previous manifest pointing at the previous, whole generation.
An old generation is deleted only when no reader holds its lease (``Lease``: a shared flock
on ``.readers``, which the kernel drops when the reader's process dies, so a dead reader's
lease never blocks anything); a leased one is left for the reader that lets it go, or a later
build, to delete (``delete_unleased``).
Nothing is pickled: JSON, SQLite, ``.npy`` without pickle, and FAISS's own format.
``vectors.faiss`` is written and read by ``dense_kinds`` (its kinds: ``dense_flat``, ``dense_ivf``);
the readers of ``.npy`` files are in ``index_files``.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .index_files import IndexProblem, RowReader, huge_pages, read_resident  # noqa: F401 (public here too)
from .types import Document

# 2: sentences; 3: word-pair counts; 4: stored BM25 statistics and postings, IVF;
# 5: int8 sentence vectors, posting lists for sentence and pair counts (sentence posting lists
#    are no longer written or read: an index with or without them is the same format 5)
FORMAT_VERSION = 5
MANIFEST = "manifest.json"
LOCK = ".build.lock"
READERS = ".readers"
DOC_FIELDS = ("doc_id", "title", "url", "published", "author", "publisher")


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = Path(index_dir) / MANIFEST
    if not Path(index_dir).is_dir() or not path.exists():
        raise IndexProblem(f'Index not found at {index_dir}/: run "qa build" to create it')
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexProblem(f'Index manifest at {path} is unreadable ({exc}): run "qa build" to rebuild it') from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexProblem(
            f"Index at {index_dir}/ has format version {found}, this program reads {FORMAT_VERSION}: "
            'run "qa build" to rebuild it'
        )
    return manifest


def generation_dir(index_dir: Path, manifest: dict[str, Any]) -> Path:
    gen = manifest.get("generation")
    if not isinstance(gen, str) or "/" in gen or gen.startswith("."):
        raise IndexProblem(f'Index manifest at {index_dir}/ names no generation: run "qa build" to rebuild it')
    return Path(index_dir) / gen


@contextmanager
def build_lock(index_dir: Path, wait: bool = True, log=print) -> Iterator[None]:
    """Hold the index's build lock; a second build waits for the first (or stops if ``wait`` is False)."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(index_dir) / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise IndexProblem(f"Another build of {index_dir}/ is running: try again when it ends") from None
            log(f"Another build of {index_dir}/ is running; waiting for it to finish...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_generation(index_dir: Path) -> Path:
    """A fresh, empty folder for the next generation (leftovers of killed builds are removed)."""
    index_dir = Path(index_dir)
    for stale in [*index_dir.glob("gen-*.tmp"), *index_dir.glob("gen-*.del")]:
        shutil.rmtree(stale, ignore_errors=True)
    numbers = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    name = f"gen-{max(numbers, default=0) + 1:06d}"
    folder = index_dir / f"{name}.tmp"
    folder.mkdir(parents=True)
    (folder / READERS).touch()  # readers lease the generation on it (``Lease``)
    return folder


def commit_generation(index_dir: Path, folder: Path, manifest: dict[str, Any], log=None) -> None:
    """Make ``folder`` the index: fsync it, rename it into place, swap the manifest atomically;
    then delete the old generations no reader holds (the others are said to ``log``)."""
    index_dir = Path(index_dir)
    final = folder.with_suffix("")
    for path in folder.iterdir():
        _fsync(path)
    os.replace(folder, final)
    manifest = dict(manifest, generation=final.name, format_version=FORMAT_VERSION,
                    built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    tmp = index_dir / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, index_dir / MANIFEST)
    _fsync(index_dir)
    delete_unleased(index_dir, keep=final.name, log=log)


class GenerationGone(IndexProblem):
    """The generation a manifest named was deleted before a reader could lease it: read the
    manifest again and open the generation it names now."""


def generation_number(name: str) -> int | None:
    return int(name[4:]) if name.startswith("gen-") and name[4:].isdigit() else None


class Lease:
    """A reader's hold on one generation folder: while it is held, no build deletes the folder.

    A shared ``flock`` on the folder's ``.readers`` file (a deleter takes it exclusively, without
    waiting, and deletes only when it gets it). ``GenerationGone`` when the folder is gone, or
    was being deleted while this lease was taken.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        path = self.folder / READERS
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise GenerationGone(f"Generation {self.folder.name} of {self.folder.parent}/ is gone") from None
        except PermissionError:  # a read-only index of another user: no lease (and no build here)
            fd = os.open(path, os.O_RDONLY) if path.exists() else -1
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # deleted (renamed away) while we waited for the lock
                os.close(fd)
                raise GenerationGone(f"Generation {self.folder.name} of {self.folder.parent}/ is gone")
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def __del__(self) -> None:  # an engine dropped without close() lets go of its generation
        try:
            self.release()
        except (AttributeError, OSError):
            pass


def delete_unleased(index_dir: Path, keep: str | None = None, log=None) -> list[str]:
    """Delete every generation folder but ``keep`` (default: the manifest's) that no reader
    leases; the leased ones are left (and said to ``log``). Returns the names deleted.

    Only folders numbered below ``keep`` are touched, so a generation being committed (renamed
    into place, its manifest not written yet) is never taken for an old one.
    """
    index_dir = Path(index_dir)
    if keep is None:
        try:
            keep = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["generation"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
    newest = generation_number(keep)
    if newest is None:
        return []
    for dead in index_dir.glob("gen-*.del"):  # the rest of an interrupted delete
        shutil.rmtree(dead, ignore_errors=True)
    deleted = []
    for old in sorted(index_dir.glob("gen-*")):
        number = generation_number(old.name)
        if number is None or number >= newest or not old.is_dir():
            continue
        try:
            fd = os.open(old / READERS, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if log:
                    log(f"Kept {old.name}: a reader still has it open (deleted when it lets it go)")
                continue
            # Renamed first, under the lock: a reader arriving now finds no folder at all.
            doomed = old.with_name(old.name + ".del")
            try:
                os.replace(old, doomed)
            except OSError:
                continue
        finally:
            os.close(fd)
        shutil.rmtree(doomed, ignore_errors=True)
        deleted.append(old.name)
    return deleted


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- documents -------------------------------------------------------------------------------

def write_documents(folder: Path, docs: list[Document]) -> None:
    con = sqlite3.connect(folder / "docs.sqlite")
    with con:
        con.execute(
            "CREATE TABLE docs (pos INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, title TEXT, url TEXT, "
            "published TEXT, author TEXT, publisher TEXT, warnings TEXT, text TEXT NOT NULL, entities TEXT)"
        )
        con.executemany(
            "INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?)",
            ((i, d.doc_id, d.title, d.url, d.published, d.author, d.publisher,
              json.dumps(d.warnings, ensure_ascii=False), d.text,
              None if d.entities is None else json.dumps(d.entities, separators=(",", ":")))
             for i, d in enumerate(docs)),
        )
    con.close()


@dataclass
class DocMeta:
    """A document's metadata without its text, held in memory for filters and citations."""

    doc_id: str
    title: str
    url: str | None
    published: str | None
    author: str | None
    publisher: str | None


class DocumentStore:
    """Read access to the documents of one generation."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise IndexProblem(f'Index file {path} is missing: run "qa build" to rebuild the index')
        try:
            self._con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            rows = self._con.execute(
                "SELECT doc_id, title, url, published, author, publisher FROM docs ORDER BY pos").fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexProblem(f'Index file {path} is damaged ({exc}): run "qa build" to rebuild the index') from exc
        self.meta = [DocMeta(*row) for row in rows]
        # An index built before named entities were kept has no such column (qa.entities).
        self.has_entities = any(c[1] == "entities" for c in self._con.execute("PRAGMA table_info(docs)"))
        self.position = {m.doc_id: i for i, m in enumerate(self.meta)}

    def texts(self, positions: list[int]) -> dict[int, str]:
        marks = ",".join("?" * len(positions))
        rows = self._con.execute(f"SELECT pos, text FROM docs WHERE pos IN ({marks})",
                                 [int(p) for p in positions]).fetchall()
        return dict(rows)

    def document(self, pos: int) -> Document:
        row = self._con.execute(
            "SELECT doc_id, text, title, url, published, author, publisher, warnings FROM docs WHERE pos=?",
            (int(pos),)).fetchone()
        return Document(doc_id=row[0], text=row[1], title=row[2] or "", url=row[3], published=row[4],
                        author=row[5], publisher=row[6], warnings=json.loads(row[7] or "[]"),
                        entities=self.entities(pos))

    def entities(self, pos: int) -> list[tuple[int, int, str]] | None:
        """The named entities (start, end, label) the build found in document ``pos``; None when
        it looked for none (``qa.entities``), or when what it kept cannot be read."""
        if not self.has_entities:
            return None
        row = self._con.execute("SELECT entities FROM docs WHERE pos=?", (int(pos),)).fetchone()
        if not row or row[0] is None:
            return None
        try:
            return [(int(s), int(e), str(label)) for s, e, label in json.loads(row[0])]
        except (ValueError, TypeError):
            return None  # a damaged cell costs the quote its entities, not the answer

    def close(self) -> None:
        self._con.close()


# --- chunks and vectors ----------------------------------------------------------------------

def write_chunks(folder: Path, rows: np.ndarray) -> None:
    np.save(folder / "chunks.npy", np.asarray(rows, dtype="int32").reshape(-1, 3), allow_pickle=False)


def read_chunks(folder: Path) -> np.ndarray:
    path = folder / "chunks.npy"
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexProblem(f'Index file {path} is missing or damaged ({exc}): run "qa build" to rebuild the index') from exc


def write_sentences(folder: Path, rows: np.ndarray, vectors: np.ndarray) -> None:
    """Sentence rows ``(chunk row, doc start, doc end)``, grouped by chunk, and their vectors as
    int8 codes with one scale each (``SentenceVectors``)."""
    np.save(folder / "sentences.npy", np.asarray(rows, dtype="int32").reshape(-1, 3), allow_pickle=False)
    codes, scales = quantize(vectors)
    np.save(folder / "sentence_vectors.npy", codes, allow_pickle=False)
    np.save(folder / "sentence_vector_scales.npy", scales, allow_pickle=False)


def quantize(vectors, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Vectors as int8 codes and one float32 scale per row: ``codes * scale`` ≈ the vector.

    Each row's largest component maps to ±127, so quantising a dequantised row gives the same
    codes again (an incremental build copies old sentences through it unchanged). Done in
    blocks of rows: a million chunks have 4-7 million sentences.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        vectors = vectors.reshape(len(vectors), -1) if vectors.size else vectors.reshape(0, 0)
    codes = np.empty(vectors.shape, dtype="int8")
    scales = np.empty(len(vectors), dtype="float32")
    for lo in range(0, len(vectors), block):
        v = vectors[lo:lo + block].astype("float32")
        top = np.abs(v).max(axis=1, initial=0.0)
        scale = np.where(top > 0, top / 127.0, 1.0).astype("float32")
        codes[lo:lo + block] = np.clip(np.rint(v / scale[:, None]), -127, 127)
        scales[lo:lo + block] = scale
    return codes, scales


class SentenceVectors:
    """Sentence vectors as int8 codes and a scale per row (a quarter of float32's bytes).

    Ranking reads a few hundred of them for every question, scattered over the index: the
    engine holds them in memory (1.7 GB per million chunks, read once at open) rather than
    reading them from disk per question. ``v[ids]`` gives float32 rows, ``dot(ids, q)`` the
    cosines with a query vector without making them.
    """

    def __init__(self, codes: np.ndarray, scales: np.ndarray) -> None:
        self.codes, self.scales = codes, scales
        self.shape = codes.shape

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, ids) -> np.ndarray:
        return self.take(ids)

    def take(self, ids, dtype: str = "float32") -> np.ndarray:
        """Rows ``ids`` as vectors (float16 is enough to quantise them again to the same codes)."""
        ids = np.asarray(ids, dtype="int64")
        return (self.codes[ids].astype("float32") * self.scales[ids, None]).astype(dtype, copy=False)

    def dot(self, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype="int64")
        return (self.codes[ids].astype("float32") @ np.asarray(query, dtype="float32").ravel()) * self.scales[ids]

    def __array__(self, dtype=None, copy=None):
        whole = self[np.arange(len(self))]
        return whole if dtype is None else whole.astype(dtype)


def read_sentences(folder: Path, chunk_count: int, memory_limit: float | None = None
                   ) -> tuple[np.ndarray, SentenceVectors]:
    """Sentence rows and vectors, memory-mapped (``memory_limit`` None: a build reading them
    once), or for the engine, which reads scattered rows of them at every question: the rows
    and the vectors read into memory if the vectors take at most ``memory_limit`` bytes, else
    the vectors read from disk by row (``RowReader``) as questions ask for them."""
    resident = memory_limit is not None
    try:
        load = read_resident if resident else (lambda p: np.load(p, mmap_mode="r", allow_pickle=False))
        rows = load(folder / "sentences.npy")
        scales = load(folder / "sentence_vector_scales.npy")
        path = folder / "sentence_vectors.npy"
        if resident and path.stat().st_size > memory_limit:
            codes = RowReader(path)
        else:
            codes = load(path)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexProblem(f'Sentence files in {folder} are missing or damaged ({exc}): run "qa build"') from exc
    if rows.ndim != 2 or len(codes.shape) != 2 or codes.dtype != np.int8 or scales.shape != (len(codes),) \
            or len(rows) != len(codes) or (len(rows) and int(rows[-1, 0]) >= chunk_count):
        raise IndexProblem(f'Sentence files in {folder} disagree with the chunks: run "qa build"')
    # Plain array views of the maps: np.memmap's own indexing costs more than the gather.
    return np.asarray(rows), SentenceVectors(codes if isinstance(codes, RowReader) else np.asarray(codes),
                                             np.asarray(scales))

