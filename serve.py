"""Start the web chat: build or refresh the index if needed, then serve it.

    python serve.py [--index DIR] [--corpus DIR] [--host 127.0.0.1] [--port 7860] [--watch]

The server follows its index: a build committed while it runs (``qa build``, or its own with
``--watch``, which rebuilds when files of the corpus appear, change or go) is answered from
within seconds, without a restart (``qa.follow``).

Login is optional: QA_AUTH_FILE names a file of ``user:password`` lines, QA_AUTH holds
``user:pass,user2:pass2``. Keep both outside the repository.
"""
import time

STARTED = time.monotonic()

# Before gradio or torch are imported (importing qa imports neither), and over the caller's
# values: the server never fetches from the hub or sends telemetry.
from qa import environment  # noqa: E402

environment.apply(force=True)

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the news archive chat.")
    parser.add_argument("--index", help="index folder (default: QA_INDEX or index/)")
    parser.add_argument("--corpus", help="corpus folder (default: QA_CORPUS or corpus/)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--watch", action="store_true",
                        help="watch the corpus folder and rebuild the index when its files change (default: off)")
    parser.add_argument("--watch-every", type=float, default=2.0, metavar="SECONDS",
                        help="with --watch: how often the corpus is looked at, and how long it must stay "
                             "unchanged before a build (default: 2)")
    args = parser.parse_args(argv)

    from qa import Engine, IndexProblem, Settings
    from qa.build import up_to_date
    from qa.follow import CorpusWatcher, LiveEngine
    from qa.web import create_app, launch, load_auth

    settings = Settings.from_env(index=args.index, corpus=args.corpus)
    if args.watch and not Path(settings.corpus).is_dir():
        parser.exit(2, f"serve: --watch needs a corpus folder, and there is none at {settings.corpus}/\n")
    if not 0.1 <= args.watch_every <= 3600:
        parser.exit(2, "serve: --watch-every must be from 0.1 to 3600 seconds\n")
    try:
        auth = load_auth()
    except ValueError as exc:
        parser.exit(2, f"serve: login setup: {exc}\n")
    try:
        if not Path(settings.corpus).is_dir():
            print(f"No corpus at {settings.corpus}/: serving the index at {settings.index}/ as it is.")
            engine = Engine.open(settings.index)
        elif up_to_date(settings):  # nothing to embed: the model can load while the page is served
            print(f"The index at {settings.index}/ is up to date with {settings.corpus}/.", flush=True)
            engine = Engine.open(settings.index)
        else:
            print(f"Updating the index at {settings.index}/ from {settings.corpus}/ …", flush=True)
            engine = Engine.build(corpus=settings.corpus, index=settings.index, progress=True)
            print(engine.last_build.summary(), flush=True)
    except (IndexProblem, FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"serve: {exc}\n")

    if auth is None and args.host not in LOOPBACK:
        print(f"Warning: serving on {args.host} without login; set QA_AUTH_FILE or QA_AUTH.",
              file=sys.stderr)
    def log(message: str) -> None:
        print(message, flush=True)

    live = LiveEngine(engine, check_every=2.0, log=log)  # answers from every new build
    watcher = None
    if args.watch:
        watcher = CorpusWatcher(live, settings.corpus, settings.index, interval=args.watch_every,
                                settle=args.watch_every, log=log, encoder=engine.settings.encoder)
    app = create_app(live, engine.settings, watcher=watcher)
    try:
        launch(app, host=args.host, port=args.port, auth=auth, prevent_thread_lock=True, quiet=True)
    except OSError as exc:
        parser.exit(2, f"serve: cannot listen on {args.host}:{args.port}: {exc}\n")
    from qa.json_api import add_json_api

    add_json_api(app, live, auth)  # POST /api/ask: the /ask API as one JSON request, batched
    url = f"http://{args.host}:{args.port}"
    print(f"Serving {url} — {time.monotonic() - STARTED:.1f}s after start; loading the model …", flush=True)
    try:
        # The page is up; a question asked before the model is in waits for it (one load).
        engine.warm()
    except (IndexProblem, FileNotFoundError, ValueError) as exc:
        app.close()
        parser.exit(2, f"serve: {exc}\n")
    login = f", login required ({len(auth)} users)" if auth else ""
    if watcher is not None:
        watcher.start()
        print(f"Watching {settings.corpus}/: the index is rebuilt when its files change.", flush=True)
    print(f"Ready: {url}{login} — {time.monotonic() - STARTED:.1f}s after start. Ctrl+C stops.", flush=True)
    try:
        app.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        if watcher is not None:
            watcher.stop()


if __name__ == "__main__":
    main()
