"""Build throughput on Ray (``qa build --ray``) with 1 and 2 model workers, beside the local build.

    .venv/bin/python benchmarks/bench_ray.py [--limit N] [--workers 1 2] [--arithmetic-only]

The same corpus (squad-dev, or its first ``--limit`` paragraphs) is built from scratch, once
locally (``qa.build.build``, model already loaded) and once per worker count on a local Ray
instance started here (all the machine's CPUs, no dashboard, no usage stats): ``--ray`` with
``workers`` model actors of ``CPUs / workers`` torch threads each. Throughput is chunks embedded
per second of the embedding stage (``BuildReport.embed_seconds``: for Ray that includes starting
the actors and loading one model in each), and per second from the first results streamed back
to the last (the steady state a long build lives in). Each Ray index is checked against the
local one (same chunks, largest vector difference).

A second table gives the per-article and per-chunk figures the README's scale arithmetic uses,
measured on real indexes: the sample corpus (real news pages) and squad-dev (short paragraphs):
chunks per article, sentences per chunk, bytes per chunk on disk, and the bytes per vector of
FAISS indexes (flat and IVF-Flat, as the engine builds them; IVF with 8-bit scalar and with
product quantisation, as an archive-scale index would), serialised by FAISS itself from the
index's own vectors.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import time

import numpy as np
from common import WORK, footer, squad_corpus, table


def vectors(index):
    from qa import dense_kinds, store

    manifest = store.read_manifest(index)
    folder = store.generation_dir(index, manifest)
    flat = dense_kinds.read(folder, manifest["dim"], manifest["counts"]["chunks"],
                              manifest.get("vector_index", {}).get("type", "flat"))
    return np.asarray(store.read_chunks(folder)), flat.reconstruct_n(0, flat.ntotal)


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N squad-dev paragraphs (default: all 2,067)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="model workers to try (default: 1 2)")
    parser.add_argument("--arithmetic-only", action="store_true", help="only the per-chunk figures (no Ray builds)")
    args = parser.parse_args()
    if args.arithmetic_only:
        print(arithmetic(args.limit))
        print(footer(started))
        return

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from qa import Settings
    from qa.build import build
    from qa.distributed import RayOptions
    from qa.embed import get_encoder

    corpus = squad_corpus(args.limit)
    cpus = os.cpu_count() or 1
    rows = []

    index = WORK / f"ray-local-{args.limit or 'all'}"
    settings = Settings.from_env(corpus=str(corpus), index=str(index))
    encoder = get_encoder(settings.model_path)
    encoder.encode(["warm up"] * 8)

    def local(label: str) -> None:
        shutil.rmtree(index, ignore_errors=True)
        t0 = time.perf_counter()
        report = build(settings, progress=False, log=lambda m: None, encoder=encoder)
        wall = time.perf_counter() - t0
        rows.append([label, f"1 process, {_threads()} threads", report.embedded_chunks, wall, report.embed_seconds,
                     report.embedded_chunks / report.embed_seconds, "—", "—"])
        print(f"{label}: {report.embedded_chunks} chunks, embedding {report.embed_seconds:.1f}s", flush=True)

    local("local (`qa build`)")
    local_rows, local_vectors = vectors(index)

    import ray

    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        for workers in args.workers:
            threads = max(1, cpus // workers)
            out = WORK / f"ray-{workers}-{args.limit or 'all'}"
            shutil.rmtree(out, ignore_errors=True)
            logs: list[str] = []
            t0 = time.perf_counter()
            report = build(settings.with_(index=str(out)), progress=False, log=logs.append, encoder=encoder,
                           ray=RayOptions(workers=workers, threads=threads))
            wall = time.perf_counter() - t0
            steady = _steady(logs)
            got_rows, got_vectors = vectors(out)
            same = np.array_equal(got_rows, local_rows)
            diff = float(np.abs(got_vectors - local_vectors).max()) if same else float("nan")
            rows.append([f"`qa build --ray` ({workers} worker{'s' if workers > 1 else ''})",
                         f"{workers} × {threads} threads", report.embedded_chunks, wall, report.embed_seconds,
                         report.embedded_chunks / report.embed_seconds, steady,
                         f"{'same' if same else 'DIFFERENT'} chunks, vectors at most {diff:.1e} apart"])
            print(f"ray {workers}: {report.embed_seconds:.1f}s; {logs[-1] if logs else ''}", flush=True)
    finally:
        ray.shutdown()
    local("local again (drift of the machine's load)")

    print()
    print(arithmetic(args.limit))
    print()
    print(table(["build", "model workers", "chunks", "wall s", "embedding s", "chunks/s (embedding stage)",
                 "chunks/s (first to last result)", "vs local index"], rows))
    print(footer(started))


def arithmetic(limit: int | None) -> str:
    """Per-article and per-chunk sizes of real indexes, and FAISS bytes per vector."""
    import faiss

    from common import ROOT

    from qa import Settings, store
    from qa.build import build

    rows = []
    for key, name, corpus in (("sample", "sample corpus (news pages)", ROOT / "corpus"),
                              (f"squad-{limit or 'all'}", "squad-dev (paragraphs)", squad_corpus(limit))):
        index = WORK / f"ray-arith-{key}"
        # Up to date in a moment if built before; rebuilt whole if the index format changed.
        build(Settings.from_env(corpus=str(corpus), index=str(index)), progress=False, log=lambda m: None)
        manifest = store.read_manifest(index)
        folder = store.generation_dir(index, manifest)
        counts, dim = manifest["counts"], manifest["dim"]
        n = counts["chunks"]
        files = {p.name: p.stat().st_size for p in folder.iterdir()}
        _, vecs = vectors(index)
        sizes = {}
        nlist = 16  # cells: a few, for a few thousand vectors (bytes per vector hardly depend on it)
        ip = faiss.METRIC_INNER_PRODUCT
        for kind, make in (("flat", lambda: faiss.IndexFlatIP(dim)),
                           ("IVF-Flat", lambda: faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, ip)),
                           ("IVF-SQ8", lambda: faiss.IndexIVFScalarQuantizer(
                               faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit, ip)),
                           ("IVF-PQ48", lambda: faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, 48, 8, ip))):
            if n < (256 if kind == "IVF-PQ48" else nlist):  # too few vectors to train the codebooks
                sizes[kind] = "—"
                continue
            empty = make()
            if not empty.is_trained:
                empty.train(vecs)
            full = faiss.deserialize_index(faiss.serialize_index(empty))  # the same trained index ...
            full.add(vecs)                                                # ... holding the vectors
            sizes[kind] = (len(faiss.serialize_index(full)) - len(faiss.serialize_index(empty))) / n
        rows.append([name, counts["documents"], n, n / counts["documents"], counts["sentences"] / n,
                     sizes["flat"], sizes["IVF-Flat"], sizes["IVF-SQ8"], sizes["IVF-PQ48"],
                     (files["sentence_vectors.npy"] + files["sentence_vector_scales.npy"]) / n,
                     sum(files.values()) / n])
    return table(["index", "articles", "chunks", "chunks/article", "sentences/chunk", "B/chunk flat",
                  "B/chunk IVF-Flat", "B/chunk IVF-SQ8", "B/chunk IVF-PQ48", "B/chunk sentence vectors (int8 + scale)",
                  "B/chunk on disk (all files)"], rows)


def _steady(logs: list[str]) -> float | str:
    for line in logs:
        match = re.search(r"first results after ([\d.]+)s, then ([\d.]+) chunks/s", line)
        if match:
            return float(match.group(2))
    return "—"


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
