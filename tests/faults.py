"""Fault injection for the crash tests, in test code only: the build is monkeypatched to kill
its own process with SIGKILL at a chosen point, so production code carries no crash branches.

As a command: ``python tests/faults.py POINT ARGS...`` runs ``qa.cli.main(ARGS)`` (e.g. ``build
--corpus ... --index ...``) with the build killed at POINT:

- ``embedding``: once the first batch of chunks is encoded (nothing of the new generation is
  written yet);
- ``writing``: once every file of the new generation is written, before it is committed;
- ``committing``: once ``store.commit_generation`` has renamed the generation folder into place,
  before it replaces the manifest;
- ``ray-actor``: every call of the Ray model actor (``killing_actor``), for builds with ``--ray``.

In the test process itself, ``killing_actor`` gives the model actor class to monkeypatch into
``qa.distributed``.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

POINTS = ("embedding", "writing", "committing", "ray-actor")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str) -> None:
    """Patch this process's build so that it kills itself at ``point`` (one of ``POINTS``)."""
    from qa import embed, store

    if point == "embedding":
        encode_with_spans = embed.Encoder.encode_with_spans

        def encode_then_die(self, *args, **kwargs):
            encode_with_spans(self, *args, **kwargs)
            _die()

        embed.Encoder.encode_with_spans = encode_then_die
    elif point == "writing":
        def die_instead(index_dir, folder, manifest) -> None:
            _die()

        store.commit_generation = die_instead
    elif point == "committing":
        commit_generation, replace = store.commit_generation, os.replace

        def commit_until_the_folder_is_in_place(index_dir, folder, manifest) -> None:
            def replace_then_die_after_the_folder(src, dst, *args, **kwargs):
                replace(src, dst, *args, **kwargs)
                if Path(src) == Path(folder):
                    _die()

            os.replace = replace_then_die_after_the_folder
            try:
                commit_generation(index_dir, folder, manifest)
            finally:
                os.replace = replace

        store.commit_generation = commit_until_the_folder_is_in_place
    elif point == "ray-actor":
        from qa import distributed

        distributed._Embed = killing_actor()
    else:
        raise ValueError(f"unknown fault point {point!r}: one of {', '.join(POINTS)}")


def killing_actor(once: Path | None = None) -> type:
    """``qa.distributed``'s model actor made to kill its own process at the start of every call.

    With ``once``, only on the call that creates that file, which then holds the killed process
    id; every call appends its process id to ``once`` + ``.calls`` (``actor_calls``), so a test
    sees that the killed actor made no call after it.

    The class is made here, in a function, so that Ray pickles it by value: the actor processes
    get it (and ``once``) without this module on their path.
    """
    from qa import distributed

    marker = None if once is None else str(once)

    class KillingEmbed(distributed._Embed):
        def __call__(self, batch):
            import os
            import signal

            if marker is not None:
                with open(marker + ".calls", "a") as calls:
                    calls.write(f"{os.getpid()}\n")
                try:
                    with open(marker, "x") as first:
                        first.write(str(os.getpid()))
                except FileExistsError:
                    return super().__call__(batch)
            os.kill(os.getpid(), signal.SIGKILL)

    return KillingEmbed


def actor_calls(once: Path) -> list[int]:
    """The process ids of a ``killing_actor(once)``'s calls, in order."""
    return [int(pid) for pid in Path(f"{once}.calls").read_text().split()]


if __name__ == "__main__":
    # This tree's qa first, as ``python -m qa.cli`` run from the repository root would import it.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    install(sys.argv[1])
    from qa.cli import main

    sys.exit(main(sys.argv[2:]))
