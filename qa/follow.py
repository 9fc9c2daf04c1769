"""The live archive: an engine that follows its index's newest generation, and a corpus watcher.

``LiveEngine`` wraps an opened ``Engine``. A background thread looks at the index's manifest
every ``check_every`` seconds (one ``stat``; the manifest is read only when the file was
replaced); when a build has committed a new generation, it is opened beside the current one
with the same loaded model, warmed with one question, and swapped in in one step. A question
pins the generation it starts on (``pinned()``) and finishes on it, whatever is swapped in
meanwhile; a replaced generation is closed (its files and its lease, so a build may delete
it) when the last question holding it is done. Every answer therefore comes wholly from one
generation, and says which (``Generation.name``): the source viewer reads the article from
that generation, or, once it is closed, from the current one only if the cited text is still
there word for word.

``CorpusWatcher`` (``serve.py --watch``) polls the corpus folder, waits until it stops
changing, and runs ``qa build`` in a child process (one at a time; a build that dies leaves
the served index as it was), then asks the engine to follow at once.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .engine import Engine
from .store import MANIFEST, GenerationGone, IndexProblem
from .types import Document, Passage


@dataclass
class Change:
    """One swap: the generation that came in, and how many articles it added and removed."""

    seq: int
    generation: str
    added: int
    removed: int
    at: float  # time.time() of the swap


class _Held:
    """An engine and the number of questions running on it."""

    def __init__(self, engine: Engine, seq: int) -> None:
        self.engine, self.seq = engine, seq
        self.users = 0
        self.retired = False


class LiveEngine:
    """An ``Engine`` that follows its index from build to build (see the module docstring).

    It answers like an engine (``ask``, ``ask_many``, ``document`` and the rest are the current
    generation's); ``pinned()`` holds one generation for several calls.
    """

    def __init__(self, engine: Engine, check_every: float = 2.0, log: Callable[[str], None] = print,
                 background: bool = True, **settings: Any) -> None:
        self.index_dir = Path(engine.index_dir)
        self.check_every = check_every
        self.log = log
        self._settings = settings  # the overrides Engine.open was given, for the next generations
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._current = _Held(engine, 0)
        self._open: dict[str, _Held] = {engine.generation.name: self._current}
        self.changes: list[Change] = []
        self._seen = self._manifest_stat()
        self._stop = threading.Event()
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._follow, name="qa-follow", daemon=True)
            self._thread.start()

    @classmethod
    def open(cls, index: str | Path = "index", check_every: float = 2.0, log: Callable[[str], None] = print,
             background: bool = True, **settings: Any) -> "LiveEngine":
        """``Engine.open(index, **settings)``, followed."""
        return cls(Engine.open(index, **settings), check_every=check_every, log=log, background=background,
                   **settings)

    # --- the current generation ----------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The current generation's engine (for a single call; ``pinned`` for several)."""
        return self._current.engine

    @property
    def generation(self) -> str:
        return self._current.engine.generation.name

    @property
    def seq(self) -> int:
        """How many swaps this engine has made (the page keeps the one it was opened at)."""
        return self._current.seq

    @contextmanager
    def pinned(self) -> Iterator[Engine]:
        """The current generation, held until the block ends (no swap closes it meanwhile)."""
        with self._lock:
            held = self._current
            held.users += 1
        try:
            yield held.engine
        finally:
            self._let_go(held)

    def _let_go(self, held: _Held) -> None:
        with self._lock:
            held.users -= 1
            done = held.retired and held.users == 0
            if done:
                self._open.pop(held.engine.generation.name, None)
        if done:
            self._close(held)

    def _close(self, held: _Held) -> None:
        name = held.engine.generation.name
        held.engine.close()
        self.log(f"Closed {name} (no question holds it any more)")

    def ask(self, *args: Any, **kwargs: Any):
        with self.pinned() as engine:
            return engine.ask(*args, **kwargs)

    def ask_many(self, *args: Any, **kwargs: Any):
        with self.pinned() as engine:
            return engine.ask_many(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # docs, settings, publishers(), warm(), ...: the current one's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._current.engine, name)

    def document(self, doc_id: str) -> Document:
        return self._current.engine.document(doc_id)

    def source_document(self, passage: Passage, generation: str | None) -> Document:
        """The article ``passage`` cites, from the generation that answered (``generation``).

        That generation when it is still open; else the current one's article if it still holds
        the cited text at the cited offsets. ``LookupError`` with a message otherwise.
        """
        with self._lock:
            held = self._open.get(generation or "")
            if held is None or held.retired and held.users == 0:
                held = self._current
            held.users += 1
        try:
            try:
                doc = held.engine.document(passage.doc_id)
            except KeyError:
                doc = None
            if doc is None or doc.text[passage.start:passage.end] != passage.text:
                raise LookupError("This article has changed or left the archive since the answer: "
                                  "ask again to cite the current version.")
            return doc
        finally:
            self._let_go(held)

    def new_since(self, seq: int) -> tuple[int, int, int]:
        """(articles added, articles removed, builds) since swap number ``seq``."""
        later = [c for c in self.changes if c.seq > seq]
        return sum(c.added for c in later), sum(c.removed for c in later), len(later)

    # --- following -----------------------------------------------------------------------------

    def _manifest_stat(self) -> tuple | None:
        try:
            st = os.stat(self.index_dir / MANIFEST)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self) -> bool:
        """Swap in the index's committed generation if it is new; True when one was swapped in.

        The new generation is opened and warmed before the swap; a generation that cannot be
        opened (damaged, or another model) is reported and the current one goes on answering.
        """
        with self._refreshing:  # one opening at a time (the watcher and the thread may both ask)
            seen = self._manifest_stat()
            if seen is None or seen == self._seen:
                return False
            current = self._current.engine
            for attempt in range(5):
                try:
                    manifest = current.generation.manifest_of(self.index_dir)
                    if manifest.get("generation") == current.generation.name:
                        self._seen = seen
                        return False
                    started = time.perf_counter()
                    new = Engine._open_manifest(
                        self.index_dir, manifest, self._settings.get("model", current.settings.model),
                        self._settings)  # queried with the encoder it was built with
                    break
                except GenerationGone:
                    seen = self._manifest_stat()
                    continue
                except (IndexProblem, OSError, ValueError) as exc:
                    self._seen = seen  # retried when the manifest changes again
                    self.log(f"Cannot open the new generation ({exc}); still answering from "
                             f"{current.generation.name}")
                    return False
            else:
                return False
            try:
                if (new.settings.model_path, new.settings.encoder) == (current.settings.model_path,
                                                                         current.settings.encoder):
                    new._encoder = current.encoder  # the loaded model, shared
                if new.encoder.dim != new.manifest["dim"]:
                    raise IndexProblem("the new generation's vectors do not fit the model")
                new.ask("warm up the new generation", k=1)
            except (IndexProblem, ValueError, OSError) as exc:
                new.close()
                self._seen = seen
                self.log(f"Cannot warm the new generation ({exc}); still answering from {current.generation.name}")
                return False
            old_ids, new_ids = set(current.docs.position), set(new.docs.position)
            with self._lock:
                old = self._current
                self._current = _Held(new, old.seq + 1)
                self._open[new.generation.name] = self._current
                old.retired = True
                close_now = old.users == 0
                if close_now:
                    self._open.pop(old.engine.generation.name, None)
                self.changes.append(Change(self._current.seq, new.generation.name, len(new_ids - old_ids),
                                           len(old_ids - new_ids), time.time()))
            self._seen = seen
            self.log(f"Now answering from {new.generation.name} ({len(new_ids):,} articles, "
                     f"{len(new_ids - old_ids):,} new, {len(old_ids - new_ids):,} gone; opened and warmed in "
                     f"{time.perf_counter() - started:.2f} s) instead of {old.engine.generation.name}")
            if close_now:
                self._close(old)
            return True

    def _follow(self) -> None:
        while not self._stop.wait(self.check_every):
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - the follower never dies; the current generation answers
                self.log(f"Following the index failed ({type(exc).__name__}: {exc}); will try again")

    def close(self) -> None:
        """Stop following and close every generation still open."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            helds = list(self._open.values())
            self._open.clear()
        for held in helds:
            held.engine.close()


# --- watching the corpus ---------------------------------------------------------------------

def corpus_snapshot(corpus: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``corpus``: its size and modification time (what a change changes)."""
    seen: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(corpus, followlinks=False):
        dirs.sort()
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            seen[os.path.relpath(path, corpus)] = (st.st_size, st.st_mtime_ns)
    return seen


class CorpusWatcher:
    """Runs ``qa build`` when the corpus changes, one build at a time, and follows the result.

    Polls every ``interval`` seconds; once a change is seen, waits until the folder has stayed
    the same for ``settle`` seconds (files still being copied in are not built half-way), then
    builds in a child process (its lines go to ``log``). ``status`` is one line for the page.
    """

    def __init__(self, live: LiveEngine, corpus: str | Path, index: str | Path, interval: float = 2.0,
                 settle: float = 2.0, log: Callable[[str], None] = print, encoder: str | None = None) -> None:
        self.live, self.corpus, self.index = live, Path(corpus), Path(index)
        self.interval, self.settle, self.log = interval, settle, log
        self.encoder = encoder
        self.status = f"Watching {self.corpus.name or self.corpus}/ for new articles."
        self.builds = 0
        self._baseline = corpus_snapshot(self.corpus)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="qa-watch", daemon=True)
        self._process: subprocess.Popen | None = None

    def start(self) -> "CorpusWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
        self._thread.join(timeout=30)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                now = corpus_snapshot(self.corpus)
                if now == self._baseline:
                    continue
                while not self._stop.wait(self.settle):  # debounce: build once it stops changing
                    later = corpus_snapshot(self.corpus)
                    if later == now:
                        break
                    now = later
                if self._stop.is_set():
                    return
                if self.build(now):
                    self._baseline = now  # a change made during the build is built next time
            except Exception as exc:  # noqa: BLE001 - the watcher never dies
                self.log(f"[watch] {type(exc).__name__}: {exc}")

    def build(self, snapshot: dict | None = None) -> bool:
        """One build of the corpus into the index; True when it ended (well or with a reported
        failure that another build of the same files would repeat)."""
        before = self._baseline
        snapshot = snapshot if snapshot is not None else corpus_snapshot(self.corpus)
        added = sum(1 for f in snapshot if f not in before)
        gone = sum(1 for f in before if f not in snapshot)
        changed = sum(1 for f in snapshot if f in before and before[f] != snapshot[f])
        self.status = f"Updating the archive: {added} files new, {changed} changed, {gone} removed …"
        self.log(f"[watch] {self.status}")
        command = [sys.executable, "-m", "qa.cli", "build", "--corpus", str(self.corpus), "--index",
                   str(self.index), "--quiet"]
        if self.encoder:
            command += ["--encoder", self.encoder]
        started = time.monotonic()
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                         stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines = []
        assert self._process.stdout is not None
        for line in self._process.stdout:
            line = line.rstrip()
            if line:
                lines.append(line)
                self.log(f"[watch] build: {line}")
        code = self._process.wait()
        self._process = None
        seconds = time.monotonic() - started
        self.builds += 1
        stamp = time.strftime("%H:%M:%S")
        if code == 0:
            self.live.refresh()
            self.status = (f"Archive updated at {stamp} ({added} files new, {changed} changed, {gone} removed; "
                           f"built in {seconds:.0f} s).")
        else:
            last = lines[-1] if lines else f"exit status {code}"
            self.status = f"The update at {stamp} failed ({last}); the archive answers as before."
        self.log(f"[watch] {self.status}")
        return code in (0, 1, 2)
