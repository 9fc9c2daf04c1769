"""HTML through trafilatura (issue 16): credits kept, our reader as the fallback, the page's own
metadata first, publishers from the registered domain, encodings, and ``qa inspect``."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa import htmlpages
from qa.decode import decode_bytes
from qa.htmlpages import credit_lines, is_credit_line, read_page
from qa.ingest import INGEST_VERSION, inspect, read_file
from qa.metadata import publisher_from_url

ROOT = Path(__file__).resolve().parents[1]
PARAS = [
    "The ferry between the two harbour towns resumed service on Thursday after a pause of almost "
    "four years, the operator said, and the first crossing was sold out within an hour.",
    "Officials said the timetable would grow to three sailings a day by the summer if enough "
    "crew can be hired, and that fares would stay at their old level for the first season.",
    "Residents of the island, who had relied on a weekly supply boat, said the return of the "
    "ferry would let them reach the hospital on the mainland without waiting days for a seat.",
]


def page(body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body>"
            f"<header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
            f"<main><article>{body}</article></main>"
            f"<footer><p>© 2023 Harbour Media. All rights reserved. Privacy policy.</p></footer>"
            f"</body></html>")


ARTICLE = "<h1>Ferry returns to the island</h1>" + "".join(f"<p>{p}</p>" for p in PARAS)


def test_credit_lines_trafilatura_drops_are_put_back_where_the_page_has_them():
    markup = page(
        "<h1>Ferry returns to the island</h1><div class='byline'>By Mina Cho and Dae Lee</div>"
        + "".join(f"<p>{p}</p>" for p in PARAS)
        + "<div class='credits'>Reported by Mina Cho for the Island Service. Translated by Ha Yoon. "
          "Written in English by Sam Reed.</div>"
        + "<figure><figcaption>Photo: Island Ferries</figcaption></figure>")
    extracted = htmlpages._trafilatura(markup)
    assert "Translated by" not in extracted["text"]  # what this test is about: trafilatura drops it
    doc = read_page(markup)
    parts = doc.text.split("\n\n")
    assert parts[0] == "By Mina Cho and Dae Lee"
    assert parts[1:4] == PARAS
    assert ("Reported by Mina Cho for the Island Service. Translated by Ha Yoon. Written in English "
            "by Sam Reed.") in parts[4:]
    assert "Photo: Island Ferries" in parts[4:]
    assert doc.author == "Mina Cho, Dae Lee"  # no author metadata: the "By" credit line says it
    for chrome in ("Home", "World", "rights reserved", "Ferry returns to the island"):
        assert chrome not in doc.text, chrome
    assert [doc.text[a:b] for a, b in credit_lines(doc.text)] == [parts[0], *parts[4:]]


@pytest.mark.parametrize("line", [
    "By Jane Park", "BY JANE PARK AND ALEX KIM, Staff Writers", "Reported by Hyemin Son for the Korean Service.",
    "Translated by Leejin Jun.", "Written in English by Richard Finney.", "Photo: Reuters",
    "(Image credit: NASA)", "© Aaron Schwartz", "Story by Ana Lopes", "Reporter: Kim Min-ji",
    "Photograph by Lee Sun"])
def test_credit_like_lines(line):
    assert is_credit_line(line)


@pytest.mark.parametrize("line", [
    "Byzantine art returns to the museum after ten years",  # "By" only as a word's start
    "The minister was joined by aides and a group of reporters on the visit to the port on Tuesday.",
    "© 2019 Cleveland.com. All rights reserved (About Us).", "By", "Photos",
    "Image: A crowd gathers outside the station as the first train in four years pulls in, "
    "greeted by a band and the mayor of the town"])  # a caption, not a credit
def test_lines_that_are_not_credits(line):
    assert not is_credit_line(line)


def test_an_author_note_naming_the_pages_author_is_a_credit():
    assert is_credit_line("Mun Dong Hui is a journalist who has a M.A. in Sociology.", ["Mun Dong Hui"])
    assert not is_credit_line("Mun Dong Hui is a journalist who has a M.A. in Sociology.")


def test_the_pages_own_metadata_comes_first():
    head = ("<title>Ferry returns | Harbour Times</title>"
            "<meta property='og:title' content='Ferry service returns to the island'>"
            "<meta property='og:site_name' content='Harbour Times'>"
            "<meta name='author' content='Mina Cho'>"
            "<meta property='article:published_time' content='2023-05-04T09:00:00+09:00'>"
            "<link rel='canonical' href='https://www.harbourtimes.co.uk/2023/05/ferry'>")
    doc = read_page(page(ARTICLE + "<aside><time datetime='2021-01-01'>Older story</time></aside>", head))
    assert (doc.title, doc.author, doc.publisher, doc.published, doc.url) == (
        "Ferry service returns to the island", "Mina Cho", "Harbour Times", "2023-05-04",
        "https://www.harbourtimes.co.uk/2023/05/ferry")
    assert doc.text.split("\n\n") == PARAS


def test_a_date_only_the_visible_page_gives_is_found_by_htmldate():
    markup = page("<h1>Ferry returns</h1><p class='date'>Published March 3, 2021</p>"
                  + "".join(f"<p>{p}</p>" for p in PARAS))
    assert read_page(markup).published == "2021-03-03"


def test_our_reader_is_the_fallback_when_trafilatura_reads_nothing():
    markup = page("<div class='comments'>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</div>")
    assert htmlpages._trafilatura(markup) is None  # trafilatura skips comment sections
    doc = read_page(markup)
    assert doc.text.split("\n\n") == PARAS
    assert doc.warnings == ["trafilatura found no article text; read with the project's own reader"]


def test_lists_tables_and_line_breaks_keep_their_structure():
    markup = page("<h1>Ferry returns</h1>" + f"<p>{PARAS[0]}</p><ul><li>Monday 8 a.m.</li>"
                  "<li>Friday 6 p.m.</li></ul>" + f"<p>{PARAS[1]}<br>Second line of it.</p>"
                  "<table><tr><td>Adults</td><td>12 dollars</td></tr></table>" + f"<p>{PARAS[2]}</p>")
    parts = read_page(markup).text.split("\n\n")
    assert parts == [PARAS[0], "• Monday 8 a.m.", "• Friday 6 p.m.", PARAS[1] + "\nSecond line of it.",
                     "Adults | 12 dollars", PARAS[2]]


def test_html_in_a_json_field_and_in_a_txt_file_go_through_the_same_reader(tmp_path):
    markup = page("<div class='byline'>By Mina Cho</div>" + "".join(f"<p>{p}</p>" for p in PARAS))
    (tmp_path / "saved.txt").write_text(markup, encoding="utf-8")
    post = {"id": 3, "title": {"rendered": "Ferry returns"}, "link": "https://news.example.com/ferry",
            "content": {"rendered": "".join(f"<p>{p}</p>\n" for p in PARAS)}}
    (tmp_path / "post.json").write_text(json.dumps(post), encoding="utf-8")
    saved = read_file(tmp_path, "saved.txt", {}).documents[0]
    assert saved.text.split("\n\n") == ["By Mina Cho", *PARAS]
    from_json = read_file(tmp_path, "post.json", {}).documents[0]
    assert from_json.text.split("\n\n") == PARAS
    assert (from_json.title, from_json.publisher) == ("Ferry returns", "example.com")


def test_publisher_is_the_registered_domain_offline():
    assert publisher_from_url("https://www.bbc.co.uk/news/world-123") == "bbc.co.uk"
    assert publisher_from_url("https://engview.rfaweb.org/english/news/x.html") == "rfaweb.org"
    assert publisher_from_url("http://m.news.example.com.au/a") == "example.com.au"
    assert publisher_from_url("http://127.0.0.1:8000/a") is None
    assert publisher_from_url("http://localhost/a") is None


def test_the_sample_corpus_gets_its_publishers_from_the_sidecar_and_domains_without_it():
    corpus = ROOT / "corpus"
    with_sidecar = [read_file(corpus, f"00{i}" + name[3:]) for i, name in enumerate(sorted(
        p.name for p in corpus.glob("*.txt")))]
    assert [r.documents[0].publisher for r in with_sidecar] == [
        "The Korea Times", "Radio Free Asia", "Daily NK", "ASIAPRESS", "ASIAPRESS"]
    bare = read_file(corpus, "004_12c742a49eb0f3d4.txt", {}).documents[0]
    assert bare.publisher == "asiapress.org"  # its own link's registered domain


def test_non_latin_text_is_decoded_by_charset_normalizer_and_latin_stays_cp1252():
    russian = ("Паром между двумя портовыми городами возобновил работу в четверг после перерыва "
               "почти в четыре года, сообщил оператор, и первый рейс был распродан за час.")
    decoded = decode_bytes(russian.encode("cp1251"))
    assert decoded.text == russian
    assert "charset-normalizer" in decoded.warnings[0]
    french = "Le traversier a repris du service jeudi après une pause de près de quatre ans, a déclaré l’opérateur."
    decoded = decode_bytes(french.encode("cp1252"))
    assert decoded.text == french and "Windows-1252" in decoded.warnings[0]


def test_inspect_says_what_ingestion_makes_of_each_file_and_why_a_file_gives_nothing(tmp_path):
    (tmp_path / "story.html").write_text(page(ARTICLE), encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    found = inspect([tmp_path / "story.html", tmp_path / "image.png", tmp_path / "gone.txt"])
    assert [f["doc_id"] for f in found] == ["story.html", None, None]
    assert found[0]["title"] == "Ferry returns to the island" and found[0]["error"] is None
    assert found[0]["text"].split("\n\n") == PARAS
    assert "binary file" in found[1]["error"] and "not found" in found[2]["error"]
    assert set(found[0]) == {"file", "doc_id", "title", "author", "publisher", "published", "url",
                             "warnings", "text", "error"}


def test_inspect_with_a_corpus_uses_its_doc_ids_and_sidecar():
    found = inspect([ROOT / "corpus" / "003_aa44470263f3cb35.txt"], corpus=ROOT / "corpus")
    assert found[0]["doc_id"] == "003_aa44470263f3cb35.txt"
    assert found[0]["author"] == "Kang Ji-won, ISHIMARU Jiro"  # from the sidecar
    outside = inspect([ROOT / "README.md"], corpus=ROOT / "corpus")
    assert outside[0]["error"].startswith("not inside the corpus")


def test_qa_inspect_json_prints_one_object_a_document_a_line(tmp_path):
    (tmp_path / "story.html").write_text(page(ARTICLE), encoding="utf-8")
    records = [{"id": 1, "title": "One", "text": PARAS[0]}, {"id": 2, "title": "Two", "text": PARAS[1]}]
    (tmp_path / "two.jsonl").write_text("\n".join(map(json.dumps, records)), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "qa.cli", "inspect", "--json", str(tmp_path / "story.html"),
                          str(tmp_path / "two.jsonl")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().split("\n")
    assert [json.loads(x)["doc_id"] for x in lines] == ["story.html", "two.jsonl#1", "two.jsonl#2"]
    bad = subprocess.run([sys.executable, "-m", "qa.cli", "inspect", str(tmp_path / "none.txt")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "none.txt: not read: cannot read: file not found" in bad.stdout


def test_ingest_version_was_bumped_for_the_new_html_reading():
    assert INGEST_VERSION >= 3
