"""Ingestion: corpus files in, cleaned Documents (article text and metadata) out.

This module lists the corpus and reads one file (refusing what must not be read); the stages
it runs live beside it, one job each: ``decode`` (bytes to text), ``formats`` (which format,
and text, Markdown and HTML pages to Documents), ``jsonfiles`` (JSON and JSON Lines records,
salvage), ``markup`` (HTML and Markdown to plain text), ``clean`` (chrome removed; headline,
byline and dateline found), ``dates`` and ``metadata`` (field values, the sidecar, guesses).

Formats are recognised by content; a file's extension is only a hint:

- plain text (``.txt``) and Markdown (``.md``; the first ``# `` heading is the title);
- HTML (``.html``/``.htm``): title from og:title/<h1>/<title>, date from
  article:published_time/<time datetime>, url from the canonical link, publisher from
  og:site_name, author from meta author; JSON-LD NewsArticle data is used too;
- JSON (``.json``): one article object (title, text/body/content, url/link, published/date,
  author/authors, publisher), a WordPress REST post (``{"rendered": "<html>"}`` fields) or a
  list of articles. JSON cut off mid-way is salvaged up to the cut, with a warning;
- JSON Lines (``.jsonl``): one article a line; a bad line costs that line only (a warning).

Text is decoded as UTF-8 (BOM or not), UTF-16/32 with a BOM, Korean CP949/EUC-KR when that
reads as Hangul, else Windows-1252 (with a warning). A file that cannot be used (empty,
binary, too large, unreadable, no article text) gives a ``FileResult`` whose ``error`` says
why: ``read_file`` never raises. A multi-record file gives one Document per record, with
doc id ``path#key`` (the record's unique ``id``, else its 1-based line or array index).

Sidecar metadata (``qa-metadata.json``)
---------------------------------------
Metadata the files leave out can be given in ``qa-metadata.json`` at the corpus root: a JSON
object keyed by doc id (``"000_82916424e9c57ef5.txt"``, ``"archive.jsonl#123"``) or by file
path (then it applies to every record of that file), whose values are objects with any of
``title``, ``url``, ``published`` (``YYYY-MM-DD``), ``author`` and ``publisher``. Keys that
start with ``_`` are comments. Sidecar values override what was detected in the file::

    {
      "_comment": "Metadata the article files leave out.",
      "000_82916424e9c57ef5.txt": {"url": "https://...", "publisher": "The Korea Times"},
      "archive.jsonl#123": {"published": "2019-01-21"}
    }

A malformed sidecar, entry or field is reported as a warning by ``load_sidecar`` and ignored.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .decode import decode_bytes
from .formats import detect_format, parse_text
from .jsonfiles import TolerantJSON, load_json, record_document
from .metadata import SIDECAR_NAME, complete, load_sidecar, publisher_from_url
from .types import Document, FileResult, Unusable

# Ingestion's stages live in decode, formats, jsonfiles, metadata, markup, clean and dates;
# these names stay importable from here, where the build and the tests have always found them.
__all__ = ["INGEST_VERSION", "MAX_FILE_BYTES", "SIDECAR_NAME", "TolerantJSON", "decode_bytes",
           "detect_format", "list_files", "load_json", "load_sidecar", "parse_text",
           "publisher_from_url", "read_file", "record_document", "refusal"]

INGEST_VERSION = 3  # bump when cleaning output changes, so indexes get rebuilt
MAX_FILE_BYTES = 50 * 1024 * 1024


def list_files(root: Path) -> list[str]:
    """Sorted posix paths of the corpus files under ``root``, relative to it.

    Hidden files and folders and the sidecar are left out. Entries that cannot be read as
    files (links out of the corpus or in a loop, pipes, devices) are listed all the same, so
    that the build reports them: ``refusal`` says why each one is not read.
    """
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            rel = (Path(folder) / name).relative_to(root).as_posix()
            if not name.startswith(".") and rel != SIDECAR_NAME:
                found.append(rel)
    return sorted(found)


def refusal(root: Path, relpath: str) -> str | None:
    """Why the corpus entry ``relpath`` must not be read, or None when it is a regular file in the corpus."""
    path = Path(root) / relpath
    try:
        real = path.resolve(strict=True)
    except RuntimeError:
        return "a symbolic link in a loop: not read"
    except FileNotFoundError:
        return "cannot read: file not found" + (" (a broken symbolic link)" if path.is_symlink() else "")
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not real.is_relative_to(Path(root).resolve()):
        return "a symbolic link pointing outside the corpus: not read"
    try:
        mode = real.stat().st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device): not read"
    return None


def read_file(root: Path, relpath: str, sidecar: dict[str, dict] | None = None) -> FileResult:
    """Read one corpus file into Documents; never raises: ``error`` says what went wrong."""
    result = FileResult(path=relpath)
    result.error = refusal(root, relpath)
    if result.error:
        return result
    if sidecar is None:
        sidecar = load_sidecar(root).entries
    try:
        found, result.warnings = _read_documents(Path(root) / relpath, relpath)
        for doc in found:
            doc.doc_id = relpath + doc.doc_id
            if doc.text:
                result.documents.append(complete(doc, sidecar))
            else:
                result.warnings.append(f"{doc.doc_id}: no article text found; record skipped")
    except Unusable as exc:
        result.error = str(exc)
        return result
    except Exception as exc:  # noqa: BLE001 - the contract: a bad file never stops a build
        result.documents, result.error = [], f"could not be read ({type(exc).__name__}: {exc})"
        return result
    if not result.documents:
        result.error = "no article text found" if len(found) <= 1 else (
            "no article text found in any record")
    return result


def _read_documents(path: Path, relpath: str) -> tuple[list[Document], list[str]]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise Unusable(f"file is too large ({size / 2**20:.0f} MB; the limit is "
                           f"{MAX_FILE_BYTES // 2**20} MB): split it into smaller files")
        data = path.read_bytes()
    except PermissionError:
        raise Unusable("permission denied: the file cannot be read") from None
    except FileNotFoundError:
        raise Unusable("file not found (a broken link?)") from None
    except IsADirectoryError:
        raise Unusable("is a folder, not a file") from None
    except OSError as exc:
        raise Unusable(f"cannot be read: {exc.strerror or exc}") from None
    decoded = decode_bytes(data)
    found = parse_text(decoded.text, Path(relpath).suffix.lower(), len(data), decoded.warnings)
    return found, decoded.warnings
