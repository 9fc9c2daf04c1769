"""Robustness (issue 6): a corpus full of bad files through a real build, and bad questions.

What other modules already cover is not repeated here: ``test_ingest`` reads single bad files
with ``read_file``; ``test_build`` kills builds, holds the lock and damages indexes;
``test_web`` checks escaping, login and file routes. Here every bad case sits in ONE corpus
folder next to good articles and goes through ``qa.build.build`` and ``Engine`` as staff run
them: the build must finish, report each bad file with its reason (summary and manifest) and
keep every good article answerable.
"""
from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from engine_fixtures import ROOT, _encoder, encoder, sample_engine, sample_index  # noqa: F401

from qa import Engine
from qa.build import build
from qa.settings import Settings
from qa.store import MANIFEST
from qa.types import Answer

pytestmark = pytest.mark.model

MB = 1024 * 1024
RSS_LIMIT_MB = 2048  # a bound on the build's peak memory, not a timing


# ---------------------------------------------------------------- the articles

GOOD_1 = "good articles/Lighthouse keeper retires.txt"  # a space in the folder and the name
GOOD_1_TEXT = """\
Lighthouse keeper retires after forty-one years on Baengnyeong Island

By Han Ji-soo

Kim Sung-ho, the keeper of the lighthouse on Baengnyeong Island, retired on Friday after \
forty-one years of service, the coast guard said.

He climbed the 212 steps of the tower twice a day to clean the lamp, even after an automatic \
beacon was installed in 2009, colleagues said.

Kim said he would miss the spotted seals that gather on the rocks below the tower every spring, \
and that he planned to open a small guesthouse for birdwatchers on the island.
"""
GOOD_1_QUESTION = "How many years did the keeper of the Baengnyeong Island lighthouse serve?"
GOOD_1_ANSWER = "forty-one years"

GOOD_2 = "café société/Ünïcode persimmon – récolte.md"  # non-ASCII folder and name
GOOD_2_TEXT = """\
# Dried persimmon harvest breaks record in Sangju

Farmers in Sangju harvested 52,000 tonnes of dried persimmons this autumn, the county office \
said on Wednesday, the largest crop since records began in 1987.

A dry September and cool nights in October let the fruit cure slowly on racks under the eaves \
of farmhouses, growers said.

The county plans to ship a fifth of the harvest to Vietnam and Singapore before the Lunar New \
Year holiday.
"""
GOOD_2_QUESTION = "How many tonnes of dried persimmons did Sangju farmers harvest?"
GOOD_2_ANSWER = "52,000 tonnes"

# The same article as GOOD_1 under another name, with Windows line endings: other bytes, the
# same cleaned text. It sorts after GOOD_1, so GOOD_1 is the "earlier" document.
DUPLICATE = "zz copies/lighthouse (copy).txt"

UTF8_BOM = "encodings/utf8-bom.txt"
UTF8_BOM_TEXT = """\
Café owners on Jeju’s Olle trail report record season

Café owners along the Olle walking trail on Jeju Island said on Sunday that “the number of \
hikers has never been higher”, after 1.2 million walkers passed through in the summer.

The trail’s 27 routes now circle the whole island, the Jeju Olle Foundation said.
"""
UTF16 = "encodings/utf16.txt"
UTF16_TEXT = """\
Naïve ski jumpers set a record at Alpensia

Twelve naïve first-time ski jumpers from Gangneung set a club record at the Alpensia jump on \
Saturday, clearing 41 metres on the small hill, their coach said.

The coach, Léa Moreau, said the club would enter the regional championship in February.
"""
LATIN1 = "encodings/latin1.txt"
LATIN1_TEXT = """\
Zürich orchestra tours Busan

The Tonhalle orchestra of Zürich gave its first concert in Busan on Thursday, playing Dvořák \
to a full hall of 2,000 listeners, the organisers said.

Its conductor, José Ramírez, said the players were moved by the silence before the encore.
""".replace("ř", "r")  # Latin-1 has no ř
EUC_KR = "encodings/부산항 기사 (EUC-KR).txt"
EUC_KR_TEXT = """\
부산항 컨테이너 물동량 사상 최대

부산항만공사는 지난달 부산항의 컨테이너 물동량이 이백십만 개로 사상 최대를 기록했다고 밝혔다.

환적 화물이 크게 늘면서 신항의 부두 운영사들이 야간 작업을 늘렸다고 항만공사 관계자가 전했다.

항만공사는 올해 전체 물동량도 지난해보다 늘어날 것으로 내다봤다.
"""
EUC_KR_QUESTION = "부산항 컨테이너 물동량 사상 최대"
EUC_KR_WORDS = ("부산항만공사는", "컨테이너 물동량", "환적 화물")
CP949 = "encodings/cp949.txt"
CP949_TEXT = """\
똠방각하 연극 재공연

극단 산울림은 소설 똠방각하를 각색한 연극을 다음 달 서울 대학로에서 다시 무대에 올린다고 밝혔다.

극단 관계자는 첫 공연의 표가 사흘 만에 모두 팔렸다고 전했다.
"""  # 똠 exists in CP949 only (EUC-KR needs an 8-byte make-up sequence for it)

CUT_JSON = "json/cut-off.json"
CUT_JSON_VALUE = {"title": "Tide gauge installed at Incheon port", "date": "2021-05-03",
                  "link": "https://example.org/tide-gauge",
                  "content": "<p>A new tide gauge was installed at the inner harbour of Incheon port "
                             "on Monday, the port authority said.</p><p>The gauge reports the water "
                             "level every ten seconds to ships waiting at the lock gates.</p>"
                             "<p>A second gauge will follow next year at the outer anchorage and"}
CUT_JSON_QUESTION = "How often does the new Incheon tide gauge report the water level?"

JSONL = "json/feed.jsonl"
JSONL_LINES = [
    json.dumps({"id": "a1", "title": "Ferry to Yeonpyeong resumes",
                "text": "The passenger ferry to Yeonpyeong Island resumed sailing on Tuesday after "
                        "a three-week stop for engine repairs, the operator said."}),
    '{"id": "a2", "title": "Broken line", "text": "this line is cut off in the mid',
    json.dumps({"id": "a3", "title": "Ginseng fair opens in Geumsan",
                "text": "The ginseng fair in Geumsan opened on Friday with 340 stalls, the most "
                        "since the fair moved to the riverside park, organisers said."}),
    "[" * 100_000 + "]" * 100_000,  # one absurdly nested line
]
JSONL_QUESTIONS = {"json/feed.jsonl#a1": "Why did the ferry to Yeonpyeong Island stop for three weeks?",
                   "json/feed.jsonl#a3": "How many stalls did the Geumsan ginseng fair open with?"}

CHROME_ONLY = ("Settings\n\n• Facebook share button\n• Twitter share button\n\nTop 10 Stories\n\n"
               "X\nCLOSE\n\nShare on WhatsApp\nText size: A A A\nPrivacy Policy | Terms of Use\n")

OUTSIDE_SECRET = "Quartermaster passphrase: tangerine-osprey-4471 is never to be indexed."


def png_bytes() -> bytes:
    """A real PNG: signature, IHDR, IDAT, IEND (a 4 x 4 grey image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes([128] * 4) for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"") + os.urandom(4096))


PDF_BYTES = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
             b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\nstream\n" + os.urandom(2048)
             + b"\nendstream\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")

# Every bad file and a word its reason must hold (checked in the report and the manifest).
FAILED = {
    "bad/empty.txt": "empty",
    "bad/빈 파일 (empty).txt": "empty",
    "bad/only spaces.txt": "empty",
    "bad/photo.png": "binary",
    "bad/picture-renamed.txt": "binary",
    "bad/report.pdf.txt": "binary",
    "bad/chrome only.txt": "no article text",
    "json/malformed.json": "not valid JSON",
    "json/deep.json": "nested",
    "big/fifty-one-megabytes.txt": "too large",
    "links/dangling.txt": "",  # a link to a file that is gone: fails even for root
}
# Bad entries the corpus listing itself meets: they must be reported too, never followed.
LINKS = ["links/outside.txt", "links/loop-a.txt", "links/loop-b.txt"]
# Files that are read, with a warning that must hold this text.
WARNED = {
    LATIN1: "Windows-1252",
    EUC_KR: "Korean",
    CP949: "Korean",
    CUT_JSON: "cut off",
    JSONL: "line 2 is not valid JSON",
}


def make_corpus(root: Path, outside: Path) -> Path:
    """One corpus folder holding every bad case next to the good articles."""
    def put(relpath: str, data: bytes | str) -> None:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    put(GOOD_1, GOOD_1_TEXT)
    put(GOOD_2, GOOD_2_TEXT)
    put(DUPLICATE, GOOD_1_TEXT.replace("\n", "\r\n"))
    put(UTF8_BOM, UTF8_BOM_TEXT.encode("utf-8-sig"))
    put(UTF16, UTF16_TEXT.encode("utf-16"))
    put(LATIN1, LATIN1_TEXT.encode("latin-1"))
    put(EUC_KR, EUC_KR_TEXT.encode("euc-kr"))
    put(CP949, CP949_TEXT.encode("cp949"))
    put(CUT_JSON, json.dumps(CUT_JSON_VALUE)[:-60])  # cut inside the content string
    put(JSONL, "\n".join(JSONL_LINES) + "\n")

    put("bad/empty.txt", b"")
    put("bad/빈 파일 (empty).txt", b"")
    put("bad/only spaces.txt", b" \n\t\n  \r\n")
    put("bad/photo.png", png_bytes())
    put("bad/picture-renamed.txt", png_bytes())
    put("bad/report.pdf.txt", PDF_BYTES)
    put("bad/chrome only.txt", CHROME_ONLY)
    put("json/malformed.json", '{"title": "Broken", "text": nope, "date": }')
    put("json/deep.json", "[" * 100_000 + "]" * 100_000)
    line = (b"Shipping news from the port of Mokpo: nothing unusual happened on this day at all. "
            b"The harbour master logged the arrivals and departures as on every other day.\n")
    _write_size(root / "big/fifty-one-megabytes.txt", line * (MB // len(line) + 1), 51 * MB)

    links = root / "links"
    links.mkdir()
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(f"Secret memo\n\n{OUTSIDE_SECRET}\n", encoding="utf-8")
    os.symlink(outside / "secret.txt", links / "outside.txt")
    os.symlink("loop-b.txt", links / "loop-a.txt")
    os.symlink("loop-a.txt", links / "loop-b.txt")
    os.symlink("gone.txt", links / "dangling.txt")  # inside the corpus, to nothing
    return root


def _reason(report, relpath: str) -> str | None:
    """What the build said about ``relpath``: its failure, else its warnings, else None."""
    if relpath in report.failed:
        return report.failed[relpath]
    if relpath in report.warnings:
        return "; ".join(report.warnings[relpath])
    mentioned = [w for ws in report.warnings.values() for w in ws if relpath in w]
    return "; ".join(mentioned) or None


# ---------------------------------------------------------------- one build of the bad corpus

@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("robust")
    return make_corpus(base / "corpus", base / "outside")


@pytest.fixture(scope="module")
def bad_build(bad_corpus):
    """The bad corpus built in-process with the session's model: (report, index dir, manifest)."""
    index = bad_corpus.parent / "index"
    logged: list[str] = []
    report = build(Settings(corpus=str(bad_corpus), index=str(index)), progress=False,
                   log=logged.append, encoder=_encoder())
    manifest = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
    return report, index, manifest


@pytest.fixture(scope="module")
def bad_engine(bad_build):
    engine = Engine.open(bad_build[1])
    engine._encoder = _encoder()
    return engine


@pytest.mark.parametrize("relpath,word", sorted(FAILED.items()))
def test_each_bad_file_is_reported_with_its_reason_in_summary_and_manifest(bad_build, relpath, word):
    report, _, manifest = bad_build
    assert relpath in report.failed, (relpath, sorted(report.failed))
    reason = report.failed[relpath]
    assert isinstance(reason, str) and reason.strip() and word in reason, reason
    assert f"failed  {relpath}: {reason}" in report.summary()
    entry = manifest["files"][relpath]
    assert entry.get("error") == reason and not entry.get("doc_ids")


@pytest.mark.parametrize("relpath", LINKS)
def test_links_out_of_the_corpus_or_in_a_loop_are_reported_and_never_followed(bad_build, bad_engine,
                                                                                relpath):
    report, _, manifest = bad_build
    reason = _reason(report, relpath)
    assert reason, f"{relpath} was left out silently: not in report.failed or report.warnings"
    assert relpath in json.dumps(manifest["files"], ensure_ascii=False) or \
        relpath in json.dumps(manifest.get("last_build", {}), ensure_ascii=False)
    assert relpath not in bad_engine.doc_ids()


def test_nothing_outside_the_corpus_is_indexed(bad_build, bad_engine):
    assert not any(d.startswith("links/") for d in bad_engine.doc_ids())
    for pos in range(len(bad_engine.docs.meta)):
        assert "tangerine-osprey" not in bad_engine.docs.document(pos).text
    answer = bad_engine.ask("What is the quartermaster passphrase?", k=10)
    assert all("tangerine-osprey" not in p.text for p in answer.passages)


@pytest.mark.parametrize("relpath,word", sorted(WARNED.items()))
def test_salvaged_files_are_indexed_with_a_warning(bad_build, relpath, word):
    report, _, manifest = bad_build
    assert relpath not in report.failed, report.failed.get(relpath)
    assert any(word in w for w in report.warnings.get(relpath, [])), report.warnings.get(relpath)
    entry = manifest["files"][relpath]
    assert entry["doc_ids"] and any(word in w for w in entry["warnings"])
    assert f"warning {relpath}: " in report.summary()


def test_the_build_keeps_every_good_document(bad_build, bad_engine):
    report, _, manifest = bad_build
    expected = {GOOD_1, GOOD_2, UTF8_BOM, UTF16, LATIN1, EUC_KR, CP949, CUT_JSON, *JSONL_QUESTIONS}
    assert expected <= bad_engine.doc_ids()
    assert set(report.failed) >= set(FAILED)
    assert manifest["counts"]["documents"] == len(bad_engine.doc_ids())
    assert "json/feed.jsonl#a2" not in bad_engine.doc_ids()  # the broken line, and only it


@pytest.mark.parametrize("question,relpath,answer", [
    (GOOD_1_QUESTION, GOOD_1, GOOD_1_ANSWER),
    (GOOD_2_QUESTION, GOOD_2, GOOD_2_ANSWER),
    ("How many hikers walked the Olle trail on Jeju Island in the summer?", UTF8_BOM, "1.2 million"),
    ("How far did the first-time ski jumpers from Gangneung jump at Alpensia?", UTF16, "41 metres"),
    ("How many listeners heard the Zürich orchestra in Busan?", LATIN1, "2,000 listeners"),
    (CUT_JSON_QUESTION, CUT_JSON, "every ten seconds"),
    *[(q, doc, None) for doc, q in JSONL_QUESTIONS.items()],
])
def test_every_good_article_is_answerable(bad_engine, question, relpath, answer):
    result = bad_engine.ask(question, k=5)
    top = result.passages[0]
    # Before duplicate detection, GOOD_1's copy may tie with it; test_duplicate_... checks that.
    assert top.doc_id in ({relpath, DUPLICATE} if relpath == GOOD_1 else {relpath}), top.doc_id
    assert not result.abstained, (question, result.confidence)
    if answer:
        assert answer in top.text
    assert bad_engine.document(top.doc_id).text[top.start:top.end] == top.text


def test_other_encodings_come_out_readable(bad_engine):
    bom = bad_engine.document(UTF8_BOM)
    assert bom.title == "Café owners on Jeju’s Olle trail report record season"
    assert "\ufeff" not in bom.text and "“the number of hikers has never been higher”" in bom.text
    utf16 = bad_engine.document(UTF16)
    assert utf16.title.startswith("Naïve ski jumpers") and "Léa Moreau" in utf16.text
    latin1 = bad_engine.document(LATIN1)
    assert latin1.title == "Zürich orchestra tours Busan" and "José Ramírez" in latin1.text
    for doc in (bom, utf16, latin1):
        assert "Ã" not in doc.text + doc.title and "\ufffd" not in doc.text  # no mojibake


def test_korean_articles_come_out_readable_and_answer_a_korean_question(bad_engine):
    doc = bad_engine.document(EUC_KR)
    assert doc.title == "부산항 컨테이너 물동량 사상 최대"
    for paragraph in EUC_KR_TEXT.strip().split("\n\n")[1:3]:  # Hangul as written, not mojibake
        assert paragraph in doc.text
    for words in EUC_KR_WORDS:
        assert words in doc.text
    assert "\ufffd" not in doc.text
    cp949 = bad_engine.document(CP949)
    assert cp949.title == "똠방각하 연극 재공연" and "극단 산울림은" in cp949.text
    answer = bad_engine.ask(EUC_KR_QUESTION, k=3)
    assert answer.passages[0].doc_id == EUC_KR and not answer.abstained
    assert "부산항" in answer.passages[0].text
    answer = bad_engine.ask("똠방각하 연극은 어디에서 공연하나?", k=3)
    assert answer.passages[0].doc_id == CP949


def test_a_short_korean_closing_sentence_is_kept(bad_engine):
    """"항만공사는 올해 전체 물동량도 지난해보다 늘어날 것으로 내다봤다." is a whole sentence of
    7 space-separated words (about 15 English words: each Korean word carries its particles).
    Counted as 7 words it is "short" for the chrome filter, and dropped at the article's end."""
    last = EUC_KR_TEXT.strip().split("\n\n")[-1]
    assert last in bad_engine.document(EUC_KR).text


def test_names_with_spaces_and_non_ascii_are_kept_as_doc_ids(bad_engine):
    for relpath in (GOOD_1, GOOD_2, EUC_KR):
        doc = bad_engine.document(relpath)
        assert doc.doc_id == relpath and doc.source == relpath
    assert bad_engine.document(GOOD_2).title == "Dried persimmon harvest breaks record in Sangju"


def test_the_same_article_twice_is_indexed_once_and_marked_a_duplicate(bad_build, bad_engine):
    report, _, manifest = bad_build
    warnings = report.warnings.get(DUPLICATE, [])
    assert any(f"duplicate of {GOOD_1}" in w for w in warnings), (
        f"no 'duplicate of {GOOD_1}' warning for {DUPLICATE}: {warnings}")
    assert any(f"duplicate of {GOOD_1}" in w for w in manifest["files"][DUPLICATE].get("warnings", []))
    assert GOOD_1 in bad_engine.doc_ids() and DUPLICATE not in bad_engine.doc_ids()
    for question in (GOOD_1_QUESTION, "spotted seals below the lighthouse tower", "lighthouse"):
        texts = [p.text for p in bad_engine.ask(question, k=10).passages]
        assert len(texts) == len(set(texts)), f"the same passage shown twice for {question!r}"


def test_a_second_build_of_the_bad_corpus_changes_nothing(bad_corpus, bad_build):
    """Failures are remembered: nothing is read again, and they are still reported."""
    report, index, _ = bad_build
    again = build(Settings(corpus=str(bad_corpus), index=str(index)), progress=False,
                  log=lambda m: None, encoder=_encoder())
    assert again.embedded_chunks == 0 and not again.added and not again.changed
    assert again.failed == report.failed
    assert again.documents == report.documents


def _write_size(path: Path, block: bytes, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        while handle.tell() < size:
            handle.write(block)


def test_huge_files_are_built_in_bounded_memory(bad_corpus, tmp_path):
    """A fresh process builds a corpus with the 51 MB file (refused: too large) and a 49 MB file
    (read, decoded and cleaned: it holds only page chrome) next to a good article: peak RSS,
    model included, stays under 2 GB, and the good article is indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    os.link(bad_corpus / "big/fifty-one-megabytes.txt", corpus / "fifty-one megabytes.txt")
    _write_size(corpus / "forty-nine megabytes of chrome.txt", (CHROME_ONLY.encode() + b"\n") * 2048, 49 * MB)
    (corpus / "good.txt").write_text(GOOD_1_TEXT, encoding="utf-8")
    script = textwrap.dedent(f"""
        import json
        from qa.build import build
        from qa.settings import Settings
        report = build(Settings(corpus={str(corpus)!r}, index={str(tmp_path / 'index')!r}),
                       progress=False, log=lambda m: None)
        # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec,
        # so a large test process would be measured instead of the build.
        peak_mb = next(int(line.split()[1]) for line in open("/proc/self/status")
                       if line.startswith("VmHWM:")) / 1024
        print(json.dumps({{"peak_mb": peak_mb, "failed": report.failed, "documents": report.documents}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"peak RSS of the build: {result['peak_mb']:.0f} MB")
    assert "too large" in result["failed"]["fifty-one megabytes.txt"]
    assert "no article text" in result["failed"]["forty-nine megabytes of chrome.txt"]
    assert result["documents"] == 1
    assert result["peak_mb"] < RSS_LIMIT_MB, result["peak_mb"]


# ---------------------------------------------------------------- special files, one at a time

def _build_in_subprocess(corpus: Path, index: Path, timeout: float = 300):
    """``qa build`` in a child process, so that a hang fails the test instead of the run."""
    try:
        return subprocess.run([sys.executable, "-m", "qa.cli", "build", "--corpus", str(corpus),
                               "--index", str(index), "--quiet"], capture_output=True, text=True,
                              cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"qa build did not finish within {timeout:.0f} s (it hangs)")


def _small_corpus(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "good.txt").write_text(GOOD_1_TEXT, encoding="utf-8")
    return root


def test_a_symlink_loop_does_not_stop_the_build(tmp_path):
    corpus = _small_corpus(tmp_path / "corpus")
    os.symlink("loop-b.txt", corpus / "loop-a.txt")
    os.symlink("loop-a.txt", corpus / "loop-b.txt")
    proc = _build_in_subprocess(corpus, tmp_path / "index")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "loop-a.txt" in proc.stdout and "loop-b.txt" in proc.stdout, proc.stdout


def test_a_named_pipe_in_the_corpus_does_not_hang_the_build(tmp_path):
    corpus = _small_corpus(tmp_path / "corpus")
    os.mkfifo(corpus / "pipe.txt")  # opening it for reading would wait for a writer forever
    proc = _build_in_subprocess(corpus, tmp_path / "index", timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pipe.txt" in proc.stdout  # reported (failed or skipped with a reason)
    assert Engine.open(tmp_path / "index").doc_ids() == {"good.txt"}


def test_a_file_without_read_permission_is_reported(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions do not stop root from reading, so chmod 000 "
                    "cannot make a file unreadable here (the dangling link in the bad corpus is the "
                    "unreadable file that fails for root too)")
    corpus = _small_corpus(tmp_path / "corpus")
    locked = corpus / "locked.txt"
    locked.write_text(GOOD_2_TEXT, encoding="utf-8")
    locked.chmod(0)
    try:
        report = build(Settings(corpus=str(corpus), index=str(tmp_path / "index")), progress=False,
                       log=lambda m: None, encoder=_encoder())
    finally:
        locked.chmod(0o644)
    assert "locked.txt" in report.failed and "ermission" in report.failed["locked.txt"]
    assert Engine.open(tmp_path / "index").doc_ids() == {"good.txt"}


# ---------------------------------------------------------------- bad questions

SEAFOOD_QUESTION = "When did China ban seafood imports from North Korea?"
SEAFOOD_DOC = "002_b64ff41df4f991e9.txt"


class NoEncoding:
    """Stands in for the model: a question that should be refused must never reach it."""

    dim = 384

    def __getattr__(self, name):
        raise AssertionError(f"the model was used ({name}) for a question that should be refused")


def _check_answer(engine, answer: Answer, question: str, k: int = 5) -> None:
    assert isinstance(answer, Answer) and answer.question == question
    assert len(answer.passages) <= k
    assert answer.abstained or answer.passages
    for p in answer.passages:
        assert engine.document(p.doc_id).text[p.start:p.end] == p.text
    json.dumps(answer.to_dict())


@pytest.mark.parametrize("question", ["", " ", "\n\t  \r\n", "\u00a0\u2003\u3000", "\x00\x1b\x7f"])
def test_empty_questions_get_a_clear_message(sample_engine, monkeypatch, question):
    monkeypatch.setattr(sample_engine, "_encoder", NoEncoding())
    with pytest.raises(ValueError, match="empty"):
        sample_engine.ask(question)


@pytest.mark.parametrize("question", ["x" * 100_000, "smuggling " * 10_000,
                                      "북한 " * 40_000, "🦀" * 100_000, "a" * 5_000_000])
def test_a_huge_question_is_refused_without_the_model(sample_engine, monkeypatch, question):
    # How long the refusal takes is measured in benchmarks/bench_refusal.py, not here.
    monkeypatch.setattr(sample_engine, "_encoder", NoEncoding())
    with pytest.raises(ValueError, match=r"too long \([\d,]+ characters\): ask in at most [\d,]+"):
        sample_engine.ask(question)


def test_a_huge_history_is_cut_not_fatal(sample_engine):
    history = ["smuggling on the border " * 5_000, "x" * 100_000]
    answer = sample_engine.ask("When was the ban?", history=history)
    _check_answer(sample_engine, answer, "When was the ban?")
    assert len(answer.query) <= 2 * 2000 + 1


@pytest.mark.parametrize("question", ["?", "a", "중", "🦀", "\u0301"])
def test_one_character_gets_an_abstention(sample_engine, question):
    answer = sample_engine.ask(question)
    _check_answer(sample_engine, answer, question)
    assert answer.abstained  # one character answers nothing confidently


@pytest.mark.parametrize("question", [
    "When did China\x00 ban seafood\x07 imports \x1b[31mfrom North Korea?\x1b[0m",
    "When\u200b did\u202e China ban seafood imports\ufeff from North Korea?",
    "When did China ban seafood imports from North Korea?\ud800",  # a lone surrogate
    "When\r\ndid China\tban seafood\vimports\ffrom North Korea?",
])
def test_control_and_invisible_characters_are_ignored(sample_engine, question):
    answer = sample_engine.ask(question)
    _check_answer(sample_engine, answer, question)
    assert answer.passages[0].doc_id == SEAFOOD_DOC
    assert all(ord(c) >= 32 for c in answer.query) and "\ud800" not in answer.query


@pytest.mark.parametrize("question", ["🦀🦀🦀", "🇰🇵🇨🇳 🚢🐟❓", "When did China ban 🐟 seafood imports from "
                                      "North Korea? 🤔🚢"])
def test_emoji(sample_engine, question):
    answer = sample_engine.ask(question)
    _check_answer(sample_engine, answer, question)
    if "seafood" in question:
        assert answer.passages[0].doc_id == SEAFOOD_DOC
    else:
        assert answer.abstained


@pytest.mark.parametrize("question", [
    "중국은 언제 북한산 수산물 수입을 금지했나요?",
    "북한과 중국 국경의 밀수",
    "中国什么时候禁止从朝鲜进口海鲜？",
    "中朝边境走私",
    "北朝鮮と中国の国境での密輸について",
])
def test_korean_chinese_and_japanese_questions_answer_or_abstain(sample_engine, question):
    answer = sample_engine.ask(question)
    _check_answer(sample_engine, answer, question)
    # The sample corpus is English only: no passage can answer these confidently (the model is
    # English-only too, so a confident answer here would be a wrong one).
    assert answer.abstained


def _file_states(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``folder``: size, modification time (ns) and a checksum of its bytes."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, zlib.crc32(p.read_bytes()))
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _passage_keys(answer: Answer) -> list[tuple[str, int, int, float]]:
    return [(p.doc_id, p.start, p.end, round(p.score, 6)) for p in answer.passages]


@pytest.mark.parametrize("question", [
    "<script>alert(1)</script> When did China ban seafood imports from North Korea?",
    "When did China ban seafood imports <img src=x onerror=alert(2)> from North Korea?",
    "'); DROP TABLE docs; -- When did China ban seafood imports from North Korea?",
    "{{7*7}} ${7*7} %s %n When did China ban seafood imports from North Korea?",
    "[link](javascript:alert(3)) **When** did China ban seafood imports from North Korea?",
])
def test_markup_and_script_in_a_question_are_plain_text(sample_engine, sample_index, question):
    from html import escape

    from qa import render

    files = _file_states(sample_index)
    plain = _passage_keys(sample_engine.ask(SEAFOOD_QUESTION))
    answer = sample_engine.ask(question)
    _check_answer(sample_engine, answer, question)
    assert answer.question == question  # kept as given, not stripped of its markup
    # The junk words may move other articles up (template syntax such as "7*7" and "%s" adds
    # the terms "7" and "s"), but the article that answers stays among the passages.
    assert SEAFOOD_DOC in [p.doc_id for p in answer.passages]
    # Where the chat shows the question (its bubble, and a follow-up's "searched with" line,
    # which carries the earlier question), it is escaped text: no tag, no javascript: link.
    follow_up = sample_engine.ask("Who reported that?", history=[question])
    assert question in follow_up.query
    for html in (render.question_html(question),
                 render.answer_html(follow_up, 0, sample_engine.settings.abstain_below)):
        assert escape(question) in html
        assert not re.search(r"<(script|img)\b|href=[\"']?javascript", html, re.I)
    # Nothing the question held was run: the index files are byte for byte as they were and
    # the plain question gets the same passages, with the same scores, as before it.
    assert _file_states(sample_index) == files
    assert _passage_keys(sample_engine.ask(SEAFOOD_QUESTION)) == plain


# Filter values reach code that could be injected (a SQL WHERE, a LIKE prefix, a regex): each of
# these must match no document, as any other unknown name or prefix does.
@pytest.mark.parametrize("filters", [
    {"publisher": "Daily NK' OR '1'='1"},
    {"publisher": ["nobody", "') OR 1=1; --"]},
    {"source": "%"},
    {"source": "00_"},
    {"source": ".*"},
    {"source": "' OR ''='"},
    {"source": ["*", "../"]},
])
def test_sql_and_wildcards_in_a_filter_value_match_no_document(sample_engine, filters):
    answer = sample_engine.ask(SEAFOOD_QUESTION, filters=filters)
    assert answer.passages == [] and answer.abstained


def test_sql_beside_a_real_filter_value_returns_the_same_documents(sample_engine):
    plain = sample_engine.ask(SEAFOOD_QUESTION, filters={"publisher": ["Daily NK"]})
    assert plain.passages and {p.publisher for p in plain.passages} == {"Daily NK"}
    injected = sample_engine.ask(SEAFOOD_QUESTION, filters={"publisher": ["Daily NK", "x' OR '1'='1"]})
    assert _passage_keys(injected) == _passage_keys(plain)


@pytest.mark.parametrize("junk", ["' OR '1'='1", "; DROP TABLE docs; --", " OR 1=1"])
def test_sql_after_a_date_filter_is_refused_or_changes_nothing(sample_engine, junk):
    plain = sample_engine.ask(SEAFOOD_QUESTION, filters={"after": "2019-01-01", "undated": False})
    assert plain.passages and {p.doc_id for p in plain.passages} == {"004_12c742a49eb0f3d4.txt"}
    try:
        injected = sample_engine.ask(SEAFOOD_QUESTION, filters={"after": "2019-01-01" + junk, "undated": False})
    except ValueError as exc:
        assert "date" in str(exc)
    else:
        assert _passage_keys(injected) == _passage_keys(plain)


@pytest.mark.parametrize("question", [None, 42, b"When did China ban seafood imports?",
                                      ["When did China ban seafood imports?"]])
def test_a_question_that_is_not_text_gets_a_clear_message(sample_engine, monkeypatch, question):
    monkeypatch.setattr(sample_engine, "_encoder", NoEncoding())
    with pytest.raises(ValueError, match="text"):
        sample_engine.ask(question)


def test_a_vector_file_cut_short_is_refused_with_what_to_do(tmp_path, sample_index):
    """Sentence vectors are read by row (not mapped): a file cut short is caught on open."""
    import shutil as _shutil

    from qa import Engine, IndexProblem, store

    index = tmp_path / "index"
    _shutil.copytree(sample_index, index)
    path = store.generation_dir(index, store.read_manifest(index)) / "sentence_vectors.npy"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IndexProblem, match='cut short|damaged|disagree.*run "qa build"'):
        Engine.open(index)
