"""Load: ``serve.py`` on loopback, driven by N concurrent ``gradio_client`` clients.

    .venv/bin/python benchmarks/bench_load.py [--clients 1 8 32] [--seconds 20] [--index DIR]
        [--api gradio gradio-plain json] [--code DIR]

Starts ``python serve.py`` on 127.0.0.1 at a free port (an index of the sample corpus is built
first when none is given), then for each N runs N clients at once, each asking the questions of
``tests/data/news_questions.jsonl`` (follow-ups with their history) through the ``/ask`` API in
a loop for a bounded time. Prints a Markdown table: answers, errors (must be 0), throughput
(answers/s), latency p50/p95/max per N, the CPU the server and the clients (all in this process,
on the same cores) spent per answer, then the command and the machine's load. Exits 1 when
any request failed. The server is stopped at the end, whatever happens.

``--api``: ``gradio`` is ``gradio_client`` as it comes; ``gradio-plain`` the same client made
with ``ssl_verify=False``, which over a plain ``http://`` URL changes nothing but the CA bundle
httpx loads for each new connection (twice an answer: the queue join and the event stream
the server closes after each answer); ``json`` is ``POST /api/ask``. ``--code DIR`` serves
another checkout's ``serve.py`` and ``qa`` (e.g. the code before a change) to the same clients.

Only loopback: the server binds 127.0.0.1 and the clients talk to nothing else. Every loop is
bounded in time and count: a client stops at the deadline (after its first answer) or after
``--max-per-client`` answers, and a request that takes longer than ``--request-timeout`` is
an error.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/test_load.py loads this file by path
from common import free_port, stop  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "data" / "news_questions.jsonl"
WORK = Path(os.environ.get("QA_BENCH_WORK", "/tmp/qa-bench"))
HOST = "127.0.0.1"  # loopback only, never configurable
# Forced on the children (the server, the build) as serve.py forces it on itself; this process
# has it as defaults from common.
from qa.environment import QUIET as QUIET_ENV  # noqa: E402


def load_questions(path: Path = QUESTIONS) -> list[tuple[str, list[str]]]:
    """(question, history) pairs of the question set, in file order."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["question"], list(r.get("history") or [])) for r in rows]


def ensure_index(index: Path | None, corpus: Path = ROOT / "corpus") -> Path:
    """``index`` as given, or an index of the sample corpus under $QA_BENCH_WORK (built once)."""
    if index is not None:
        return index
    index = WORK / "load-index"
    if not (index / "manifest.json").exists():
        print(f"Building an index of {corpus}/ at {index}/ …", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "qa.cli", "build", "--corpus", str(corpus), "--index",
                        str(index), "--quiet"], cwd=ROOT, check=True, env={**os.environ, **QUIET_ENV},
                       stdout=sys.stderr)  # the table alone goes to stdout
    return index


@contextmanager
def served(index: Path, corpus: Path | None = None, log: Path | None = None,
           start_timeout: float = 600, until: str = "Ready:", extra: tuple[str, ...] = (),
           code: Path = ROOT) -> Iterator[str]:
    """``python serve.py --index INDEX`` on a free loopback port; yields its URL once the log
    shows ``until`` (default: the model is loaded); always stops it.

    Without ``corpus`` the index is served as it is (``--corpus`` names a folder that does not
    exist, so serve.py neither builds nor refreshes anything).
    """
    port = free_port(HOST)
    log = log or WORK / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    corpus = corpus or index.parent / f".no-corpus-{port}"
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(code)}
    for name in ("QA_AUTH", "QA_AUTH_FILE"):
        env.pop(name, None)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(code / "serve.py"), "--index", str(index), "--corpus", str(corpus),
             "--host", HOST, "--port", str(port), *extra],
            cwd=code, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + start_timeout
        while until not in log.read_text(errors="replace"):
            if process.poll() is not None:
                raise RuntimeError(f"serve.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve.py not ready after {start_timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        url = f"http://{HOST}:{port}/"
        SERVER_PIDS[url] = process.pid
        yield url
    finally:
        SERVER_PIDS.pop(f"http://{HOST}:{port}/", None)
        stop(process)


SERVER_PIDS: dict[str, int] = {}  # the URL of each running served() -> its serve.py's pid


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc``), nan if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return float("nan")


@dataclass
class Run:
    clients: int
    api: str = "gradio"
    seconds: float = 0.0  # wall time from the common start to the last answer
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    per_client: list[int] = field(default_factory=list)
    engine: list[float] = field(default_factory=list)  # each answer's own Engine.ask seconds
    server_cpu: float = float("nan")  # CPU seconds serve.py used during the run
    client_cpu: float = float("nan")  # CPU seconds this process (all its clients) used meanwhile

    def per_answer_ms(self, cpu: float) -> float:
        return cpu * 1000 / self.answers if self.answers else float("nan")

    @property
    def answers(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0


def drive(url: str, clients: int, seconds: float, questions: list[tuple[str, list[str]]],
          request_timeout: float = 120.0, max_per_client: int = 10_000, k: int = 5, api: str = "gradio") -> Run:
    """``clients`` clients asking in a loop for ``seconds`` (each answers at least once): gradio
    clients of ``/ask`` (``api="gradio-plain"``: made with ``ssl_verify=False``), or
    (``api="json"``) plain HTTP clients of ``POST /api/ask``."""
    from gradio_client import Client

    run = Run(clients, api=api, per_client=[0] * clients)
    lock = threading.Lock()
    start: dict[str, float] = {}

    pid = SERVER_PIDS.get(url)

    def go() -> None:  # run by one thread when all have connected, before any is let go
        start["t0"] = time.perf_counter()
        start["deadline"] = start["t0"] + seconds
        start["client_cpu"], start["server_cpu"] = time.process_time(), cpu_seconds(pid)

    ready = threading.Barrier(clients + 1, action=go)

    def json_loop(number: int) -> None:
        import httpx

        client = httpx.Client(base_url=url, timeout=request_timeout)
        try:
            ready.wait(timeout=600)
        except threading.BrokenBarrierError:
            pass
        done, turn = 0, number * 7
        try:
            while done < max_per_client and (done == 0 or time.perf_counter() < start["deadline"]):
                question, history = questions[turn % len(questions)]
                turn += 1
                t0 = time.perf_counter()
                try:
                    reply = client.post("api/ask", json={"question": question, "k": k, "history": history})
                    result = reply.json()
                    if reply.status_code != 200 or "passages" not in result:
                        raise ValueError(f"{reply.status_code}: {str(result)[:200]}")
                    if not result["abstained"] and not result["passages"]:
                        raise ValueError("an answer without passages")
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    with lock:
                        run.errors.append(f"client {number}: {type(exc).__name__}: {str(exc)[:200]}")
                    if len(run.errors) > 100:
                        return
                    continue
                elapsed = time.perf_counter() - t0
                done += 1
                with lock:
                    run.latencies.append(elapsed)
                    run.engine.append(float(result.get("seconds", 0.0)))
                    run.per_client[number] = done
                    start["last"] = time.perf_counter()
        finally:
            client.close()

    def client_loop(number: int) -> None:
        client = None
        try:
            # httpx's own 5 s would count a slow answer as an error: the run's timeout decides.
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                            httpx_kwargs={"timeout": request_timeout}, ssl_verify=api != "gradio-plain")
        except Exception as exc:  # noqa: BLE001 - a failed connection is an error of the run
            with lock:
                run.errors.append(f"client {number} could not connect: {type(exc).__name__}: {exc}")
        try:
            ready.wait(timeout=600)
        except threading.BrokenBarrierError:
            pass
        if client is None:
            return
        done, turn = 0, number * 7  # clients start at different questions
        try:
            while done < max_per_client and (done == 0 or time.perf_counter() < start["deadline"]):
                question, history = questions[turn % len(questions)]
                turn += 1
                t0 = time.perf_counter()
                try:
                    result = client.submit(question, k, history, None, api_name="/ask").result(
                        timeout=request_timeout)
                    if not isinstance(result, dict) or "passages" not in result:
                        raise ValueError(f"not an answer: {str(result)[:200]}")
                    if not result["abstained"] and not result["passages"]:
                        raise ValueError("an answer without passages")
                except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                    with lock:
                        run.errors.append(f"client {number}: {type(exc).__name__}: {str(exc)[:200]}")
                    if len(run.errors) > 100:
                        return
                    continue
                elapsed = time.perf_counter() - t0
                done += 1
                with lock:
                    run.latencies.append(elapsed)
                    run.engine.append(float(result.get("seconds", 0.0)))
                    run.per_client[number] = done
                    start["last"] = time.perf_counter()
        finally:
            client.close()

    if api == "json":
        client_loop = json_loop  # noqa: F811 - the same loop over POST /api/ask

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=600)
    except threading.BrokenBarrierError:
        run.errors.append("the clients did not all connect within 600 s")
        go()
    bound = seconds + request_timeout * 2 + 60
    for thread in threads:
        thread.join(timeout=max(1.0, start["t0"] + bound - time.perf_counter()))
    if any(t.is_alive() for t in threads):
        run.errors.append("some clients were still waiting at the end")
    run.seconds = start.get("last", start["t0"]) - start["t0"]
    # From the start until every client is done: what the clients and the server cost the cores.
    run.client_cpu = time.process_time() - start["client_cpu"]
    run.server_cpu = cpu_seconds(pid) - start["server_cpu"]
    return run


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def table(runs: list[Run]) -> str:
    lines = ["| API | clients | answers | errors | throughput (answers/s) | p50 latency (ms) | p95 latency (ms) "
             "| max latency (ms) | fewest answers of a client | p50 in Engine.ask (ms) | p50 beyond Engine.ask (ms) "
             "| server CPU per answer (ms) | clients' CPU per answer (ms) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        ms = [x * 1000 for x in r.latencies]
        name = {"json": "POST /api/ask", "gradio-plain": "gradio /ask, ssl_verify=False"}.get(r.api, "gradio /ask")
        lines.append(f"| {name} | {r.clients} | {r.answers:,} | {len(r.errors)} | {r.throughput:.1f} | "
                     f"{pct(ms, 50):.0f} | {pct(ms, 95):.0f} | {max(ms, default=float('nan')):.0f} | "
                     f"{min(r.per_client, default=0)} | {pct([x * 1000 for x in r.engine], 50):.0f} | "
                     f"{pct([(a - b) * 1000 for a, b in zip(r.latencies, r.engine)], 50):.0f} | "
                     f"{r.per_answer_ms(r.server_cpu):.0f} | {r.per_answer_ms(r.client_cpu):.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32],
                        help="numbers of concurrent clients, one run each (default: 1 8 32)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run (default: 20)")
    parser.add_argument("--index", type=Path, help="index to serve (default: one of the sample corpus)")
    parser.add_argument("--request-timeout", type=float, default=120.0,
                        help="a request slower than this is an error (default: 120 s)")
    parser.add_argument("--max-per-client", type=int, default=10_000,
                        help="a client stops after this many answers (default: 10000)")
    parser.add_argument("--api", nargs="+", choices=["gradio", "gradio-plain", "json"], default=["gradio"],
                        help="which API the clients call: gradio /ask (gradio-plain: the client with "
                             "ssl_verify=False), json POST /api/ask; several in turn (default: gradio)")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the checkout whose serve.py and qa are served (default: this one)")
    args = parser.parse_args(argv)
    if not all(1 <= n <= 256 for n in args.clients) or not 0 < args.seconds <= 3600:
        parser.error("clients must be 1..256 and seconds 0..3600")

    started = time.perf_counter()
    questions = load_questions()
    index = ensure_index(args.index)
    runs = []
    with served(index, code=args.code.resolve()) as url:
        warm = drive(url, 1, 0, questions)  # one answer first: the first request pays for warm-up
        if warm.errors:
            print("warm-up failed:", *warm.errors, sep="\n  ", file=sys.stderr)
        for api in args.api:
            for n in args.clients:
                print(f"{n} {api} client(s) for {args.seconds:g} s …", file=sys.stderr, flush=True)
                runs.append(drive(url, n, args.seconds, questions, args.request_timeout, args.max_per_client,
                                  api=api))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/bench_load.py",
                                                *(argv if argv is not None else sys.argv[1:])])
    print(table(runs))
    print(f"\n`{command}` — serve.py on {HOST} with index {index}, {len(questions)} questions of "
          f"tests/data/news_questions.jsonl asked in turn, k=5; code {args.code.resolve()}; wall {time.perf_counter() - started:.0f} s, "
          f"{os.cpu_count()} CPUs, load average (1/5/15 min) {load}, {time.strftime('%Y-%m-%d %H:%M')}")
    for r in runs:
        for message in r.errors[:10]:
            print(f"error ({r.clients} clients): {message}", file=sys.stderr)
    return 1 if any(r.errors for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
