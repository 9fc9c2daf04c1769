"""The project's reader against trafilatura on a public article-extraction benchmark (issue 16).

    .venv/bin/python benchmarks/bench_ingest.py [--pages N] [--variants] [--json FILE]

The pages are those of ``../shared/eval/article-extraction`` (181 real article pages with their
true bodies, MIT; ``$QA_BENCH_EXTRACTION`` to move it): each ``html/<id>.html.gz`` is
decompressed once into a temporary folder as ``<id>.html`` (the page's own bytes), and both
systems read those files in this process:

- the project's reader: ``qa.ingest.read_file(folder, "<id>.html", {})``, what ``qa build``
  runs per file; the page's prediction is the text of its documents (blank lines between them);
- trafilatura: ``trafilatura.extract(bytes, include_comments=False)`` on the file's bytes (the
  benchmark asks for the article body, so readers' comments are left out; the defaults
  otherwise: balanced precision/recall, tables kept), and again with ``favor_precision=True``
  (what ``qa.htmlpages`` runs; the reader adds credit lines and falls back on its own parse).
  ``--variants`` adds trafilatura with ``favor_recall=True``.

Both are scored by the benchmark's own ``score.py`` (its ``score`` function is imported): word
4-gram shingles of each page's prediction against its true ``articleBody``, precision and recall
averaged over pages, F1 from the two. ``--pages N`` keeps the first N pages (sorted by id) and
scores those only. "read as nothing" counts pages whose prediction is empty (for the reader: no
document, or an error). Seconds are the wall time of reading and extracting every page, one
system after the other, after one untimed page through each (the machine is shared: compare
them within a run). A second table counts the pages on which each system finds a publication
date and an author (the reader: ``Document.published``/``author``; trafilatura:
``extract_metadata`` of the parsed page, htmldate's extensive search included); the benchmark
has no true dates or authors, so these are counts, not accuracy (the reader finds its metadata in
the read timed above; trafilatura's metadata pass is timed apart).

``--check N`` prints, for N pages picked with a fixed seed, the date and author each system
found beside what the page itself says (its date and author meta tags, JSON-LD, ``<time>``
elements, the date in its URL, its "By …" lines), for checking them by hand.

If trafilatura is not installed (``pip install trafilatura``), the reader runs alone and the
output says so. ``--json FILE`` writes the rows and every page's per-system figures.
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from common import ROOT, footer, table

TRAFILATURA_SETTINGS = {"include_comments": False}
# Run by default beside the defaults: the setting qa.htmlpages reads pages with.
PRECISION = {"favor_precision": {"favor_precision": True}}
VARIANTS = {"favor_recall": {"favor_recall": True}}


def benchmark_dir() -> Path:
    """``$QA_BENCH_EXTRACTION``, else ``shared/eval/article-extraction`` beside the checkout (or above it)."""
    if os.environ.get("QA_BENCH_EXTRACTION"):
        return Path(os.environ["QA_BENCH_EXTRACTION"])
    for parent in ROOT.parents:
        found = parent / "shared" / "eval" / "article-extraction"
        if found.is_dir():
            return found
    return ROOT.parent / "shared" / "eval" / "article-extraction"


def load_scorer(folder: Path):
    """The benchmark's ``score.py`` as a module (its ``score`` and ``page_counts``)."""
    spec = importlib.util.spec_from_file_location("article_extraction_score", folder / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unpack(folder: Path, ids: list[str], out: Path) -> list[str]:
    """Decompress each page to ``out/<id>.html``; the relative paths, in order."""
    names = []
    for page in ids:
        name = f"{page}.html"
        (out / name).write_bytes(gzip.decompress((folder / "html" / f"{page}.html.gz").read_bytes()))
        names.append(name)
    return names


def warm_up(trafilatura, tmp: Path, name: str) -> None:
    """One untimed page through each system, so that first-call costs (lazy imports, stop lists) stay out."""
    from qa import ingest

    ingest.read_file(tmp, name, {})
    if trafilatura is not None:
        trafilatura.extract((tmp / name).read_bytes(), **TRAFILATURA_SETTINGS)
        trafilatura.extract_metadata(trafilatura.load_html((tmp / name).read_bytes()))


def run_reader(tmp: Path, ids: list[str], names: list[str]) -> tuple[dict, dict, float]:
    """The project's reader on every page: predictions, per-page details, seconds."""
    from qa import ingest

    pred, details = {}, {}
    t0 = time.perf_counter()
    results = [ingest.read_file(tmp, name, {}) for name in names]
    seconds = time.perf_counter() - t0
    for page, result in zip(ids, results):
        docs = result.documents
        pred[page] = {"articleBody": "\n\n".join(d.text for d in docs)}
        details[page] = {"error": result.error, "documents": len(docs),
                         "date": next((d.published for d in docs if d.published), None),
                         "author": next((d.author for d in docs if d.author), None)}
    return pred, details, seconds


def run_trafilatura(trafilatura, tmp: Path, ids: list[str], names: list[str], settings: dict
                    ) -> tuple[dict, dict, float]:
    """``trafilatura.extract`` with ``settings`` on every page's bytes: predictions, details, seconds."""
    pred, details = {}, {}
    t0 = time.perf_counter()
    for page, name in zip(ids, names):
        error = None
        try:
            text = trafilatura.extract((tmp / name).read_bytes(), **settings) or ""
        except Exception as exc:  # noqa: BLE001 - a page that breaks it counts as read as nothing
            text, error = "", f"{type(exc).__name__}: {exc}"
        pred[page] = {"articleBody": text}
        details[page] = {"error": error}
    return pred, details, time.perf_counter() - t0


def trafilatura_metadata(trafilatura, tmp: Path, ids: list[str], names: list[str]) -> tuple[dict, float]:
    """The date and author ``trafilatura.extract_metadata`` finds on each page, and the seconds."""
    found = {}
    t0 = time.perf_counter()
    for page, name in zip(ids, names):
        try:
            meta = trafilatura.extract_metadata(trafilatura.load_html((tmp / name).read_bytes()))
            found[page] = {"date": meta.date, "author": meta.author}
        except Exception:  # noqa: BLE001 - no tree, no metadata
            found[page] = {"date": None, "author": None}
    return found, time.perf_counter() - t0


def page_evidence(markup: str) -> dict[str, list[str]]:
    """What a page says about its own date and author, for checking by hand."""
    import re

    def found(pattern: str, flags=re.I) -> list[str]:
        return list(dict.fromkeys(m.strip()[:80] for m in re.findall(pattern, markup, flags)))[:4]
    return {
        "meta dates": found(r'<meta[^>]+(?:published_time|datePublished|pubdate|publish-date|'
                            r'dc\.date|"date")[^>]+content="([^"]+)"')
        + found(r'<meta[^>]+content="([^"]+)"[^>]+(?:published_time|datePublished|pubdate)'),
        "json-ld dates": found(r'"datePublished"\s*:\s*"([^"]+)"'),
        "time tags": found(r'<time[^>]*datetime="([^"]+)"'),
        "url date": found(r'<link[^>]+rel="canonical"[^>]+href="[^"]*?/((?:19|20)\d\d/\d\d(?:/\d\d)?)/'),
        "meta authors": found(r'<meta[^>]+(?:name|property)="(?:author|article:author|dc\.creator|'
                              r'parsely-author|sailthru\.author)"[^>]+content="([^"]+)"'),
        "json-ld authors": found(r'"author"\s*:\s*(?:\[\s*)?\{[^}]*?"name"\s*:\s*"([^"]+)"'),
        "by lines": found(r'>\s*((?:By|BY|by)\s+[A-Z][^<]{2,60})<', 0),
    }


def print_check(tmp: Path, ids: list[str], names: list[str], meta: dict, n: int) -> str:
    """N seeded pages: each system's date and author, and the page's own evidence."""
    import random

    picked = sorted(random.Random(16).sample(range(len(ids)), min(n, len(ids))))
    out = [f"### Dates and authors of {len(picked)} pages (seed 16), with what each page says\n"]
    for i in picked:
        page, name = ids[i], names[i]
        out.append(f"- `{page}`")
        for system, (found, _) in meta.items():
            out.append(f"    - {system.split(' (')[0]}: date {found[page]['date']}, "
                       f"author {found[page]['author']}")
        evidence = page_evidence((tmp / name).read_text(encoding="utf-8", errors="replace"))
        out.append("    - page: " + "; ".join(f"{k}: {v}" for k, v in evidence.items() if v))
    return "\n".join(out)


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, help="only the first N pages, sorted by id (default: all 181)")
    parser.add_argument("--variants", action="store_true",
                        help="also trafilatura with favor_recall=True and with favor_precision=True")
    parser.add_argument("--json", help="write the rows and the per-page figures to this file")
    parser.add_argument("--check", type=int, metavar="N",
                        help="print N pages' dates and authors beside the page's own evidence")
    args = parser.parse_args()

    folder = benchmark_dir()
    if not (folder / "score.py").is_file():
        raise SystemExit(f"The article-extraction benchmark is not at {folder} (set $QA_BENCH_EXTRACTION).")
    scorer = load_scorer(folder)
    truth_all = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth_all)[:args.pages] if args.pages else sorted(truth_all)
    truth = {k: truth_all[k] for k in ids}
    try:
        import trafilatura
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
        logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    except ImportError as exc:
        trafilatura, missing = None, f"{type(exc).__name__}: {exc}"
    else:
        missing = None

    runs, meta = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as name:
        tmp = Path(name)
        names = unpack(folder, ids, tmp)
        warm_up(trafilatura, tmp, names[0])
        pred, details, seconds = run_reader(tmp, ids, names)
        runs["project reader (qa.ingest.read_file)"] = (pred, details, seconds)
        meta["project reader (qa.ingest.read_file)"] = ({k: {"date": v["date"], "author": v["author"]}
                                                         for k, v in details.items()}, None)
        if trafilatura is not None:
            version = getattr(trafilatura, "__version__", "?")
            settings = [("", TRAFILATURA_SETTINGS)] + [
                (f", {k}", {**TRAFILATURA_SETTINGS, **v}) for k, v in PRECISION.items()]
            if args.variants:
                settings += [(f", {k}", {**TRAFILATURA_SETTINGS, **v}) for k, v in VARIANTS.items()]
            for label, kwargs in settings:
                runs[f"trafilatura {version} (include_comments=False{label})"] = run_trafilatura(
                    trafilatura, tmp, ids, names, kwargs)
            meta[f"trafilatura {version} (extract_metadata)"] = trafilatura_metadata(
                trafilatura, tmp, ids, names)
        if args.check:
            check = print_check(tmp, ids, names, meta, args.check)

    rows, out = [], {"pages": len(ids), "systems": {}, "per_page": {k: {} for k in ids}}
    for system, (pred, details, seconds) in runs.items():
        result = scorer.score(truth, pred)
        empty = [k for k in ids if not pred[k]["articleBody"].strip()]
        rows.append([system, result["pages"], *(f"{result[k]:.3f}" for k in ("f1", "precision", "recall")),
                     len(empty), seconds])
        out["systems"][system] = {**result, "read_as_nothing": empty, "seconds": round(seconds, 3)}
        for k in ids:
            tp, fp, fn = scorer.page_counts(truth[k].get("articleBody", ""), pred[k]["articleBody"])
            out["per_page"][k][system] = {"tp": round(tp, 4), "fp": round(fp, 4), "fn": round(fn, 4),
                                          "chars": len(pred[k]["articleBody"]), **details[k]}
    meta_rows = []
    for system, (found, seconds) in meta.items():
        dates = sum(1 for v in found.values() if v["date"])
        authors = sum(1 for v in found.values() if v["author"])
        meta_rows.append([system, len(ids), dates, authors, "(the read above)" if seconds is None else seconds])
        out["systems"].setdefault(system, {}).update(dates_found=dates, authors_found=authors)
        for k in ids:
            out["per_page"][k].setdefault(system, {}).update(found[k])

    lines = [f"### Article extraction: {len(ids)} pages of `{os.path.relpath(folder, ROOT)}`, "
             f"scored by its `score.py`\n"]
    if trafilatura is None:
        lines.append(f"trafilatura is not installed ({missing}): the project's reader alone "
                     f"(`pip install trafilatura` to compare).\n")
    lines.append(table(["system", "pages", "F1", "precision", "recall", "pages read as nothing",
                        "seconds"], rows))
    errors = {k: d["error"] for k, d in runs["project reader (qa.ingest.read_file)"][1].items()
              if d["error"]}
    if errors:
        lines.append("\nThe reader's errors: " + "; ".join(f"`{k[:12]}…`: {v}" for k, v in errors.items()))
    lines += ["\n### Metadata found on the same pages (counts; the benchmark has no true dates or authors)\n",
              table(["system", "pages", "with a date", "with an author", "seconds"], meta_rows)]
    lines.append(footer(started))
    print("\n".join(lines))
    if args.check:
        print("\n" + check)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
