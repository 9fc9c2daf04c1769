"""Building on a Ray cluster (``qa build --ray [ADDRESS]``): the files to do are read, chunked
and embedded by a Ray Data pipeline; the driver (this process) keeps deciding everything else.

The pipeline::

    files to do ──read_files (Ray tasks, a few files each)──> one row per chunk + one per file
                ──_Embed (a pool of model actors, one model load each, a batch of chunks a call)
                ──> streamed back to the driver (``iter_batches``), in whatever order they finish

The driver puts the results back in file order as soon as a file is complete (its file row
says how many chunks it has), hands each file's documents to the build's ``accept`` (duplicate
detection and the manifest entry, in file order exactly as a local build does) and drops the
chunks of duplicates. From there ``qa.build`` writes the index with the same code as a local
build, and commits it atomically: a failed cluster build leaves the previous index whole.

Ray is imported only here, and only when a build asks for it. Every node needs the same
environment (this package, its model) and sees the corpus at the same path (a shared
filesystem): each worker checks a file's hash against the driver's before reading it.
"""
from __future__ import annotations

import os
import pickle
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .embed import Encoder
from .produce import Accept, Produced
from .types import Chunk, Document, FileResult

# Chunks per model-actor call, sorted by length inside the call (little padding). Smaller than
# the local build's window (batch × 32): calls spread over more actors, stream back sooner
# and cost less to redo when an actor dies.
BATCH_CHUNKS = 256
FILES_PER_TASK = 8
# Restarts of a dead model actor, and retries of the batch it was running (QA_RAY_RESTARTS).
RESTARTS = 3


class ClusterError(RuntimeError):
    """A build on Ray could not complete; the previous index is untouched."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to build.

    Args:
        address: a Ray cluster (``host:port`` of its head, or ``ray://...``); None joins the Ray
            instance already running on this machine, or starts one for the build.
        workers: model actors; None: as many as the cluster's CPUs allow at ``threads`` each.
        threads: torch threads (and CPUs reserved) per model actor; None: 2, or the cluster's
            CPUs divided by ``workers``.
        batch_chunks: chunks per model-actor call.
        restarts: restarts of a dead model actor (each retrying the batch it was running) before
            the build gives up; None: ``$QA_RAY_RESTARTS``, or 3.
    """

    address: str | None = None
    workers: int | None = None
    threads: int | None = None
    batch_chunks: int = BATCH_CHUNKS
    files_per_task: int = FILES_PER_TASK
    restarts: int | None = None


# ---------------------------------------------------------------- on the workers


class _Tokens:
    """The model's tokenizer without the model: the chunker's token counts and the headline
    cut, by the very code of ``Encoder`` (so chunks equal a local build's)."""

    def __init__(self, model_path: str) -> None:
        import copy

        from transformers import AutoTokenizer

        self._raw = copy.deepcopy(AutoTokenizer.from_pretrained(model_path).backend_tokenizer)
        self._raw.no_padding()
        self._raw.no_truncation()

    count_tokens = Encoder.count_tokens
    truncate = Encoder.truncate


_CHUNKERS: dict[tuple, tuple[_Tokens, Any]] = {}  # per worker process: loaded once, reused by its tasks


def _model_path(model: str) -> str:
    from .settings import Settings

    return Settings(model=model).model_path  # the bundled model is resolved on each node


def read_files(batch: dict[str, np.ndarray], root: str, sidecar: dict[str, dict], model: str,
               chunk_tokens: int, overlap_tokens: int, chrome: list[str] = ()) -> dict[str, np.ndarray]:
    """Ray task: ingest and chunk a few files. Returns one row per chunk (``seq`` ≥ 0: the text
    to embed, with its headline in front, and its sentence spans) and one row per file
    (``seq`` = -1: the pickled ``FileResult`` and how many chunk rows the file has)."""
    from . import clean, ingest
    from .changes import file_hash
    from .chunk import Chunker, model_text, title_prefix

    key = (model, chunk_tokens, overlap_tokens)
    if key not in _CHUNKERS:
        tokens = _Tokens(_model_path(model))
        _CHUNKERS[key] = tokens, Chunker(tokens.count_tokens, chunk_tokens, overlap_tokens)
    tokens, chunker = _CHUNKERS[key]
    base = Path(root)
    if not base.is_dir():
        raise RuntimeError(f"the corpus folder {root} is not visible on node {os.uname().nodename}: "
                           "every node must see the corpus at the same path (a shared filesystem)")
    cols: dict[str, list] = {k: [] for k in ("file", "doc", "seq", "start", "end", "n", "text", "spans",
                                             "text_spans", "payload")}

    def row(**values: Any) -> None:
        for k in cols:
            cols[k].append(values.get(k, b"" if k in _BYTES else "" if k == "text" else 0))

    for index, relpath, digest in zip(batch["file"], batch["path"], batch["hash"]):
        try:
            here = file_hash(base, relpath, sidecar)
        except OSError as exc:
            raise RuntimeError(f"{relpath} cannot be read on node {os.uname().nodename}: {exc}") from exc
        if here != digest:
            raise RuntimeError(f"{relpath} differs on node {os.uname().nodename} from the driver's copy "
                               "(changed during the build, or not the same corpus): run the build again")
        with clean.recurring(chrome):  # the corpus's recurring lines, found by the driver
            result = ingest.read_file(base, relpath, sidecar)
        count = 0
        for d, doc in enumerate(result.documents):
            head = title_prefix(tokens.truncate, doc.title)
            for seq, c in enumerate(chunker.split(doc)):
                seen = model_text(head, c.text)
                row(file=index, doc=d, seq=seq, start=c.start, end=c.end, text=seen.text,
                    spans=np.asarray(seen.spans, dtype="int32").tobytes(),
                    text_spans=np.asarray(seen.text_spans, dtype="int32").tobytes())
                count += 1
        row(file=index, seq=-1, n=count, payload=pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    out = {k: np.asarray(v, dtype="int64" if k in ("file", "n") else "int32") for k, v in cols.items()
           if k not in ("text", *_BYTES)}
    for k in ("text", *_BYTES):
        out[k] = np.empty(len(cols[k]), dtype=object)
        out[k][:] = cols[k]
    return out


class _Embed:
    """Ray actor: one model load, then a batch of chunk rows per call (file rows pass through)."""

    def __init__(self, model: str, threads: int, dim: int, batch_size: int) -> None:
        import torch

        from .embed import get_encoder

        torch.set_num_threads(threads)
        self.encoder = get_encoder(_model_path(model))
        if self.encoder.dim != dim:
            raise RuntimeError(f"the model on node {os.uname().nodename} gives {self.encoder.dim}-dimensional "
                               f"vectors, the driver's {dim}: every node needs the same model")
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = np.flatnonzero(batch["seq"] >= 0)
        texts = [str(batch["text"][i]) for i in rows]
        spans = [_spans(batch["text_spans"][i]).tolist() for i in rows]
        vectors, pooled = (self.encoder.encode_with_spans(texts, spans, batch_size=self.batch_size) if texts
                           else (np.zeros((0, self.encoder.dim), dtype="float32"), []))  # only file rows
        out = {k: batch[k] for k in ("file", "doc", "seq", "start", "end", "n", "spans", "payload")}
        out["vector"] = np.zeros((len(batch["seq"]), self.encoder.dim), dtype="float32")
        out["vector"][rows] = vectors
        out["pooled"] = np.empty(len(batch["seq"]), dtype=object)
        out["pooled"][:] = b""
        for i, p in zip(rows, pooled):
            # Sentence vectors go back as float16 (half the traffic): a local build too hands
            # them to the store as float16, which keeps them as int8 codes.
            out["pooled"][i] = np.asarray(p, dtype="float32").astype("float16").tobytes()
        return out


_BYTES = ("spans", "text_spans", "payload")  # columns of bytes: an int32 array each, or a pickle


def _spans(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="int32").reshape(-1, 2)


# ---------------------------------------------------------------- on the driver


def connect(options: RayOptions):
    """Join the cluster (or start a local Ray): no usage stats, no dashboard, quiet logs."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's C++ side logs routine notices as errors (e.g. that Ray Data keeps an actor's
    # constructor arguments in the object store); Python errors still reach the build.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    if options.address and "RAY_AUTH_MODE" not in os.environ and (
            os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or (Path.home() / ".ray" / "auth_token").exists()):
        # `ray start` turns token authentication on when it finds a token; a driver joining
        # by address presents its own only when told to (read when Ray is first imported).
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    # Ray Data's advice on block counts and concurrency is about throughput, not results.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\.data\.")

    if ray.is_initialized():
        return ray, False
    _reachable(options.address)
    try:
        ray.init(address=options.address, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False, configure_logging=True)
    except Exception as exc:  # noqa: BLE001 - Ray raises several kinds; all mean the same to a user
        where = options.address or "this machine"
        raise ClusterError(f"cannot start or reach Ray at {where}: {exc}") from exc
    return ray, True


def _reachable(address: str | None, seconds: float = 10.0) -> None:
    """Fail at once on a head that does not answer (Ray itself keeps retrying for minutes)."""
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    import socket

    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            pass
    except (OSError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Ray head at {address} ({exc}): is `ray start --head` running "
                           "there, and is the port open?") from exc


def plan(ray, options: RayOptions) -> tuple[int, int]:
    """(model actors, threads each) that fit the cluster's CPUs."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    per_node = [int(n.get("Resources", {}).get("CPU", 0)) for n in nodes]
    total = sum(per_node)
    if total < 1:
        raise ClusterError("the Ray cluster has no CPUs to run model workers on")
    threads = options.threads or (min(max(per_node), max(1, total // options.workers)) if options.workers
                                  else min(2, max(per_node)))
    workers = options.workers or max(1, sum(c // threads for c in per_node))
    if sum(c // threads for c in per_node) < workers:
        raise ValueError(f"{workers} model workers of {threads} threads do not fit this Ray cluster "
                         f"(CPUs per node: {per_node}): ask for fewer (--ray-workers)")
    return workers, threads


def produce_on_ray(options: RayOptions, root: Path, todo: list[str], digests: dict[str, str],
                   sidecar: dict[str, dict], accept: Accept, settings, dim: int, progress: bool,
                   log: Callable[[str], None], chrome: frozenset[str] = frozenset()) -> Produced:
    """Read, chunk and embed ``todo`` on Ray; what ``qa.produce.produce_locally`` makes of them.
    ``chrome``: the corpus's recurring line keys; the driver finds them (``qa.build`` scans the
    new files' lines in its own process, before), the tasks clean them away as the local build does."""
    collected = _Collector(todo, accept, dim)
    if not todo:  # nothing changed: nothing is sent to the cluster
        return collected.finish()
    ray, started = connect(options)
    try:
        workers, threads = plan(ray, options)
        log(f"Ray: {len(todo)} files to {workers} model worker(s) of {threads} thread(s) "
            f"on the cluster at {ray.get_runtime_context().gcs_address}")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(unit="chunk", desc="Embedding on Ray")
        t0 = time.perf_counter()
        first = last = None
        try:
            for batch in _pipeline(ray, options, root, todo, digests, sidecar, settings, dim, workers,
                                   threads, chrome).iter_batches(batch_size=None, batch_format="numpy"):
                chunks = collected.add(batch)
                if chunks:
                    last = time.perf_counter()
                    if first is None:
                        first, first_chunks = last, chunks
                if bar is not None:
                    bar.update(chunks)
        except ClusterError:
            raise
        except Exception as exc:  # noqa: BLE001 - a Ray failure retries could not mend
            raise ClusterError(f"the build on Ray failed, the previous index is unchanged: {_cause(exc)}") from exc
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - t0
        steady = ""
        if first is not None and last > first:  # from the first results to the last: the steady state
            steady = (f"; first results after {first - t0:.1f}s, then "
                      f"{(collected.embedded - first_chunks) / (last - first):.1f} chunks/s")
        log(f"Ray: {collected.embedded} chunks embedded in {seconds:.1f}s "
            f"({collected.embedded / max(seconds, 1e-9):.1f} chunks/s{steady})"
            + (f", {collected.dropped} of them from duplicate articles, dropped" if collected.dropped else ""))
        return collected.finish()
    finally:
        if started:
            ray.shutdown()


def _pipeline(ray, options: RayOptions, root: Path, todo: list[str], digests: dict[str, str],
              sidecar: dict[str, dict], settings, dim: int, workers: int, threads: int,
              chrome: frozenset[str] = frozenset()):
    import logging

    import ray.data

    # Ray Data's own log stays in the session's ray-data.log; on the console the build says
    # what happened, in one line when it fails.
    for handler in logging.getLogger("ray.data").handlers:
        if handler.get_name() == "console":
            handler.setLevel(logging.CRITICAL)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.max_errored_blocks = 0
    ctx.max_consecutive_actor_init_deaths = 2
    items = [{"file": i, "path": p, "hash": digests[p]} for i, p in enumerate(todo)]
    tasks = max(1, -(-len(items) // options.files_per_task))
    ds = ray.data.from_items(items, override_num_blocks=min(tasks, 10_000))
    ds = ds.map_batches(read_files, batch_size=options.files_per_task, batch_format="numpy",
                        fn_kwargs={"root": str(root), "sidecar": sidecar, "model": settings.model,
                                   "chunk_tokens": settings.chunk_tokens,
                                   "overlap_tokens": settings.chunk_overlap_tokens, "chrome": sorted(chrome)},
                        # Reading is light next to the model: it takes no CPU from the actors,
                        # and a few tasks at a time keep them fed. A task whose worker dies is
                        # retried by Ray (3 times, its default for tasks).
                        num_cpus=0, compute=ray.data.TaskPoolStrategy(size=max(2, workers)))
    restarts = options.restarts if options.restarts is not None else int(os.environ.get("QA_RAY_RESTARTS", RESTARTS))
    with warnings.catch_warnings():
        # Ray 2.60 takes the actors' fault tolerance only as plain remote arguments.
        warnings.simplefilter("ignore", DeprecationWarning)
        return ds.map_batches(_Embed, batch_size=options.batch_chunks, batch_format="numpy",
                              compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=threads,
                              fn_constructor_kwargs={"model": settings.model, "threads": threads, "dim": dim,
                                                     "batch_size": settings.batch_size},
                              # A dead actor is restarted (its model reloaded) and its batch
                              # retried, a few times: then the build fails, not loops forever.
                              max_restarts=restarts, max_task_retries=restarts)


def _cause(exc: BaseException) -> str:
    """What went wrong, in one line: the innermost exception of Ray's chain (a worker's own
    error, or that the worker died), without Ray's decoration."""
    import re

    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
    if type(exc).__name__ in ("RayTaskError", "UserCodeException") and lines:
        lines = lines[-1:]  # the original error is the last line of Ray's wrapped traceback
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500]


class _Collector:
    """Puts streamed results back in file order, a file as soon as all its chunks are in."""

    def __init__(self, todo: list[str], accept: Accept, dim: int) -> None:
        self.todo, self.accept, self.dim = todo, accept, dim
        self.files: dict[int, tuple[FileResult, int]] = {}
        self.parts: dict[int, list[tuple]] = {}
        self.next = 0
        self.embedded = self.dropped = 0
        self.docs: list[Document] = []
        self.chunks: list[Chunk] = []
        self.vectors: list[np.ndarray] = []
        self.rows: list[tuple[int, int, int]] = []
        self.pooled: list[np.ndarray] = []

    def add(self, batch: dict[str, np.ndarray]) -> int:
        """Take one streamed batch; returns how many chunks it held."""
        chunks = 0
        for i in range(len(batch["seq"])):
            f = int(batch["file"][i])
            if batch["seq"][i] < 0:
                self.files[f] = pickle.loads(batch["payload"][i]), int(batch["n"][i])
            else:
                chunks += 1
                self.parts.setdefault(f, []).append(
                    (int(batch["doc"][i]), int(batch["seq"][i]), int(batch["start"][i]), int(batch["end"][i]),
                     _spans(batch["spans"][i]), np.array(batch["vector"][i], dtype="float32"),
                     np.frombuffer(batch["pooled"][i], dtype="float16").reshape(-1, self.dim)))
        self.embedded += chunks
        while self.next in self.files and len(self.parts.get(self.next, ())) == self.files[self.next][1]:
            self._take(self.next)
            self.next += 1
        return chunks

    def _take(self, f: int) -> None:
        result, _ = self.files.pop(f)
        parts = sorted(self.parts.pop(f, []), key=lambda p: (p[0], p[1]))
        unique = {id(d) for d in self.accept(self.todo[f], result)}
        self.docs.extend(d for d in result.documents if id(d) in unique)
        for d, _, start, end, spans, vector, pooled in parts:
            doc = result.documents[d]
            if id(doc) not in unique:
                self.dropped += 1
                continue
            row = len(self.chunks)
            self.chunks.append(Chunk(doc_id=doc.doc_id, start=start, end=end, text=doc.text[start:end]))
            self.vectors.append(vector)
            self.rows.extend((row, start + s, start + e) for s, e in spans)
            self.pooled.append(pooled)

    def finish(self) -> Produced:
        if self.next != len(self.todo):
            missing = self.todo[self.next]
            raise ClusterError(f"the build on Ray ended without all results ({missing} is missing); "
                               "the previous index is unchanged")
        return Produced.stack(self.docs, self.chunks, self.vectors, self.rows, self.pooled, self.dim)
