"""Soak: ``serve.py`` under concurrent clients while articles are added and the index rebuilt.

    .venv/bin/python benchmarks/bench_soak.py [--clients 32] [--seconds 180] [--builds 4] [--kill 2]

Copies the sample corpus to $QA_BENCH_WORK, builds an index of it, and serves it with
``python serve.py`` on 127.0.0.1 (it follows its index: ``qa.follow``). ``--clients`` clients
ask the shipped questions through the ``/ask`` API in a loop for ``--seconds`` (and until the
last build's article is answered); meanwhile a
builder adds one new article (an invented harbour reopening, its own question) and runs
``qa build`` in a child process, ``--builds`` times; build number ``--kill`` is first killed
with SIGKILL while it runs (the served index must not change), then run again. After each
commit a prober asks the new article's question until a passage cites it.

Prints a table per build (seconds from its commit until its article was answered, the
server's memory before the build and after the old generation was closed) and one of the
whole run: answers, errors, answers that mix generations (a passage whose doc id, offsets or
text are not those of the generation the answer names; checked against each generation's
documents, read when it was committed), answers/s, latency, whether the server restarted.
Exits 1 on any error, mixed answer, or article not answered within ``--answer-within``.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/test_soak loads this file by path
from bench_load import HOST, QUIET_ENV, ROOT, WORK, load_questions, pct  # noqa: E402
from common import free_port, stop  # noqa: E402

PLACES = ["Velmora", "Quindar", "Ostrevik", "Taluna", "Brescot", "Mirrowdale", "Kestany", "Dornhalt",
          "Jarvena", "Pellisk", "Corvath", "Umbrino"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def article(n: int) -> tuple[str, str, str]:
    """(file name, text, question) of invented article number ``n``: facts found nowhere else."""
    place, day, years = PLACES[n % len(PLACES)] + ("" if n < len(PLACES) else str(n)), DAYS[n % 7], 3 + n
    text = (f"# The harbour of {place} reopens to fishing boats\n\n"
            f"The harbour of {place} reopened to fishing boats on {day} for the first time in {years} years, "
            f"the port authority of {place} said.\n\nDredgers had worked for months to clear the silt from "
            f"the harbour mouth at {place}, and the first trawler to enter carried a catch of herring.\n")
    return f"soak/{n:03d}_{place.lower()}.md", text, f"When did the harbour of {place} reopen to fishing boats?"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def qa_build(corpus: Path, index: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qa.cli", "build", "--corpus", str(corpus), "--index",
                             str(index), "--quiet"], cwd=ROOT, env={**os.environ, **QUIET_ENV},
                            stdin=subprocess.DEVNULL, **popen)


@contextmanager
def serving(index: Path, log: Path, start_timeout: float = 600) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port(HOST)
    env = {k: v for k, v in {**os.environ, **QUIET_ENV}.items() if k not in ("QA_AUTH", "QA_AUTH_FILE")}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "serve.py"), "--index", str(index), "--corpus", str(index.parent / "none"),
             "--host", HOST, "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + start_timeout
        while "Ready:" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve.py did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield f"http://{HOST}:{port}/", process
    finally:
        stop(process)


def generation_texts(index: Path) -> tuple[str, float, dict[str, str]]:
    """The committed generation's name, commit time (the manifest's mtime) and documents."""
    manifest_path = index / "manifest.json"
    committed = manifest_path.stat().st_mtime
    gen = json.loads(manifest_path.read_text())["generation"]
    con = sqlite3.connect(f"file:{index / gen / 'docs.sqlite'}?mode=ro", uri=True)
    try:
        return gen, committed, dict(con.execute("SELECT doc_id, text FROM docs").fetchall())
    finally:
        con.close()


@dataclass
class BuildRow:
    number: int
    outcome: str = ""
    generation: str = ""
    article: str = ""
    answered_after: float | None = None  # seconds from the commit until a passage cited the article
    rss_before: float = float("nan")
    rss_after: float = float("nan")  # once the server closed the previous generation


@dataclass
class Soak:
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: list[tuple[str, list[tuple[str, int, int, str]]]] = field(default_factory=list)
    builds: list[BuildRow] = field(default_factory=list)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    seconds: float = 0.0
    restarted: bool = False
    rss_start: float = float("nan")
    rss_end: float = float("nan")

    def mixed(self) -> list[str]:
        """Answers with a passage that is not its named generation's text at its offsets."""
        bad = []
        for gen, passages in self.answers:
            docs = self.texts.get(gen)
            if docs is None:
                bad.append(f"an answer from {gen!r}, a generation never committed")
                continue
            for doc_id, start, end, text in passages:
                if docs.get(doc_id, "\0")[start:end] != text:
                    bad.append(f"{gen}: {doc_id} [{start}:{end}] is not that generation's text")
        return bad


def run(clients: int = 32, seconds: float = 180, builds: int = 4, kill: int | None = 2, work: Path | None = None,
        answer_within: float = 10.0, request_timeout: float = 120.0) -> Soak:
    from gradio_client import Client

    work = work or WORK / f"soak-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    subprocess.run([sys.executable, "-m", "qa.cli", "build", "--corpus", str(corpus), "--index", str(index),
                    "--quiet"], cwd=ROOT, check=True, env={**os.environ, **QUIET_ENV}, stdout=subprocess.DEVNULL)
    soak = Soak(clients)
    gen, _, docs = generation_texts(index)
    soak.texts[gen] = docs
    questions = load_questions()
    lock = threading.Lock()
    log = work / "serve.log"
    with serving(index, log) as (url, server):
        pid = server.pid
        soak.rss_start = rss_mb(pid)
        stop_at = time.monotonic() + seconds
        done = threading.Event()

        def ask(client, question, history):
            result = client.submit(question, 5, history, None, api_name="/ask").result(timeout=request_timeout)
            if not isinstance(result, dict) or "passages" not in result or "generation" not in result:
                raise ValueError(f"not an answer: {str(result)[:200]}")
            with lock:
                soak.answers.append((result["generation"], [(p["doc_id"], p["start"], p["end"], p["text"])
                                                            for p in result["passages"]]))
            return result

        def client_loop(number: int) -> None:
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                            httpx_kwargs={"timeout": request_timeout})
            turn = number * 7
            try:
                while not done.is_set():  # until the end of the run and of the last build
                    question, history = questions[turn % len(questions)]
                    turn += 1
                    t0 = time.perf_counter()
                    try:
                        ask(client, question, history)
                    except Exception as exc:  # noqa: BLE001 - counted
                        with lock:
                            soak.errors.append(f"client {number}: {type(exc).__name__}: {str(exc)[:200]}")
                        continue
                    with lock:
                        soak.latencies.append(time.perf_counter() - t0)
            finally:
                client.close()

        def builder() -> None:
            prober = Client(url, verbose=False, analytics_enabled=False, download_files=False)
            pause = seconds / (builds + 1)
            for number in range(1, builds + 1):
                time.sleep(pause if number == 1 else max(1.0, min(pause, stop_at - time.monotonic() - 30)))
                row = BuildRow(number, rss_before=rss_mb(pid))
                name, text, question = article(number)
                (corpus / name).parent.mkdir(exist_ok=True)
                (corpus / name).write_text(text, encoding="utf-8")
                row.article = name
                before = (index / "manifest.json").read_bytes()
                if number == kill:  # killed while it runs: the served index must not change
                    proc = qa_build(corpus, index, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(6.0)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    same = (index / "manifest.json").read_bytes() == before
                    row.outcome = "killed (SIGKILL), then run again" if same else "killed AFTER its commit"
                proc = qa_build(corpus, index, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                _, err = proc.communicate()
                if proc.returncode != 0:
                    row.outcome = f"failed: {err.strip().splitlines()[-1:]}"
                    soak.builds.append(row)
                    continue
                gen, committed, docs = generation_texts(index)
                with lock:
                    soak.texts[gen] = docs
                row.generation, row.outcome = gen, row.outcome or "committed"
                while time.time() - committed < 120:
                    answer = prober.predict(question, 5, api_name="/ask")
                    if any(p["doc_id"] == name for p in answer["passages"]):
                        row.answered_after = time.time() - committed
                        break
                    time.sleep(0.2)
                deadline = time.monotonic() + 30  # the previous generation closed: memory after the swap
                while f"Now answering from {gen}" not in log.read_text() and time.monotonic() < deadline:
                    time.sleep(0.2)
                text_log = log.read_text()
                while (text_log.rfind("Closed gen-") < text_log.rfind(f"Now answering from {gen}")
                       and time.monotonic() < deadline):
                    time.sleep(0.2)
                    text_log = log.read_text()
                time.sleep(1.0)
                row.rss_after = rss_mb(pid)
                soak.builds.append(row)
            prober.close()

        threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(clients)]
        build_thread = threading.Thread(target=builder, daemon=True)
        started = time.perf_counter()
        for t in threads:
            t.start()
        build_thread.start()
        build_thread.join(timeout=seconds + 900)
        done.wait(max(0.0, stop_at - time.monotonic()))
        done.set()
        for t in threads:
            t.join(timeout=request_timeout)
        soak.seconds = time.perf_counter() - started
        soak.restarted = server.poll() is not None or server.pid != pid
        soak.rss_end = rss_mb(pid) if server.poll() is None else float("nan")
    return soak


def tables(soak: Soak) -> str:
    lines = ["| build | outcome | generation | new article | seconds from commit to answered "
             "| server RSS before (MB) | after the old generation closed (MB) |",
             "|---:|---|---|---|---:|---:|---:|"]
    for b in soak.builds:
        after = f"{b.answered_after:.1f}" if b.answered_after is not None else "never"
        lines.append(f"| {b.number} | {b.outcome} | {b.generation} | {b.article} | {after} | "
                     f"{b.rss_before:.0f} | {b.rss_after:.0f} |")
    ms = [x * 1000 for x in soak.latencies]
    lines += ["", "| clients | seconds | answers | errors | mixed-generation answers | answers/s | p50 ms | p95 ms "
              "| server restarted | server RSS start / end (MB) |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
              f"| {soak.clients} | {soak.seconds:.0f} | {len(soak.latencies):,} | {len(soak.errors)} | "
              f"{len(soak.mixed())} | {len(soak.latencies) / soak.seconds if soak.seconds else 0:.1f} | "
              f"{pct(ms, 50):.0f} | {pct(ms, 95):.0f} | {'yes' if soak.restarted else 'no'} | "
              f"{soak.rss_start:.0f} / {soak.rss_end:.0f} |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--builds", type=int, default=4)
    parser.add_argument("--kill", type=int, default=2, help="the build killed with SIGKILL first (0: none)")
    parser.add_argument("--answer-within", type=float, default=10.0,
                        help="a new article must be answered this many seconds after its commit (default: 10)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256 or not 10 <= args.seconds <= 7200 or not 1 <= args.builds <= 50:
        parser.error("clients 1..256, seconds 10..7200, builds 1..50")
    started = time.perf_counter()
    soak = run(args.clients, args.seconds, args.builds, args.kill or None, answer_within=args.answer_within)
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/bench_soak.py",
                                                *(argv if argv is not None else sys.argv[1:])])
    print(tables(soak))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n`{command}` — wall {time.perf_counter() - started:.0f} s, {os.cpu_count()} CPUs, load average "
          f"{load}, {time.strftime('%Y-%m-%d %H:%M')}")
    for message in (soak.errors + soak.mixed())[:10]:
        print("problem:", message, file=sys.stderr)
    late = [b for b in soak.builds if b.answered_after is None or b.answered_after > args.answer_within]
    return 1 if soak.errors or soak.mixed() or late or soak.restarted else 0


if __name__ == "__main__":
    sys.exit(main())
