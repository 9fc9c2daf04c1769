"""Build throughput of ``qa build`` against raw ``model.encode`` on the same chunks, in the same run.

    .venv/bin/python benchmarks/bench_build.py [--limit N] [--cli]

The chunks are those the build makes of the squad-dev corpus (or its first ``--limit``
paragraphs): ingested and chunked once here with the engine's own functions, headline in
front as the build embeds them, then encoded with ``SentenceTransformer.encode`` (batch size
of the settings, normalised): that is the floor. Then the build proper (``qa.build.build``,
what ``qa build`` runs, with the model already loaded), then a second build of the unchanged
corpus. ``--cli`` adds a fresh ``qa build`` process (imports and model load included).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, WORK, footer, squad_corpus, table


def chunk_texts(settings, encoder) -> tuple[list[str], float]:
    """The texts the build embeds (headline + chunk), and the seconds ingestion and chunking took."""
    from qa import ingest
    from qa.chunk import Chunker, model_text, title_prefix

    t0 = time.perf_counter()
    root = Path(settings.corpus)
    sidecar, _ = ingest.load_sidecar(root)
    docs = [d for f in ingest.list_files(root) for d in ingest.read_file(root, f, sidecar).documents]
    chunks = Chunker(encoder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens).split_many(docs)
    titles = {d.doc_id: title_prefix(encoder.truncate, d.title) for d in docs}
    texts = [model_text(titles[c.doc_id], c.text).text for c in chunks]
    return texts, time.perf_counter() - t0


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N squad-dev paragraphs (default: all 2,067)")
    parser.add_argument("--cli", action="store_true", help="also time a fresh `qa build` process")
    args = parser.parse_args()

    from qa import Settings
    from qa.build import build
    from qa.embed import get_encoder

    corpus = squad_corpus(args.limit)
    index = WORK / f"build-{args.limit or 'all'}"
    shutil.rmtree(index, ignore_errors=True)
    settings = Settings.from_env(corpus=str(corpus), index=str(index))
    t0 = time.perf_counter()
    encoder = get_encoder(settings.model_path)
    load_s = time.perf_counter() - t0
    encoder.encode(["warm up"] * 8)

    texts, prep_s = chunk_texts(settings, encoder)
    t0 = time.perf_counter()
    encoder.model.encode(texts, batch_size=settings.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
    raw_s = time.perf_counter() - t0

    def quiet(_msg: str) -> None:
        pass

    first = build(settings, progress=False, log=quiet, encoder=encoder)
    second = build(settings, progress=False, log=quiet, encoder=encoder)
    n = first.chunks
    rows = [[len(texts), raw_s, len(texts) / raw_s, n, first.seconds, n / first.seconds,
             f"{(n / first.seconds) / (len(texts) / raw_s):.0%}", second.seconds,
             f"{second.seconds / first.seconds:.2%}"]]
    parts = [[prep_s, first.embed_seconds, n / max(first.embed_seconds, 1e-9),
              first.seconds - first.embed_seconds, load_s]]
    lines = [
        f"### Build: `qa build` (in-process, model loaded) vs raw `model.encode`, squad-dev "
        f"{'first ' + str(args.limit) + ' paragraphs' if args.limit else 'corpus'}\n",
        table(["chunks encoded raw", "raw encode s", "raw chunks/s", "chunks built", "build s", "build chunks/s",
               "build / raw (goal ≥90%)", "unchanged rebuild s", "rebuild / first (goal <5%)"], rows),
        "\n### Where the first build's time goes\n",
        table(["ingest+chunk s (measured apart)", "embed s (build's own timer)", "embed chunks/s",
               "build outside embed s", "model load s"], parts),
    ]
    if args.cli:
        cli_index = WORK / f"build-cli-{args.limit or 'all'}"
        shutil.rmtree(cli_index, ignore_errors=True)
        cmd = [str(Path(sys.executable).with_name("qa")), "build", "--corpus", str(corpus), "--index",
               str(cli_index), "--quiet"]
        cli_s = []
        for _ in range(2):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
            cli_s.append(time.perf_counter() - t0)
        lines += ["\n### Fresh `qa build` processes (imports and model load included)\n",
                  table(["first s", "chunks/s", "unchanged rebuild s", "rebuild / first"],
                        [[cli_s[0], n / cli_s[0], cli_s[1], f"{cli_s[1] / cli_s[0]:.1%}"]])]
    lines.append(footer(started))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
