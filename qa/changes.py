"""What a build has to redo: each corpus file's hash, and whether the last index can be extended.

A file's hash covers its bytes and its sidecar entries; a build re-reads only files whose hash
is not in the previous manifest. ``up_to_date`` answers "would a build do nothing?" from the
hashes alone, without loading the model (``serve.py`` serves such an index at once).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from . import ingest, store
from .settings import Settings


class FileState(NamedTuple):
    """One corpus file as the manifest records it: its hash, or (``digest`` None) why it has none."""

    relpath: str
    digest: str | None
    error: str | None


def file_hash(root: Path, relpath: str, sidecar: dict[str, dict]) -> str:
    digest = hashlib.sha256()
    with open(root / relpath, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    entries = {k: v for k, v in sidecar.items() if k == relpath or k.startswith(relpath + "#")}
    if entries:
        digest.update(json.dumps(entries, sort_keys=True).encode())
    return digest.hexdigest()


def file_states(root: Path, files: list[str], sidecar: dict[str, dict]) -> Iterator[FileState]:
    """Per corpus file, in order, its state; a file refused or unreadable has no hash but a reason.
    Lazy: a caller may stop at any file."""
    for relpath in files:
        reason = ingest.refusal(root, relpath)
        if reason:
            yield FileState(relpath, None, reason)
            continue
        try:
            yield FileState(relpath, file_hash(root, relpath, sidecar), None)
        except OSError as exc:
            yield FileState(relpath, None, f"cannot read: {exc.strerror or exc}")


def compatibility(manifest: dict[str, Any], settings: Settings, dim: int | None) -> str | None:
    """Why an old index cannot be extended by this build (None when it can). ``dim``: the
    model's vector dimension (None: not checked, the model is not loaded)."""
    if manifest.get("model") != settings.model_name:
        return f"model changed ({manifest.get('model')} → {settings.model_name})"
    if dim is not None and manifest.get("dim") != dim:
        return f"dimension changed ({manifest.get('dim')} → {dim})"
    if manifest.get("chunking") != settings.chunking():
        return f"chunk settings changed ({manifest.get('chunking')} → {settings.chunking()})"
    if manifest.get("ingest_version") != ingest.INGEST_VERSION:
        return "ingestion changed since the last build"
    return None


def up_to_date(settings: Settings) -> bool:
    """Whether ``build`` would find nothing to embed or remove: the index at ``settings.index``
    was built by this program, with this model and chunking, from the very files (and sidecar
    entries) in ``settings.corpus`` now, and kept their named entities (``qa.entities``; a build
    finds those of kept articles without embedding them again). Hashes the corpus; loads no
    model. False when unsure.
    """
    root, index_dir = Path(settings.corpus), Path(settings.index)
    try:
        manifest = store.read_manifest(index_dir)
    except store.IndexProblem:
        return False
    if compatibility(manifest, settings, None) is not None or not root.is_dir():
        return False
    if "entities" not in manifest:  # built before articles kept their named entities: a build adds them
        return False
    old_files = manifest.get("files", {})
    sidecar, _ = ingest.load_sidecar(root)
    files = ingest.list_files(root)
    if set(files) != set(old_files):
        return False
    for state in file_states(root, files, sidecar):
        old = old_files[state.relpath]
        if state.digest != old.get("hash") or (state.digest is None and state.error != old.get("error")):
            return False
    return True


# --- a site's chrome: lines that recur across files ----------------------------------------------

LINE_KEYS = "line_keys.json"  # per file of a generation: its hash and the line keys of its blocks


def scan_line_keys(root: Path, relpath: str, sidecar: dict[str, dict]) -> list[str]:
    """The ``clean.line_key`` of every countable block the cleaning of one file sees (sorted)."""
    from . import clean

    with clean.recording() as seen:
        ingest.read_file(root, relpath, sidecar)
    return sorted(seen)


def read_line_keys(folder: Path) -> dict[str, dict]:
    """A generation's line keys per file (``{"hash": ..., "keys": [...]}``); empty when missing."""
    try:
        data = json.loads((Path(folder) / LINE_KEYS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_line_keys(folder: Path, line_keys: dict[str, dict]) -> None:
    (Path(folder) / LINE_KEYS).write_text(json.dumps(line_keys, separators=(",", ":")), encoding="utf-8")


def line_keys_of(root: Path, digests: dict[str, str], sidecar: dict[str, dict],
                 previous: dict[str, dict]) -> dict[str, dict]:
    """Each hashed file's line keys: the previous generation's when the file's hash is the same,
    else scanned now (the file is read, not embedded)."""
    out = {}
    for relpath, digest in digests.items():
        old = previous.get(relpath)
        if isinstance(old, dict) and old.get("hash") == digest and isinstance(old.get("keys"), list):
            out[relpath] = old
        else:
            out[relpath] = {"hash": digest, "keys": scan_line_keys(root, relpath, sidecar)}
    return out


def recurring_lines(line_keys: dict[str, dict], min_files: int | None = None) -> frozenset[str]:
    """The line keys found in at least ``min_files`` (``clean.RECURRING_MIN_FILES``) distinct files
    of the corpus: files with the same hash (a copy under two names) count once."""
    from collections import Counter

    from .clean import RECURRING_MIN_FILES

    threshold = min_files or RECURRING_MIN_FILES
    counts: Counter = Counter()
    seen: set[str] = set()
    for entry in line_keys.values():
        if entry["hash"] in seen:
            continue
        seen.add(entry["hash"])
        counts.update(set(entry["keys"]))
    return frozenset(k for k, n in counts.items() if n >= threshold)


def chrome_digest(keys: list[str], chrome: frozenset[str]) -> str:
    """What of the corpus's chrome one file holds, as a digest: when it changes (another file
    added, changed or removed made a line of it recur, or stop recurring), the file is cleaned again."""
    return hashlib.sha1("\n".join(sorted(set(keys) & chrome)).encode()).hexdigest()[:16]
