"""Exact vs approximate vector search (IVF-Flat, HNSW): recall@10 against exact search, latency,
build time, by size.

    .venv/bin/python benchmarks/bench_ann.py [--sizes real,mix-100k,mix-1M,100k,1M] [--kinds ivf,hnsw]
        [--nprobe 8,16,32,64,128] [--ef 16,32,64,128,256] [--m 32] [--ef-construction 80]

Vectors: ``real`` is every chunk and sentence vector of the squad-dev index (real embeddings of
the bundled model, about 14k); ``mix-N``: N chunk-like vectors, each the mean of 2-6 real
sentence vectors of one squad-dev article (``mixtures``); ``100k``/``1M`` are the chunk vectors of the synthetic indexes of
``bench_query.py`` (real squad-dev chunk vectors plus noise, ~480 near-copies of each at 1M: a
hard case for a graph, whose neighbours all look alike). Queries are real squad-dev questions
encoded by the real model. The truth is exact inner-product search (numpy, batched).

Per size: the flat index's single-query search time (FAISS, one thread, as the engine runs it);
the IVF-Flat index the engine builds past ``ann_min_chunks`` (``dense_ivf.IvfIndex``: 4 sqrt(n)
cells, k-means on 64 vectors a cell), for each nprobe; the HNSW graph (inner product, M and
efConstruction as given; measured and not used by the engine) built on both cores, its build
time and size; then for each nprobe / efSearch, recall@10 (the exact top 10 found in HNSW's top
10) and recall@100 (the same for the engine's 100 candidates, searched with efSearch >= 100),
with the single-query p50/p95, and how many of the exact top 10 are among the 100 candidates
(what the engine needs: it re-scores candidates exactly).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import WORK, footer, ms, pct, questions, squad_index, table


def load(size: str) -> np.ndarray:
    from qa import dense_kinds, store
    from qa.dense_flat import flat_vectors

    if size.startswith("mix-"):
        return mixtures(parse_size(size[4:]))
    if size == "real":
        index = squad_index(log=lambda m: print(m, file=sys.stderr))
    else:
        index = WORK / f"synth-{size}"
    manifest = store.read_manifest(index)
    folder = store.generation_dir(index, manifest)
    n = manifest["counts"]["chunks"]
    faiss_index = dense_kinds.read(folder, manifest["dim"], n)  # alive while its vectors are read
    vectors = np.array(flat_vectors(faiss_index), dtype="float32")
    if size == "real":
        _, sentence_vectors = store.read_sentences(folder, n)
        vectors = np.concatenate([vectors, np.asarray(sentence_vectors, dtype="float32")])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def parse_size(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text.rstrip("kKmM")) * scale)


def mixtures(n: int, seed: int = 0) -> np.ndarray:
    """``n`` chunk-like vectors: each the normalised mean of 2-6 real sentence vectors of one
    squad-dev article (a chunk's mean-pooled embedding is about the mean of its sentences'),
    so they are new points on the model's own manifold, topically grouped as an archive is,
    without the near-copies of the noise-perturbed indexes."""
    from qa import store

    index = squad_index(log=lambda m: print(m, file=sys.stderr))
    manifest = store.read_manifest(index)
    folder = store.generation_dir(index, manifest)
    n_chunks = manifest["counts"]["chunks"]
    chunks = np.asarray(store.read_chunks(folder))
    rows, sentence_vectors = store.read_sentences(folder, n_chunks)
    docs = store.DocumentStore(folder / "docs.sqlite")
    article = np.array([m.title for m in docs.meta])[chunks[np.asarray(rows[:, 0]), 0]]
    docs.close()
    names, group = np.unique(article, return_inverse=True)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(names) + 1))
    sv = np.asarray(sentence_vectors, dtype="float32")
    rng = np.random.default_rng(seed)
    out = np.empty((n, sv.shape[1]), dtype="float32")
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        art = rng.integers(len(names), size=m)
        size = rng.integers(2, 7, size=m)
        block = np.zeros((m, sv.shape[1]), dtype="float32")
        for j in range(6):
            pick = bounds[art] + rng.integers(0, 1 << 30, size=m) % (bounds[art + 1] - bounds[art])
            block += np.where((j < size)[:, None], sv[order[pick]], 0.0)
        out[lo:lo + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def truth(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    best_s = np.full((len(queries), 0), -np.inf, dtype="float32")
    best_i = np.zeros((len(queries), 0), dtype="int64")
    for lo in range(0, len(vectors), 200_000):
        sims = queries @ vectors[lo:lo + 200_000].T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(sims, part, 1)], axis=1)
        best_i = np.concatenate([best_i, part + lo], axis=1)
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def recall(found: np.ndarray, true: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, true)]))


def in_candidates(found: np.ndarray, true: np.ndarray) -> float:
    """The exact top 10 found among the 100 candidates: what the engine needs, since it
    re-scores every candidate with the exact cosine and the other signals."""
    return float(np.mean([len(set(f) & set(t[:10])) / 10 for f, t in zip(found, true)]))


def timed_search(index, queries: np.ndarray, k: int, params=None) -> tuple[np.ndarray, list[float]]:
    found, times = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], k, params=params) if params is not None else index.search(q[None, :], k)
        times.append(time.perf_counter() - t)
        found.append(ids[0])
    return np.array(found), times


HEADERS = ["vectors", "n", "index", "efSearch / nprobe", "recall@10", "top 10 in 100", "recall@100",
           "p50 ms (k=100)", "p95 ms (k=100)", "build", "MB"]


def ivf_rows(size: str, vectors: np.ndarray, queries: np.ndarray, true: np.ndarray, nprobes: list[int]) -> list:
    """IVF-Flat (inner product): k-means cells, exact vectors inside them."""
    import faiss

    from qa import dense_kinds
    from qa.dense_ivf import IvfIndex

    with tempfile.TemporaryDirectory() as folder:  # the engine's own writer, as a build makes it
        t = time.perf_counter()
        plan = dense_kinds.write(Path(folder), vectors, IvfIndex.plan(len(vectors)))
        built = time.perf_counter() - t
        ivf = faiss.read_index(str(Path(folder) / "vectors.faiss"))
    nlist = plan["nlist"]
    faiss.omp_set_num_threads(1)
    out = []
    for nprobe in nprobes:
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        f10, _ = timed_search(ivf, queries, 10, params)
        f100, t100 = timed_search(ivf, queries, 100, params)
        out.append([size, len(vectors), f"IVF-Flat nlist={nlist}", nprobe, recall(f10, true, 10),
                    in_candidates(f100, true), recall(f100, true, 100), ms(pct(t100, 50)), ms(pct(t100, 95)),
                    f"{built:.0f} s", f"{(ivf.ntotal * (ivf.d * 4 + 8) + nlist * ivf.d * 4) / 2**20:,.0f}"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="real,mix-100k,mix-1M,100k,1M")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", default="16,32,64,128,256")
    parser.add_argument("--kinds", default="hnsw,ivf", help="approximate indexes to measure beside flat")
    parser.add_argument("--nprobe", default="8,16,32,64,128")
    parser.add_argument("--m", type=int, default=32, help="HNSW M")
    parser.add_argument("--ef-construction", type=int, default=80, help="HNSW efConstruction")
    args = parser.parse_args()
    started = time.perf_counter()
    import faiss

    from qa import Settings
    from qa.embed import get_encoder

    settings = Settings.from_env()
    m, ef_construction = args.m, args.ef_construction
    encoder = get_encoder(settings.model_path)
    queries = encoder.encode(questions(args.queries, seed=2))
    efs = [int(e) for e in args.ef.split(",")]
    nprobes = [int(e) for e in args.nprobe.split(",")]
    kinds = args.kinds.split(",")
    rows = []
    for size in args.sizes.split(","):
        vectors = load(size)
        true = truth(vectors, queries, 100)
        faiss.omp_set_num_threads(1)
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        found, times = timed_search(flat, queries, 100)
        print(f"{size}: {len(vectors):,} vectors", file=sys.stderr, flush=True)
        rows.append([size, len(vectors), "flat (exact)", "", recall(found, true, 10), 1.0, recall(found, true, 100),
                     ms(pct(times, 50)), ms(pct(times, 95)), "", f"{flat.ntotal * flat.d * 4 / 2**20:,.0f}"])
        del flat
        if "ivf" in kinds:
            rows += ivf_rows(size, vectors, queries, true, nprobes)
            print(table(HEADERS, rows[-len(nprobes):]), flush=True)
        if "hnsw" not in kinds:
            continue
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        hnsw = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = ef_construction
        t = time.perf_counter()
        hnsw.add(vectors)
        built = time.perf_counter() - t
        size_mb = len(faiss.serialize_index(hnsw)) / 2**20 if len(vectors) <= 200_000 else \
            (hnsw.ntotal * (hnsw.d * 4 + m * 2 * 4 * 1.07)) / 2**20
        faiss.omp_set_num_threads(1)
        for ef in efs:
            p10 = faiss.SearchParametersHNSW(efSearch=ef)
            f10, t10 = timed_search(hnsw, queries, 10, p10)
            p100 = faiss.SearchParametersHNSW(efSearch=max(ef, 100))
            f100, t100 = timed_search(hnsw, queries, 100, p100)
            rows.append([size, len(vectors), f"HNSW M={m} efC={ef_construction}",
                         ef, recall(f10, true, 10), in_candidates(f100, true), recall(f100, true, 100), ms(pct(t100, 50)),
                         ms(pct(t100, 95)), f"{built:.0f} s", f"{size_mb:,.0f}"])
        print(table(HEADERS, rows[-len(efs):]), flush=True)
        del hnsw, vectors
    print("\n## All sizes\n")
    print(table(HEADERS, rows))
    print("\nrecall@10: efSearch as given, k=10; top 10 in 100, recall@100 and times: k=100 with efSearch max(ef, 100), "
          "as the engine searches its 100 candidates. Searches on one thread (as the engine); "
          "the graph built on all cores.")
    print(footer(started))


if __name__ == "__main__":
    main()
