"""Open time of a 100k-chunk index and time to ready of ``python serve.py`` with an existing index.

    .venv/bin/python benchmarks/bench_open.py [--size 100k] [--repeat 5]

``Engine.open`` runs in a fresh process each time (median of ``--repeat``), timed without the
model and then with it (``engine.warm()``: model load and one query encode); the stages of the
open are timed apart with the engine's own readers. ``serve.py`` is started on a free loopback
port with ``--index`` at an existing index and polled at ``/`` until it answers 200: once with
the sample corpus beside it (the default start: check the corpus for changes, then serve) and
once without a corpus (serve the index as it is), for the sample index and the 100k index.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from common import ROOT, WORK, footer, free_port, squad_index, stop, synthetic_index, table

CHILD = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import qa
from qa import Engine, dense_kinds, lexical, store
t1 = time.perf_counter()
e = Engine.open({index!r})
t2 = time.perf_counter()
e.warm()
t3 = time.perf_counter()
m = store.read_manifest(e.index_dir); f = store.generation_dir(e.index_dir, m)
s = {{}}
def lap(name, fn):
    a = time.perf_counter(); out = fn(); s[name] = time.perf_counter() - a; return out
lap("docs meta (sqlite)", lambda: store.DocumentStore(f / "docs.sqlite"))
lap("chunks.npy", lambda: store.read_chunks(f))
lap("vectors.faiss", lambda: dense_kinds.read(f, m["dim"], m["counts"]["chunks"]))
v = lap("bm25_vocab.json", lambda: lexical.load_vocab(f))
for p in ("bm25", "sent_bm25", "pair_bm25"):  # every count matrix of the format, as the engine opens them
    lap(p + " (stored statistics)", lambda: lexical.open_bm25(f, p, None if p == "pair_bm25" else v, 0.9, 0.4,
                                                            pairs=p == "pair_bm25", resident=p == "sent_bm25"))
lap("sentences and their int8 vectors (read into memory)",
    lambda: store.read_sentences(f, m["counts"]["chunks"], memory_limit=8 * 2**30))
print(json.dumps({{"import": t1 - t0, "open": t2 - t1, "warm": t3 - t2, "stages": s}}))
"""


def serve_ready(index, corpus, timeout: float = 180.0) -> tuple[float | None, float | None, str]:
    """Seconds from start until ``/`` answers 200, and until serve.py prints its "Ready:" line
    (the model loaded: questions are answered from then on); None and the reason on failure."""
    import tempfile

    port = free_port()
    cmd = [sys.executable, str(ROOT / "serve.py"), "--index", str(index), "--corpus", str(corpus),
           "--port", str(port)]
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
        page = ready = None
        try:
            while time.perf_counter() - t0 < timeout and (page is None or ready is None):
                if proc.poll() is not None:
                    return page, ready, f"exited {proc.returncode}: {Path(log.name).read_text()[-300:]!r}"
                if ready is None and "Ready:" in Path(log.name).read_text(errors="replace"):
                    ready = time.perf_counter() - t0
                if page is None:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                            if resp.status == 200:
                                page = time.perf_counter() - t0
                    except OSError:
                        pass
                time.sleep(0.05)
            return page, ready, "ok" if page is not None and ready is not None else f"not ready after {timeout:.0f} s"
        finally:
            stop(proc, timeout=10)


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="100k", help="chunks of the synthetic index (10k, 100k, 1M)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-serve", action="store_true", help="skip the serve.py rows")
    args = parser.parse_args()
    size = int(float(args.size.lower().rstrip("km")) * {"k": 1000, "m": 10**6}.get(args.size[-1].lower(), 1))
    index = WORK / f"synth-{args.size}"
    if not (index / "manifest.json").exists():
        synthetic_index(squad_index(), index, size)
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), index=str(index))],
                             check=True, capture_output=True, text=True, cwd=ROOT)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    def med(key):
        return statistics.median(r[key] for r in runs)

    lines = [f"### `Engine.open` of a {args.size}-chunk index, fresh process, median of {args.repeat} (s)\n",
             table(["import qa", "open (no model)", "model load + first encode", "open incl. model (goal <2)"],
                   [[med("import"), med("open"), med("warm"), med("open") + med("warm")]]),
             "\n### Stages of the open, timed apart with the engine's readers (median s)\n",
             table(list(runs[0]["stages"]), [[statistics.median(r["stages"][k] for r in runs)
                                              for k in runs[0]["stages"]]])]
    if not args.no_serve:
        sample = WORK / "sample-index"
        if not (sample / "manifest.json").exists():
            from qa.build import build
            from qa import Settings
            build(Settings.from_env(corpus=str(ROOT / "corpus"), index=str(sample)), progress=False,
                  log=lambda m: None)
        rows = []
        for name, idx, corpus in (("sample corpus index, corpus beside it", sample, ROOT / "corpus"),
                                  ("sample corpus index, no corpus", sample, WORK / "no-corpus"),
                                  (f"{args.size} index, no corpus", index, WORK / "no-corpus")):
            page, ready, why = serve_ready(idx, corpus)
            rows.append([name, page if page is not None else "n/a", ready if ready is not None else "n/a", why])
        lines += ["\n### `python serve.py` with an existing index: seconds from start to the page (first 200 "
                  "on `/`) and to \"Ready:\" (model loaded, questions answered; goal <10 s)\n",
                  table(["case", "page s", "ready s", "status"], rows)]
    lines.append(footer(started))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
