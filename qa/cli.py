"""The ``qa`` command: build, ask, inspect, eval."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap

# The offline, quiet environment is already set: importing qa.cli runs qa/__init__ first.
from .settings import ENCODERS, MODES, Settings  # noqa: E402
from .store import IndexProblem  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "eval":
        from .evaluate import cli as eval_cli

        return _guarded(lambda: eval_cli(argv[1:]))
    parser = argparse.ArgumentParser(prog="qa", description="Cited answers from a news archive.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_build = sub.add_parser("build", help="build or refresh the index from the corpus")
    p_build.add_argument("--corpus", help="corpus folder (default: $QA_CORPUS or corpus/)")
    p_build.add_argument("--index", help="index folder (default: $QA_INDEX or index/)")
    p_build.add_argument("--model", help="a local sentence-transformers directory (default: $QA_MODEL or the bundled all-MiniLM-L6-v2)")
    p_build.add_argument("--encoder", choices=ENCODERS,
                         help="how the model runs (default: $QA_ENCODER or torch; onnx-int8 needs the [onnx] extra)")
    p_build.add_argument("--quiet", action="store_true", help="no progress bar")
    p_build.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                         help="read, chunk and embed on a Ray cluster (pip install '.[ray]'): ADDRESS of its "
                              "head (host:port); without it, the Ray instance running on this machine or a new one")
    p_build.add_argument("--ray-workers", type=int, metavar="N",
                         help="model workers on Ray (default: one per 2 CPUs of the cluster)")
    p_build.add_argument("--ray-threads", type=int, metavar="N",
                         help="torch threads (CPUs) per model worker (default: 2, or the CPUs divided by --ray-workers)")

    p_ask = sub.add_parser("ask", help="answer a question from the index")
    p_ask.add_argument("question")
    p_ask.add_argument("--index", help="index folder (default: $QA_INDEX or index/)")
    p_ask.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p_ask.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    p_ask.add_argument("--history", action="append", default=[], metavar="QUESTION",
                       help="an earlier question of the conversation (repeat, oldest first)")
    p_ask.add_argument("--source", help="only documents whose id starts with this")
    p_ask.add_argument("--publisher", help="only documents of this publisher")
    p_ask.add_argument("--after", help="only documents published on or after this date (YYYY-MM-DD)")
    p_ask.add_argument("--before", help="only documents published on or before this date (YYYY-MM-DD)")
    p_ask.add_argument("--exclude-undated", action="store_true",
                       help="with --after/--before: leave out articles without a date (searched by default)")
    p_ask.add_argument("--timeline", action="store_true",
                       help="over time: one passage per article, ordered by the article's date, undated last")
    p_ask.add_argument("--as-of", metavar="YYYY-MM-DD",
                       help='the day the question is asked: "this week", "last month" are read '
                            "against it, and its recent articles are preferred (default today)")
    p_ask.add_argument("--json", action="store_true", help="print the answer as JSON")

    p_inspect = sub.add_parser("inspect", help="what ingestion makes of files (nothing is embedded)")
    p_inspect.add_argument("files", nargs="+", metavar="FILE")
    p_inspect.add_argument("--corpus", help="read them as files of this corpus (its doc ids and sidecar); "
                                            "default: each file's own folder")
    p_inspect.add_argument("--json", action="store_true", help="one JSON object a document, a line each")

    sub.add_parser("eval", help="evaluate on a question set (qa eval --help)")
    args = parser.parse_args(argv)
    if args.command == "build":
        return _guarded(lambda: _build(args))
    if args.command == "inspect":
        return _guarded(lambda: _inspect(args))
    return _guarded(lambda: _ask(args))


def _guarded(run) -> int:
    """Errors a user can fix are printed as one line, not a traceback."""
    try:
        return run()
    except (IndexProblem, FileNotFoundError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"qa: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


def _build(args) -> int:
    from .build import build

    settings = Settings.from_env(corpus=args.corpus, index=args.index, model=args.model, encoder=args.encoder)
    ray = None
    if args.ray is not None:
        for flag, value in (("--ray-workers", args.ray_workers), ("--ray-threads", args.ray_threads)):
            if value is not None and value < 1:
                raise ValueError(f"{flag} must be at least 1")
        from importlib.util import find_spec

        if find_spec("ray") is None:
            raise ValueError("--ray needs Ray: pip install '.[ray]'")
        from .distributed import RayOptions

        ray = RayOptions(address=args.ray or None, workers=args.ray_workers, threads=args.ray_threads)
    elif args.ray_workers is not None or args.ray_threads is not None:
        raise ValueError("--ray-workers and --ray-threads go with --ray")
    print(f"Building {settings.index}/ from {settings.corpus}/ ...", file=sys.stderr)
    try:
        report = build(settings, progress=not args.quiet, log=lambda m: print(m, file=sys.stderr), ray=ray)
    except RuntimeError as exc:
        if type(exc).__name__ != "ClusterError":  # qa.distributed's, not imported without --ray
            raise
        print(f"qa: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def _inspect(args) -> int:
    """Each document of the files, or each file's reason for giving none; 1 when any gave none."""
    from .ingest import inspect

    found = inspect(args.files, corpus=args.corpus)
    for item in found:
        if args.json:
            print(json.dumps(item, ensure_ascii=False))
            continue
        if item["error"]:
            print(f"{item['file']}: not read: {item['error']}")
        else:
            print(f"== {item['doc_id']}")
            for name in ("title", "author", "publisher", "published", "url"):
                print(f"{name + ':':11}{item[name] or '-'}")
        for warning in item["warnings"]:
            print(f"warning:   {warning}")
        if not item["error"]:
            print(f"text:      {len(item['text'])} characters\n")
            print(textwrap.indent(item["text"], "    "))
        print()
    return 1 if any(item["error"] for item in found) else 0


def _ask(args) -> int:
    from .engine import Engine

    settings = Settings.from_env(index=args.index)
    filters = {k: v for k, v in (("source", args.source), ("publisher", args.publisher),
                                 ("after", args.after), ("before", args.before)) if v}
    if args.exclude_undated:
        filters["undated"] = False
    engine = Engine.open(settings.index)
    answer = engine.ask(args.question, k=args.k, history=args.history or None,
                        filters=filters or None, mode=args.mode, timeline=args.timeline, as_of=args.as_of)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(format_answer(answer))
    return 0


def format_answer(answer) -> str:
    """A readable answer: the best sentence, then numbered citations."""
    from .render import quoted

    lines = []
    if answer.history_used:
        lines.append(f"(searched with the conversation: {' / '.join(answer.history_used)})")
    if answer.undated_searched is not None:
        lines.append(f"({answer.undated_searched} articles without a date searched too)")
    if answer.abstained:
        lines.append("No confident answer in the corpus." + (f" {answer.abstain_reason}" if answer.abstain_reason else "")
                     + " The closest passages:")
    elif answer.timeline:
        lines.append(f"Over time: {len(answer.passages)} articles, oldest first, undated last.")
    elif answer.passages:
        best = answer.passages[0]
        lines.append(f"{quoted(best.highlighted_sentence)} [1]")
    for n, p in enumerate(answer.passages, start=1):
        date = (p.published or "")[:10] or ("undated" if answer.timeline else "")
        meta = " · ".join(x for x in (p.publisher, date, p.author) if x)
        lines.append("")
        lines.append(f"[{n}] {p.title or '(untitled)'}" + (f" — {meta}" if meta else ""))
        lines.append(f"    {p.doc_id} chars {p.start}-{p.end}, score {p.score:.3f}" + (f"  {p.url}" if p.url else ""))
        lines.extend(textwrap.wrap(p.text, width=96, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
