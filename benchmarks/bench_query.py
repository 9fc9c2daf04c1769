"""Query latency and memory of ``Engine.ask`` at 10k/100k/1M chunks, beside the floor of the same run.

    .venv/bin/python benchmarks/bench_query.py [--sizes 10k,100k,1M] [--questions 200] [--warmup 10]

Per size: a synthetic index in the engine's own format (real squad-dev chunks recombined into
articles, their real term counts, their real vectors perturbed; see ``common.synthetic_index``),
then, in a fresh process, the real model and the real ``Engine.ask`` (default mode, k=5) on real
squad-dev questions. The floor is one query encode + one FAISS search of the same index
(k = the engine's candidate count), timed right after each ask. The breakdown times the stages
of the query path separately. Memory is VmRSS after open and after the questions.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import (WORK, footer, index_bytes, ms, pct, questions, rss_mb, squad_index, synthetic_index,
                    table)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def generate(n: int) -> None:
    out = WORK / f"synth-{label(n)}"
    synthetic_index(squad_index(log=lambda m: print(m, file=sys.stderr)), out, n)


SEQUENCE = {"seq_faiss": "FAISS search", "seq_lists": "BM25 lists read and summed", "seq_top": "BM25 top 100",
            "seq_sent_cos": "sentence cosines", "seq_sent_bm25": "sentence BM25", "seq_pairs": "word pairs",
            "seq_passages": "passages (sqlite)"}


def measure(n: int, n_questions: int, warmup: int) -> dict:
    from qa import Engine, Settings
    from qa.embed import get_encoder
    from qa.retrieve import _ranges

    index = WORK / f"synth-{label(n)}"
    rss_start = rss_mb()
    encoder = get_encoder(Settings.from_env().model_path)
    encoder.encode_query("warm up")
    rss_model = rss_mb()
    t0 = time.perf_counter()
    engine = Engine.open(index)
    open_s = time.perf_counter() - t0
    rss_open = rss_mb()
    engine.warm()
    qs = questions(warmup + n_questions, seed=1)
    for q in qs[:warmup]:
        engine.ask(q, k=5)
    ret, cand = engine.retriever, engine.settings.candidates
    t: dict[str, list[float]] = {k: [] for k in ("ask", "floor", "encode", "faiss", "numpy", "bm25_all",
                                                 "search", "sentences", "passages", "candidates")}
    for q in qs[warmup:]:
        a = time.perf_counter()
        engine.ask(q, k=5)
        b = time.perf_counter()
        vec = encoder.encode_query(q)
        c = time.perf_counter()
        ret.dense(vec, cand, None)  # the engine's own FAISS call (efSearch as it searches)
        d = time.perf_counter()
        t["ask"].append(b - a), t["floor"].append(d - b), t["encode"].append(c - b), t["faiss"].append(d - c)
        try:  # the stages, through the engine's own (internal) methods; skipped if they change
            v = vec.ravel()
            a = time.perf_counter()
            if ret.dense_index.kind == "flat":  # flat only: a full scan would page in every vector IVF never reads
                sims = ret.vectors @ v
                top = np.argpartition(-sims, cand)[:cand]
                top[np.argsort(-sims[top])]
            b = time.perf_counter()
            lists = ret.bm25.lists(ret.bm25.query_terms(q))  # read the lists, sum them, rank
            lists.top(cand)
            lists.release()
            c = time.perf_counter()
            cands = ret.search(v, q, "hybrid")
            d = time.perf_counter()
            ret.sentence_scores(cands.rows, v, ret.bm25.query_terms(q))
            e = time.perf_counter()
            engine._passages(cands, 5)
            f = time.perf_counter()
            t["numpy"].append(b - a), t["bm25_all"].append(c - b), t["search"].append(d - c)
            t["sentences"].append(e - d), t["passages"].append(f - e), t["candidates"].append(len(cands.rows))
            # The same stages in the order an ask runs them, right after an encode: the caches as
            # an ask finds them (the model's weights have just streamed through them).
            encoder.encode_query(q)
            words, pairs = ret.query_terms(q)  # a QueryTerms
            laps = [time.perf_counter()]
            found, _ = ret.dense(v, cand, None)
            laps.append(time.perf_counter())
            lists = ret.bm25.lists(words)
            laps.append(time.perf_counter())
            rows = np.union1d(found, lists.top(cand, None))
            lists.of(rows)
            lists.release()
            laps.append(time.perf_counter())
            lo, hi = ret.sentence_bounds[rows], ret.sentence_bounds[rows + 1]
            ids = _ranges(lo, hi)
            ret.sentence_vectors.dot(ids, v)
            laps.append(time.perf_counter())
            ret.sentence_bm25.scores_of(words, ids, idf=ret.bm25.idf)
            laps.append(time.perf_counter())
            ret.pair_bm25.scores_in_ranges(pairs, rows, rows + 1)
            laps.append(time.perf_counter())
            engine._passages(cands, 5)
            laps.append(time.perf_counter())
            for key, x, y in zip(SEQUENCE, laps, laps[1:]):
                t.setdefault(key, []).append(y - x)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
            print(f"breakdown skipped: {exc!r}", file=sys.stderr)
    return {"n": n, "docs": len(engine.docs.meta), "index": engine.manifest.get("vector_index", {}).get("type", "flat"),
            "open_s": open_s, "rss_start": rss_start, "rss_model": rss_model,
            "rss_open": rss_open, "rss_after": rss_mb(), "bytes": index_bytes(index), "times": t}


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1M", help="chunk counts, e.g. 10k,100k,1M")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the synthetic indexes")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)  # child: write one index
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)  # child: measure one index
    args = parser.parse_args()
    if args.generate:
        return generate(args.generate)
    if args.measure:
        return print(json.dumps(measure(args.measure, args.questions, args.warmup)))

    results, gen_s = [], {}
    for n in (parse_size(s) for s in args.sizes.split(",")):
        path = WORK / f"synth-{label(n)}"
        if args.regenerate or not (path / "manifest.json").exists():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--generate", str(n)], check=True)
            gen_s[n] = time.perf_counter() - t0
            print(f"generated {path} in {gen_s[n]:.0f} s", file=sys.stderr)
        out = subprocess.run([sys.executable, __file__, "--measure", str(n), "--questions", str(args.questions),
                              "--warmup", str(args.warmup)], check=True, capture_output=True, text=True)
        sys.stderr.write(out.stderr[-2000:])
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(report(results, gen_s, args, started))


def report(results: list[dict], gen_s: dict, args, started: float) -> str:
    def p(r, key, q):
        return ms(pct(r["times"][key], q))

    latency = [[label(r["n"]), r["docs"], r.get("index", "flat"), p(r, "ask", 50), p(r, "ask", 95), p(r, "floor", 50), p(r, "floor", 95),
                f"{p(r, 'ask', 50) / p(r, 'floor', 50):.2f}x", f"{p(r, 'ask', 95) / p(r, 'floor', 95):.2f}x"]
               for r in results]
    stages = [[label(r["n"])] + [p(r, k, 50) for k in ("encode", "faiss", "numpy", "bm25_all", "sentences",
                                                        "passages", "search")]
              + [int(pct(r["times"]["candidates"], 50)) if r["times"]["candidates"] else "n/a"] for r in results]
    memory = []
    for r in results:
        vt = (r["bytes"]["vectors"] + r["bytes"]["texts"]) / 2**20
        memory.append([label(r["n"]), r["open_s"], r["rss_model"], r["rss_open"], r["rss_after"],
                       r["bytes"]["vectors"] / 2**20, r["bytes"]["texts"] / 2**20, r["bytes"]["files"] / 2**20,
                       f"{(r['rss_after'] - r['rss_model']) / vt:.2f}x", f"{r['rss_after'] / vt:.2f}x"])
    gen = ", ".join(f"{label(n)} {s:.0f} s" for n, s in gen_s.items()) or "none (reused)"
    return "\n".join([
        f"### Query latency: `Engine.ask` (hybrid, k=5) vs floor (one query encode + the engine's FAISS search, "
        f"k=100, flat or IVF as the index holds); {args.questions} squad-dev questions after {args.warmup} warm-up asks, ms\n",
        table(["chunks", "docs", "FAISS index", "ask p50", "ask p95", "floor p50", "floor p95", "p50 ratio (goal ≤1.3x)",
               "p95 ratio (goal ≤2x)"], latency),
        "\n### Stages of the query path, p50 ms (timed apart, same questions)\n",
        table(["chunks", "encode query", "FAISS search k=100", "numpy matmul+top100 (flat only)", "BM25 top 100 (read, sum, rank)",
               "sentence scores", "passages (sqlite)", "Retriever.search total", "candidates"], stages),
        "\n### The same stages in an ask's order, each question right after an encode (the caches as an ask "
        "finds them), p50 ms\n",
        table(["chunks"] + list(SEQUENCE.values()) + ["sum"],
              [[label(r["n"])] + [p(r, k, 50) for k in SEQUENCE] + [sum(p(r, k, 50) for k in SEQUENCE)]
               for r in results if all(r["times"].get(k) for k in SEQUENCE)]),
        "\n### Memory (MB; RSS = VmRSS incl. touched mmapped pages)\n",
        table(["chunks", "open s (no model)", "RSS model loaded", "RSS after open", "RSS after questions",
               "vectors", "texts", "index files", "index RSS / (vectors+texts)", "total RSS / (vectors+texts)"],
              memory),
        f"\nSynthetic index generation: {gen}.",
        footer(started),
    ])


if __name__ == "__main__":
    main()
