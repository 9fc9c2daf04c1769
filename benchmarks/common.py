"""Shared helpers of the benchmarks: tables, timing, memory, the squad-dev index and synthetic indexes.

Scratch data (built indexes, synthetic indexes, corpus subsets) goes to ``$QA_BENCH_WORK``
(default ``/tmp/qa-bench``), never into the repository.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SQUAD = Path(os.environ.get("QA_BENCH_SQUAD", ROOT.parent / "shared" / "eval" / "squad-dev"))
WORK = Path(os.environ.get("QA_BENCH_WORK", "/tmp/qa-bench"))
from qa import environment  # noqa: E402

environment.apply()


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table; floats get at most 3 significant decimals."""
    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        return f"{v:,}" if isinstance(v, int) else str(v)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def footer(started: float) -> str:
    """The command that made the table, its wall time and the machine's load."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    cmd = " ".join(shlex.quote(a) for a in [".venv/bin/python", os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    return (f"\n`{cmd}` — wall {time.perf_counter() - started:.0f} s, {os.cpu_count()} CPUs, "
            f"load average (1/5/15 min) {load}, {time.strftime('%Y-%m-%d %H:%M')}")


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype="float64"), q)) if len(values) else float("nan")


def ms(seconds: float) -> float:
    return seconds * 1000.0


def rss_mb() -> float:
    """Resident memory of this process (VmRSS, includes touched pages of memory-mapped files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def questions(n: int, seed: int = 0) -> list[str]:
    """``n`` real questions of squad-dev (answerable, no history), a fixed random sample."""
    rows = [json.loads(line) for line in (SQUAD / "questions.jsonl").read_text().splitlines() if line.strip()]
    rows = [r["question"] for r in rows if r.get("gold_doc_ids") and not r.get("history")]
    pick = np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False)
    return [rows[i] for i in pick]


def squad_corpus(limit: int | None = None) -> Path:
    """The squad-dev corpus, or a copy of its first ``limit`` paragraphs (ingestion skips outside symlinks)."""
    src = SQUAD / "corpus"
    if not limit:
        return src
    out = WORK / f"squad-corpus-{limit}"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for path in sorted(src.iterdir())[:limit]:
            shutil.copyfile(path, tmp / path.name)
        tmp.rename(out)
    return out


def squad_index(log=print) -> Path:
    """A real index of the whole squad-dev corpus (built once, reused while the engine can open it)."""
    from qa import Engine, IndexProblem, Settings
    from qa.build import build

    index = WORK / "squad-index"
    try:
        Engine.open(index)
        return index
    except IndexProblem:
        pass
    log(f"Building the squad-dev index at {index}/ (once) ...")
    build(Settings.from_env(corpus=str(squad_corpus()), index=str(index)), progress=False, log=log)
    return index


def synthetic_index(base: Path, out: Path, n_chunks: int, seed: int = 0, noise: float = 0.025) -> Path:
    """An index of ``n_chunks`` in the engine's own format, written with the engine's own writers.

    Articles are 2-6 real chunks of ``base`` (squad-dev) joined by blank lines; each chunk
    keeps its real term counts, sentences and named entities; its vector and its sentence vectors are the
    real ones plus Gaussian noise (per component ``noise``, about cosine 0.9 to the original),
    renormalised, so the vectors keep the shape of real embeddings.
    """
    from qa import dense_kinds, lexical, store
    from qa.dense_flat import flat_vectors
    from qa.types import Document

    rng = np.random.default_rng(seed)
    manifest = store.read_manifest(base)
    folder = store.generation_dir(base, manifest)
    docs = store.DocumentStore(folder / "docs.sqlite")
    rows = np.asarray(store.read_chunks(folder))
    doc_texts = docs.texts(list(range(len(docs.meta))))
    texts = [doc_texts[int(d)][s:e] for d, s, e in rows]
    base_index = dense_kinds.read(folder, manifest["dim"], len(rows))  # alive while its vectors are read
    base_vecs = np.array(flat_vectors(base_index))
    sents, sent_vecs = (np.asarray(a) for a in store.read_sentences(folder, len(rows)))
    bounds = np.searchsorted(sents[:, 0], np.arange(len(rows) + 1))

    pick = rng.integers(len(rows), size=n_chunks)  # the base chunk behind every new chunk
    sizes = rng.integers(2, 7, size=n_chunks // 2 + 2)
    doc_of = np.repeat(np.arange(len(sizes)), sizes)[:n_chunks]
    n_docs = int(doc_of[-1]) + 1
    lengths = np.array([len(t) for t in texts], dtype="int64")[pick] + 2  # + "\n\n"
    ends = np.cumsum(lengths)
    first = np.searchsorted(doc_of, np.arange(n_docs))  # first chunk of each doc
    starts = ends - lengths - (ends - lengths)[first][doc_of]
    chunk_rows = np.stack([doc_of, starts, starts + lengths - 2], axis=1)

    gen = store.new_generation(out)
    dates = np.datetime64("2015-01-01") + rng.integers(0, 3650, size=n_docs)
    # The base chunks' named entities, at offsets within the chunk (None: the base kept none).
    doc_entities = [docs.entities(pos) for pos in range(len(docs.meta))]
    chunk_entities = [None if doc_entities[d] is None else
                      [(a - s, b - s, label) for a, b, label in doc_entities[d] if a >= s and b <= e]
                      for d, s, e in rows]
    documents = []
    for d in range(n_docs):
        lo, hi = first[d], (first[d + 1] if d + 1 < n_docs else n_chunks)
        found = None if any(chunk_entities[i] is None for i in pick[lo:hi]) else [
            (int(starts[c] + a), int(starts[c] + b), label)
            for c in range(lo, hi) for a, b, label in chunk_entities[pick[c]]]
        documents.append(Document(doc_id=f"synth/{d:07d}.txt", text="\n\n".join(texts[i] for i in pick[lo:hi]),
                                  title=docs.meta[rows[pick[lo], 0]].title, published=str(dates[d]),
                                  publisher=f"Publisher {d % 50}", entities=found))
    store.write_documents(gen, documents)
    del documents
    store.write_chunks(gen, chunk_rows)
    from qa import Settings

    vector_index = dense_kinds.write(gen, _perturbed(base_vecs, pick, noise, rng, "float32"),
                                       dense_kinds.plan(n_chunks, Settings.from_env()))

    per = (bounds[1:] - bounds[:-1])[pick]
    sent_ids = np.repeat(bounds[:-1][pick] - np.cumsum(per) + per, per) + np.arange(int(per.sum()))
    owner = np.repeat(np.arange(n_chunks), per)
    shift = (starts - rows[pick, 1])[owner]  # base doc offset → new doc offset
    sent_rows = np.stack([owner, sents[sent_ids, 1] + shift, sents[sent_ids, 2] + shift], axis=1)
    store.write_sentences(gen, sent_rows, _perturbed(sent_vecs, sent_ids, noise, rng, "float16"))
    vocab = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
    for prefix in sorted(p.name[: -len("_data.npy")] for p in folder.glob("*_data.npy")
                         if not p.name.endswith("_postings_data.npy")):
        counts = _counts(folder, prefix)  # every count matrix of the format: by chunk or by sentence
        by_chunk = counts.shape[0] == len(rows)
        stored = folder / f"{prefix}_impacts.json"  # BM25 term weights, as the base's build stored them
        impacts = tuple(json.loads(stored.read_text())[k] for k in ("k1", "b")) if stored.exists() else None
        lexical.save_counts(gen, counts[pick if by_chunk else sent_ids],
                            {t: i for i, t in enumerate(vocab)} if prefix == "bm25" else None, prefix=prefix,
                            impacts=impacts)
    keep = {k: manifest[k] for k in ("model", "dim", "chunking", "ingest_version", "settings") if k in manifest}
    keep["settings"] = dict(keep.get("settings", {}), index=str(out), corpus="")
    keep["counts"] = {"files": 0, "documents": n_docs, "chunks": n_chunks, "sentences": len(sent_rows)}
    keep["files"], keep["synthetic"] = {}, {"base": str(base), "seed": seed, "noise": noise}
    keep["vector_index"] = vector_index
    store.commit_generation(out, gen, keep)
    docs.close()
    return out


def _counts(folder: Path, prefix: str):
    """A count matrix of the base index at its full width (the vocabulary, or every pair bucket)."""
    from qa import lexical

    return lexical.load_counts(folder, prefix=prefix, pairs=prefix == "pair_bm25")[0]


def _perturbed(base: np.ndarray, pick: np.ndarray, noise: float, rng, dtype: str) -> np.ndarray:
    out = np.empty((len(pick), base.shape[1]), dtype=dtype)
    for lo in range(0, len(pick), 200_000):
        block = base[pick[lo:lo + 200_000]].astype("float32")
        block += rng.standard_normal(block.shape, dtype="float32") * noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[lo:lo + len(block)] = block
    return out


def index_bytes(index: Path) -> dict[str, int]:
    """Bytes of the chunk vectors (float32) and of the article texts of an index."""
    import sqlite3

    from qa import store

    manifest = store.read_manifest(index)
    folder = store.generation_dir(index, manifest)
    con = sqlite3.connect(f"file:{folder / 'docs.sqlite'}?mode=ro", uri=True)
    text = con.execute("SELECT COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) FROM docs").fetchone()[0]
    con.close()
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    return {"vectors": manifest["counts"]["chunks"] * manifest["dim"] * 4, "texts": int(text),
            "files": sum(files.values()), **{f"file:{k}": v for k, v in files.items()}}


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a serve.py the benchmark starts."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop a server the benchmark started: SIGTERM, then SIGKILL if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def half(qid: str) -> str:
    """The tune or check half of a question, by the first byte of the MD5 of its id (the split of
    benchmarks/tune_ranking.py: the same for every run and every script)."""
    import hashlib

    return "tune" if hashlib.md5(qid.encode()).digest()[0] % 2 == 0 else "check"
