"""Torch against ONNX fp32 and ONNX int8 encoders (issue 5): agreement, throughput, query latency, quality.

    .venv/bin/python benchmarks/bench_encoders.py [--chunks 320] [--rounds 3] [--queries 200] [--quality]

The ONNX models are exported here from the bundled model (``qa.onnx_encoder.export``: fp32,
then int8 by onnxruntime's dynamic quantisation of the MatMul weights, per channel), into
``$QA_BENCH_WORK``/onnx (default /tmp/qa-bench/onnx); nothing is downloaded.

- Agreement: cosine of each ONNX encoder's vectors to torch's, on the first ``--chunks`` chunks
  the build makes of squad-dev (headline in front, as the build embeds them): the chunk vectors
  and the sentence-span vectors of ``encode_with_spans``, and the chunk vectors of ``encode``.
- Throughput: ``encode_with_spans`` on the same chunks, batch 32, the encoders alternated inside
  each round (the first encoder rotates); the ratio to torch is taken within each round.
- Query latency: ``encode_query`` on ``--queries`` squad-dev questions, the encoders alternated
  per question, after a warm-up; the ONNX encoders run their 1-thread query session, and a
  2-thread variant of fp32 is timed alongside.
- ``--quality``: a squad-dev index built with each encoder (``qa.build.build``, under
  ``$QA_BENCH_WORK``/onnx-index-NAME), opened with ``Engine.open`` with that encoder set for the
  queries too, scored by ``qa.evaluate.evaluate`` (hybrid) on squad-dev's questions.

Every table ends with the load average at the time it was made: the machine is shared.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
from common import SQUAD, WORK, footer, ms, pct, questions, squad_corpus, table


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def chunk_inputs(settings, encoder, limit: int) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """The texts and sentence spans the build embeds, for the first ``limit`` chunks of the corpus."""
    from qa import ingest
    from qa.chunk import Chunker, model_text, title_prefix

    root = Path(settings.corpus)
    sidecar, _ = ingest.load_sidecar(root)
    chunker = Chunker(encoder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens)
    texts, spans = [], []
    for f in ingest.list_files(root):
        docs = ingest.read_file(root, f, sidecar).documents
        for c in chunker.split_many(docs):
            seen = model_text(title_prefix(encoder.truncate, next(d.title for d in docs if d.doc_id == c.doc_id)),
                              c.text)
            texts.append(seen.text)
            spans.append(seen.text_spans)
            if len(texts) == limit:
                return texts, spans
    return texts, spans


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a.astype("float32") * b.astype("float32")).sum(1)


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=320, help="squad-dev chunks for agreement and throughput")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (encoders alternated)")
    parser.add_argument("--queries", type=int, default=200, help="squad-dev questions for query latency")
    parser.add_argument("--quality", action="store_true", help="also build and score a squad-dev index per encoder")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's "consider pre-processing"

    from qa import Settings
    from qa.embed import get_encoder
    from qa.onnx_encoder import META_FILE, OnnxEncoder, export

    settings = Settings.from_env(corpus=str(squad_corpus()))
    torch_encoder = get_encoder(settings.model_path)
    folder = WORK / "onnx"
    t0 = time.perf_counter()
    fp32_path = export(torch_encoder, folder, overwrite=True)
    fp32_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    int8_path = export(torch_encoder, folder, int8=True)
    int8_s = time.perf_counter() - t0
    meta = json.loads((folder / META_FILE).read_text())
    encoders = {"torch": torch_encoder,
                "onnx fp32": OnnxEncoder(settings.model_path, fp32_path),
                "onnx int8": OnnxEncoder(settings.model_path, int8_path)}
    results: dict = {"load_start": load(), "export": meta}
    lines = [
        "### Export (from the bundled model, local)\n",
        table(["model", "file", "MB", "made in s", "load"],
              [["onnx fp32", fp32_path.name, fp32_path.stat().st_size / 1e6, fp32_s, load()],
               ["onnx int8", int8_path.name, int8_path.stat().st_size / 1e6, int8_s, load()]]),
        f"\nint8 setting kept: {meta['int8']} (tried {len(meta['int8_tried'])}); model.safetensors is "
        f"{Path(settings.model_path, 'model.safetensors').stat().st_size / 1e6:.1f} MB.",
    ]

    # --- agreement -----------------------------------------------------------------------------
    texts, spans = chunk_inputs(settings, torch_encoder, args.chunks)
    for enc in encoders.values():  # warm up every session (and the query sessions)
        enc.encode_with_spans(texts[:4], spans[:4])
        enc.encode_query("warm up")
    out = {name: enc.encode_with_spans(texts, spans, batch_size=32) for name, enc in encoders.items()}
    plain = {name: enc.encode(texts, batch_size=32) for name, enc in encoders.items()}
    ref_vecs, ref_pooled = out["torch"]
    ref_sent = np.concatenate(ref_pooled)
    rows = []
    for name in ("onnx fp32", "onnx int8"):
        vecs, pooled = out[name]
        chunk_cos, sent_cos = cosines(vecs, ref_vecs), cosines(np.concatenate(pooled), ref_sent)
        enc_cos = cosines(plain[name], plain["torch"])
        rows.append([name, float(chunk_cos.min()), float(chunk_cos.mean()), float(sent_cos.min()),
                     float(sent_cos.mean()), f"{(sent_cos < 0.99).mean():.2%}", float(enc_cos.min()),
                     float(enc_cos.mean())])
        results.setdefault("agreement", {})[name] = dict(zip(
            ["chunk_min", "chunk_mean", "sentence_min", "sentence_mean", "sentence_below_0.99",
             "encode_min", "encode_mean"], rows[-1][1:]))
    lines += [f"\n### Agreement with torch: {len(texts)} squad-dev chunks, {len(ref_sent)} sentence spans "
              f"(load {load()})\n",
              table(["encoder", "chunk cos min", "chunk cos mean", "sentence cos min", "sentence cos mean",
                     "sentences < 0.99", "encode() cos min", "encode() cos mean"], rows)]

    # --- throughput ----------------------------------------------------------------------------
    names = list(encoders)
    per_round = {name: [] for name in names}
    loads = []
    for r in range(args.rounds):
        loads.append(load())
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            encoders[name].encode_with_spans(texts, spans, batch_size=32)
            per_round[name].append(len(texts) / (time.perf_counter() - t0))
    rows = []
    for name in names:
        ratios = [a / b for a, b in zip(per_round[name], per_round["torch"])]
        rows.append([name, float(np.median(per_round[name])), " / ".join(f"{x:.1f}" for x in per_round[name]),
                     f"{np.median(ratios):.2f}×", " / ".join(f"{x:.2f}" for x in ratios)])
    results["throughput"] = {"chunks_per_s": per_round, "loads": loads + [load()]}
    lines += [f"\n### Throughput: `encode_with_spans`, {len(texts)} chunks, batch 32, {args.rounds} rounds, "
              f"encoders alternated (load at each round's start: {', '.join(loads)}; at the end {load()})\n",
              table(["encoder", "median chunks/s", "chunks/s per round", "median ratio to torch",
                     "ratio per round"], rows)]

    # --- query latency -------------------------------------------------------------------------
    qs = questions(args.queries)
    fp32_2t = copy.copy(encoders["onnx fp32"])
    fp32_2t._query_session = fp32_2t.session  # the 2-thread batch session for single queries
    timed = {"torch": torch_encoder, "onnx fp32": encoders["onnx fp32"], "onnx fp32 (2 threads)": fp32_2t,
             "onnx int8": encoders["onnx int8"]}
    for enc in timed.values():
        for q in qs[:5]:
            enc.encode_query(q)
    lat = {name: [] for name in timed}
    load_before = load()
    for q in qs:
        for name, enc in timed.items():
            t0 = time.perf_counter()
            enc.encode_query(q)
            lat[name].append(ms(time.perf_counter() - t0))
    rows = [[name, pct(v, 50), pct(v, 95), float(np.mean(v)),
             f"{np.median(np.array(lat['torch']) / np.array(v)):.2f}×"] for name, v in lat.items()]
    results["query_ms"] = {name: {"p50": pct(v, 50), "p95": pct(v, 95)} for name, v in lat.items()}
    lines += [f"\n### Query encoding: `encode_query`, {len(qs)} squad-dev questions, encoders alternated per "
              f"question (load before {load_before}, after {load()})\n",
              table(["encoder", "p50 ms", "p95 ms", "mean ms", "median speed-up vs torch"], rows)]

    if args.quality:
        lines += quality(settings, encoders, results)
    lines.append(footer(started))
    text = "\n".join(lines)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def quality(settings, encoders: dict, results: dict) -> list[str]:
    """Build a squad-dev index with each encoder and score it with ``qa eval``'s own function (hybrid)."""
    from qa import Engine
    from qa.build import build
    from qa.evaluate import evaluate, load_questions

    qs = load_questions(SQUAD / "questions.jsonl")
    rows, builds = [], []
    base = None
    for name, enc in encoders.items():
        index = WORK / f"onnx-index-{name.replace(' ', '-')}"
        shutil.rmtree(index, ignore_errors=True)
        load_before = load()
        report = build(settings.with_(index=str(index)), progress=False, log=lambda _m: None, encoder=enc)
        builds.append([name, report.chunks, report.seconds, report.embed_seconds,
                       report.chunks / max(report.embed_seconds, 1e-9), f"{load_before} → {load()}"])
        engine = Engine.open(index)
        engine._encoder = enc  # the queries too
        load_before = load()
        result = evaluate(engine, qs, modes=("hybrid",))
        s = result["modes"]["hybrid"]["all"]
        base = s["MRR@10"] if base is None else base
        rows.append([name, f'{s["answerable"]}+{s["unanswerable"]}u', s["MRR@10"], s["Hit@1"], s["Hit@5"],
                     s["AnswerRecall@1"], s["false_abstention_rate"], s["abstention_accuracy"],
                     f'{s["MRR@10"] - base:+.4f}', s["latency_p50_ms"], f"{result['seconds']:.0f}",
                     f"{load_before} → {load()}"])
        results.setdefault("quality", {})[name] = {**{k: v for k, v in s.items()}, "index": str(index),
                                                   "eval_seconds": result["seconds"],
                                                   "build_seconds": report.seconds,
                                                   "embed_seconds": report.embed_seconds}
    fmt = [[r[0], r[1], *[f"{x:.4f}" if isinstance(x, float) else x for x in r[2:8]], r[8],
            f"{r[9]:.1f}", r[10], r[11]] for r in rows]
    return [
        "\n### Building the squad-dev index with each encoder (`qa.build.build`, fresh)\n",
        table(["encoder", "chunks", "build s", "embed s", "embed chunks/s", "load before → after"], builds),
        "\n### Quality: `qa.evaluate.evaluate`, hybrid, squad-dev questions, queries encoded by the same encoder\n",
        table(["encoder", "questions", "MRR@10", "Hit@1", "Hit@5", "AR@1", "false abstain", "abstain acc",
               "ΔMRR@10 vs torch (keep if > −0.005)", "ask p50 ms", "eval s", "load before → after"], fmt),
    ]


if __name__ == "__main__":
    main()
