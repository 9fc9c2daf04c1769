"""Ingestion: the sample corpus comes out clean, and other pages, formats and bad files too."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from qa import clean, formats, ingest
from qa.ingest import INGEST_VERSION, SIDECAR_NAME, list_files, load_sidecar, read_file, refusal

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def doc_of(root: Path, relpath: str, sidecar: dict | None = None):
    result = read_file(root, relpath, sidecar)
    assert result.error is None, result.error
    assert len(result.documents) == 1
    return result.documents[0]


def write(root: Path, relpath: str, content: str | bytes) -> str:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return relpath


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


# ---------------------------------------------------------------- the sample corpus

SAMPLES = {
    "000_82916424e9c57ef5.txt": dict(
        title="Smuggling flourishes on NK-China border after Kim-Xi summit",
        url="http://m.koreatimes.co.kr/pages/article.asp?newsIdx=262381", published=None,
        publisher="The Korea Times", author="Yi Whan-woo",
        first="Smuggling on the North Korea-China has increased following leader Kim Jong-un's",
        last="Yi Whan-woo yistory@koreatimes.co.kr",  # credits are article text (issue 16)
        chrome=["Settings", "font-size", "share button",
                "<span>", "<br", "CLOSE", "Top 10 Stories", "go top", "LETTER", "\n-2", "+1"]),
    "001_28f2545c660e1931.txt": dict(
        title="Smuggling Increases on North Korea-China Border Following Top-Level Talks",
        url="https://engview.rfaweb.org/english/news/korea/smuggling-06082018160825.html",
        published="2018-06-08", publisher="Radio Free Asia", author="Hyemin Son",
        first="Border controls aimed at reducing smuggling between North Korea and China",
        last="Translated by Leejin Jun. Written in English by Richard Finney.",
        chrome=["Email story", "Comment on this story", "Print story", "More Listening Options",
                "View Full Site"]),
    "002_b64ff41df4f991e9.txt": dict(
        title="[Photo] Smuggling activities increase across Sino-North Korean border",
        url="https://www.dailynk.com/english/photo-smuggling-activities-increase-across-sino-"
            "north-korean-border/", published=None, publisher="Daily NK", author="Mun Dong Hui",
        first="The Sino-North Korean border region near Dandong, Liaoning Province, has seen",
        last="Mun has a M.A. in Sociology from Hanyang University and a B.A. in Mathematics from "
             "Jeonbuk National University. He can be reached at dhmun@uni-media.net",
        chrome=[]),
    "003_aa44470263f3cb35.txt": dict(
        title="Strict Chinese Customs",  # no headline in the file or found online: from the URL
        url="https://www.asiapress.org/rimjin-gang/2019/05/recommendations/strict-chinese-customs/",
        published=None, publisher="ASIAPRESS", author="Kang Ji-won, ISHIMARU Jiro",
        first="North Korean trading companies are crying out.",
        last="The border is giving us such a hard time.”",
        chrome=["Next page", "Rigorous inspections of visiting", "RECOMMENDATIONS"]),
    "004_12c742a49eb0f3d4.txt": dict(
        title="＜N. Korea Pro Report (Part 3)＞ How is N. Korea’s Economy Faring in the Face of the "
              "Coronavirus Pandemic and Continued Sanctions? A Look at the Regime’s “State "
              "Smuggling” Operations",
        url="https://www.02.asiapress.org/rimjin-gang/2020/04/recommendations/forpro3/",
        published="2020-04-30", publisher="ASIAPRESS", author="ISHIMARU Jiro",
        first="After strong sanctions were imposed by the U.N. Security Council, the Kim Jong-un",
        last="※ ASIAPRESS contacts its reporting partners in North Korea through smuggled Chinese "
             "mobile phones.",
        chrome=["Next page", "Part1 >>>", "Part4 >>>", "Related Article", "</p>", "</div>",
                "</h2>", "</strong>", "\\u", "\\/", '""', "rendered"]),
}


@pytest.fixture(scope="module")
def sample_docs():
    sidecar, warnings = load_sidecar(CORPUS)
    assert warnings == []
    return {rel: doc_of(CORPUS, rel, sidecar) for rel in SAMPLES}


def test_sample_corpus_lists_all_five_files_and_not_the_sidecar():
    assert list_files(CORPUS) == sorted(SAMPLES)


@pytest.mark.parametrize("relpath", sorted(SAMPLES))
def test_sample_article_metadata(sample_docs, relpath):
    doc, want = sample_docs[relpath], SAMPLES[relpath]
    assert doc.doc_id == relpath
    for name in ("title", "url", "published", "publisher", "author"):
        assert getattr(doc, name) == want[name], name


@pytest.mark.parametrize("relpath", sorted(SAMPLES))
def test_sample_article_text_is_the_story_without_chrome(sample_docs, relpath):
    doc, want = sample_docs[relpath], SAMPLES[relpath]
    assert want["first"] in doc.text
    assert doc.text.rstrip().endswith(want["last"])
    for chrome in want["chrome"]:
        assert chrome not in doc.text, chrome
    assert not doc.text.startswith(doc.title)  # the headline is not repeated as the first line
    assert "\n\n\n" not in doc.text and all(p.strip() == p and p for p in paragraphs(doc.text))
    assert len(set(paragraphs(doc.text))) == len(paragraphs(doc.text))  # captions printed once


def test_captions_printed_twice_are_kept_once(sample_docs):
    text = sample_docs["000_82916424e9c57ef5.txt"].text
    assert text.count("shake hands during Kim's fourth visit to China") == 1
    assert sample_docs["001_28f2545c660e1931.txt"].text.count("Trucks move along a bridge") == 1


def test_sub_headings_between_paragraphs_are_kept(sample_docs):
    assert "\n\nHopes for eased sanctions\n\n" in sample_docs["001_28f2545c660e1931.txt"].text
    assert "\n\n◆ A harsh crackdown on smuggling\n\n" in sample_docs["003_aa44470263f3cb35.txt"].text
    text = sample_docs["004_12c742a49eb0f3d4.txt"].text
    for heading in ("■ Smuggling along the 1,400 kilometer border", "■ Transshipments of coal",
                    "■ Transshipments of seafood"):
        assert f"\n\n{heading}\n\n" in text


def test_cut_off_wordpress_export_yields_its_full_body_with_a_salvage_warning(sample_docs):
    doc = sample_docs["004_12c742a49eb0f3d4.txt"]
    assert doc.warnings == ["JSON was cut off at byte 12577; salvaged title, date, link and content"]
    for passage in ("Since 2014, entry across the Tumen River has been entirely blocked",
                    "On January 4 2020, South Korean broadcaster, KBS, released footage",
                    "About 2.8 million tons of coal, roughly 70% of the total",
                    "transshipments of seafood have been stopped completely"):
        assert passage in doc.text
    assert "North Korea’s administrative" in doc.text  # \u2019 decoded
    assert len(doc.text.split()) > 1500


# ---------------------------------------------------------------- other pages, other chrome

NEWS_TEXT = """\
Home | World | Politics | Business | Sport
Share on WhatsApp
Share on Facebook
Tweet
Text size: A A A

Floods displace thousands in river delta

Posted: 2021-07-14 09:30 KST

By Maria Lopez and Tom Wu

Heavy rains over the weekend forced more than 12,000 people from their homes in the delta, \
officials said on Tuesday, as rivers rose to their highest level in two decades.

Rescue teams used boats to reach villages cut off by the water, and the army opened three \
temporary shelters in school buildings.

Advertisement

What comes next

Forecasters expect the rain to ease by Thursday, but warned that the river could keep rising \
for several days as water flows down from the hills.
Forecasters expect the rain to ease by Thursday, but warned that the river could keep rising \
for several days as water flows down from the hills.

Related Stories
• Dam release blamed for floods in neighbouring province, officials say after an inquiry.
• Rainy season arrives two weeks early this year, the weather agency reported on Monday.
© 2021 Example Daily News. All rights reserved.
Privacy Policy | Terms of Use | Contact Us
"""


def test_plain_text_page_with_another_sites_chrome(tmp_path):
    doc = doc_of(tmp_path, write(tmp_path, "floods.txt", NEWS_TEXT))
    assert doc.title == "Floods displace thousands in river delta"
    assert doc.published == "2021-07-14"
    assert doc.author == "Maria Lopez, Tom Wu"
    assert paragraphs(doc.text)[0] == "By Maria Lopez and Tom Wu"  # the byline is article text (a credit)
    assert paragraphs(doc.text)[1].startswith("Heavy rains over the weekend")
    assert doc.text.endswith("as water flows down from the hills.")
    assert "\n\nWhat comes next\n\n" in doc.text
    assert doc.text.count("Forecasters expect") == 1
    # A lone "Advertisement" between paragraphs is kept on one page (a one-word heading looks the
    # same); across a corpus it recurs and goes (tests/test_clean.py).
    for chrome in ("WhatsApp", "Tweet", "Text size", "Home |", "Posted",
                   "Related Stories", "Dam release", "All rights reserved", "Privacy Policy"):
        assert chrome not in doc.text, chrome


HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Port reopens after storm | Coastal Herald</title>
<meta property="og:title" content="Port reopens after three-day storm closure">
<meta property="og:site_name" content="Coastal Herald">
<meta property="article:published_time" content="2022-03-09T07:15:00+09:00">
<meta name="author" content="Jane Park">
<link rel="canonical" href="https://news.example.org/2022/03/port-reopens">
<style>.share { color: red } body { font-size: 12px }</style>
<script>window.dataLayer = [{"page": "article"}]; function track() { return 1; }</script>
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li></ul></nav><div class="logo">Coastal Herald</div></header>
<main><article>
<h1>Port reopens after three-day storm closure</h1>
<div class="social-share"><a>Share</a> <a>Tweet</a> <a>Copy link</a></div>
<p class="byline">By Jane Park</p>
<p>The city&#8217;s container port reopened on Wednesday morning after a storm closed it for three
days, stranding more than forty ships at anchor offshore.</p>
<p>Harbour officials said cranes &amp; tugs were back at work by 6 a.m., and that the backlog
of ships should be cleared by the end of the week if the weather holds.</p>
<h2>Losses for exporters</h2>
<p>Exporters of fresh produce said they had lost about 2 million dollars in spoiled goods,<br>
and asked the government for help with the cost of storage.</p>
<aside class="related"><h3>Related</h3><ul><li>Storm warnings issued for the coast</li></ul></aside>
</article></main>
<footer><p>Copyright 2022 Coastal Herald Media. Contact: desk@coastalherald.example</p>
<p>About us · Careers · Advertise with us</p></footer>
<script>console.log("footer script");</script>
</body></html>
"""


def test_html_page_with_nav_header_footer_script_and_style(tmp_path):
    doc = doc_of(tmp_path, write(tmp_path, "news/port.html", HTML_PAGE))
    assert doc.doc_id == "news/port.html"
    assert doc.title == "Port reopens after three-day storm closure"
    assert (doc.url, doc.published) == ("https://news.example.org/2022/03/port-reopens", "2022-03-09")
    assert (doc.author, doc.publisher) == ("Jane Park", "Coastal Herald")
    # the byline is article text (a credit), where the page has it: before the first paragraph
    assert doc.text.startswith("By Jane Park\n\nThe city’s container port reopened on Wednesday")
    assert "cranes & tugs" in doc.text and "\n\nLosses for exporters\n\n" in doc.text
    assert doc.text.endswith("help with the cost of storage.")
    for chrome in ("Home", "World", "dataLayer", "font-size", "Share", "Tweet", "Copy link",
                   "Storm warnings", "Copyright", "Careers", "footer script", "<"):
        assert chrome not in doc.text, chrome
    assert "three-day storm closure" not in doc.text  # the <h1> headline is the title only


def test_a_run_of_short_bullets_inside_the_article_is_a_menu(tmp_path):
    text = (f"{STORY}\n\n• World\n• Politics\n• Business\n\n"
            "Prices for coffee and cake have not changed since last year, the owners added.")
    doc = doc_of(tmp_path, write(tmp_path, "menu.txt", text))
    assert paragraphs(doc.text) == [STORY, "Prices for coffee and cake have not changed since "
                                           "last year, the owners added."]


def test_html_metadata_from_json_ld(tmp_path):
    ld = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "name": "Example"},
        {"@type": "NewsArticle", "headline": "Ferry service resumes", "url": "https://www.nknews.org/x",
         "datePublished": "2023-11-02T08:00:00Z", "author": {"@type": "Person", "name": "Sam Cho"},
         "publisher": {"@type": "Organization", "name": "NK News"}}]}
    page = (f'<html><head><script type="application/ld+json">{json.dumps(ld)}</script></head>'
            "<body><div class='story-body'><p>The ferry between the two ports resumed service on "
            "Thursday after a pause of almost four years, the operator said.</p></div></body></html>")
    doc = doc_of(tmp_path, write(tmp_path, "ferry.htm", page))
    assert (doc.title, doc.url, doc.published, doc.author, doc.publisher) == (
        "Ferry service resumes", "https://www.nknews.org/x", "2023-11-02", "Sam Cho", "NK News")
    assert doc.text.startswith("The ferry between the two ports") and "@graph" not in doc.text


def test_a_files_name_can_lie_about_its_format(tmp_path):
    html_doc = doc_of(tmp_path, write(tmp_path, "page.txt", HTML_PAGE))
    assert html_doc.title == "Port reopens after three-day storm closure"
    assert "<p>" not in html_doc.text and "dataLayer" not in html_doc.text
    json_doc = doc_of(tmp_path, write(tmp_path, "story.html", json.dumps(
        {"title": "Bridge opens", "text": "The new bridge opened to traffic on Monday after "
                                          "four years of building work, officials said."})))
    assert (json_doc.title, json_doc.text.split()[:3]) == ("Bridge opens", ["The", "new", "bridge"])
    text_doc = doc_of(tmp_path, write(tmp_path, "notes.json", NEWS_TEXT))
    assert text_doc.title == "Floods displace thousands in river delta"


def test_json_article_with_html_body_authors_and_escapes(tmp_path):
    record = {
        "headline": "Talks resume &#8211; with caveats",
        "body": "<p>Negotiators met again on Friday in Geneva for the first time since the "
                "spring, diplomats said.</p>\n<p>Both sides called the meeting &quot;useful&quot;"
                " but warned that a deal was still months away.</p>",
        "link": "https://www.rfa.org/english/news/talks-01022020.html",
        "datePublished": "Fri, 31 Jan 2020 10:00:00 +0000",
        "authors": [{"name": "Ann Lee"}, {"name": "Bo Kim"}],
    }
    raw = json.dumps(record).replace("/", "\\/")  # as WordPress writes it
    doc = doc_of(tmp_path, write(tmp_path, "talks.json", raw))
    assert doc.title == "Talks resume – with caveats"
    assert doc.url == "https://www.rfa.org/english/news/talks-01022020.html"
    # no publisher field: the URL's registered domain (tldextract), no list of known sites
    assert (doc.published, doc.author, doc.publisher) == ("2020-01-31", "Ann Lee, Bo Kim", "rfa.org")
    assert paragraphs(doc.text) == [
        "Negotiators met again on Friday in Geneva for the first time since the spring, "
        "diplomats said.",
        'Both sides called the meeting "useful" but warned that a deal was still months away.']


def test_wordpress_post_with_rendered_fields(tmp_path):
    post = {"id": 7, "date": "2019-05-02T09:00:00", "link": "https://www.asiapress.org/p/7/",
            "title": {"rendered": "Rice prices climb in Pyongyang markets"},
            "content": {"rendered": "<p>Rice prices in Pyongyang rose by a third in April, "
                                    "according to reporting partners in the capital.</p>\n"
                                    "<p>Corn prices rose too, but more slowly, partners said "
                                    "at the end of the month.</p>"}}
    doc = doc_of(tmp_path, write(tmp_path, "wp.json", json.dumps(post)))
    assert (doc.title, doc.published, doc.publisher) == (
        "Rice prices climb in Pyongyang markets", "2019-05-02", "asiapress.org")
    assert len(paragraphs(doc.text)) == 2 and doc.warnings == []


def test_json_list_of_articles_gives_one_document_per_record(tmp_path):
    body = "The council approved the budget on Monday after a debate that lasted six hours."
    records = [{"id": "a1", "title": "Budget passes", "text": body},
               {"id": "a2", "title": "Budget passes again", "text": body.replace("Monday", "Tuesday")},
               {"title": "No id here", "text": body.replace("Monday", "Friday")}]
    result = read_file(tmp_path, write(tmp_path, "list.json", json.dumps(records)))
    assert [d.doc_id for d in result.documents] == ["list.json#a1", "list.json#a2", "list.json#3"]
    assert result.documents[1].title == "Budget passes again"


def test_json_object_holding_a_list_of_articles(tmp_path):
    feed = {"source": "https://example.org/feed", "articles": [
        {"title": "First", "body": STORY, "author": "By Ana Ruiz", "source": "Example Wire"},
        {"title": "Second", "body": STORY.replace("Monday", "Friday"), "source": "https://x.org"}]}
    docs = read_file(tmp_path, write(tmp_path, "feed.json", json.dumps(feed))).documents
    assert [(d.doc_id, d.author, d.publisher) for d in docs] == [
        ("feed.json#1", "Ana Ruiz", "Example Wire"), ("feed.json#2", None, None)]


def test_jsonl_bad_line_costs_only_that_line(tmp_path):
    good = '{"id": %d, "title": "Story %d", "content": "This is the body of story number %d, ' \
           'which has more than ten words in it."}'
    lines = [good % (1, 1, 1), '{"id": 2, "title": "Broken", "content": "oops', "",
             good % (3, 3, 3), good % (3, 4, 4)]
    result = read_file(tmp_path, write(tmp_path, "feed/archive.jsonl", "\n".join(lines)))
    assert result.error is None
    assert [d.doc_id for d in result.documents] == [
        "feed/archive.jsonl#1", "feed/archive.jsonl#4", "feed/archive.jsonl#5"]  # id 3 not unique
    assert len(result.warnings) == 1 and result.warnings[0].startswith("line 2 is not valid JSON")


def test_markdown_article(tmp_path):
    md = """---
date: 2020-06-01
author: Lee Min
---
# Markets *reopen* after lockdown

Traders in the **central market** returned on Monday, [officials](https://example.org) said,
after two months in which stalls were closed.

## Prices

- Rice rose by 10 percent over the two months of the lockdown, traders said.
- Fuel was scarce, and its price doubled in some towns near the border, they said.

![a photo](https://example.org/photo.jpg)
Shoppers said they were glad to be back, but worried about `prices` in the coming weeks.
"""
    doc = doc_of(tmp_path, write(tmp_path, "notes/markets.md", md))
    assert (doc.title, doc.published, doc.author) == ("Markets reopen after lockdown", "2020-06-01",
                                                      "Lee Min")
    assert doc.text.startswith("Traders in the central market returned on Monday, officials said, "
                               "after two months")
    assert "\n\nPrices\n\n" in doc.text and "• Rice rose by 10 percent" in doc.text
    for syntax in ("#", "**", "*", "](", "`", "!["):
        assert syntax not in doc.text


# ---------------------------------------------------------------- encodings and bad files

STORY = "Café owners in the old town said on Monday that “business is slowly coming back” after the winter."


@pytest.mark.parametrize("encoding,warned", [("utf-8", False), ("utf-8-sig", False),
                                             ("utf-16", False), ("cp1252", True)])
def test_encodings_decode_readably(tmp_path, encoding, warned):
    doc = doc_of(tmp_path, write(tmp_path, "story.txt", ("Old town\n\n" + STORY).encode(encoding)))
    assert doc.text == STORY
    result = read_file(tmp_path, "story.txt")
    assert bool(result.warnings) == warned
    assert all("Windows-1252" in w for w in result.warnings)


def test_korean_euc_kr_is_decoded_not_mojibake(tmp_path):
    korean = ("북한과 중국 국경에서 밀수가 다시 늘고 있다고 소식통이 전했다. "
              "단속이 완화되면서 무역회사들이 물건을 배로 실어 나르고 있다고 한다.")
    doc = doc_of(tmp_path, write(tmp_path, "korean.txt", korean.encode("euc-kr")))
    assert doc.text == korean
    assert any("Korean" in w for w in read_file(tmp_path, "korean.txt").warnings)


@pytest.mark.parametrize("content,reason", [
    (b"", "empty"), (b"  \n\n\t ", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary"),
    (b"text\x00with\x00nul bytes", "binary"),
    (bytes(range(1, 32)) * 40, "binary"),
])
def test_unreadable_files_are_reported_not_raised(tmp_path, content, reason):
    result = read_file(tmp_path, write(tmp_path, "bad.txt", content))
    assert result.documents == [] and reason in result.error


def test_file_of_only_chrome_has_no_article_text(tmp_path):
    chrome = "Settings\n\n• Facebook share button\n• Twitter share button\n\nTop 10 Stories\n\nX\nCLOSE\n"
    assert read_file(tmp_path, write(tmp_path, "chrome.txt", chrome)).error == "no article text found"


def test_file_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 1000)
    error = read_file(tmp_path, write(tmp_path, "big.txt", STORY * 20)).error
    assert "too large" in error and "limit" in error


def test_permission_denied_is_reported(tmp_path, monkeypatch):
    relpath = write(tmp_path, "locked.txt", STORY)

    def denied(self):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "read_bytes", denied)
    assert "permission denied" in read_file(tmp_path, relpath).error


def test_missing_file_and_folder_are_reported(tmp_path):
    (tmp_path / "folder.txt").mkdir()
    assert "not found" in read_file(tmp_path, "missing.txt").error
    assert read_file(tmp_path, "folder.txt").error


@pytest.mark.parametrize("content", ["[" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000,
                                     '{"title": "x", "content": ' + "[" * 5000])
def test_deeply_nested_json_does_not_escape_as_recursion_error(tmp_path, content):
    result = read_file(tmp_path, write(tmp_path, "deep.json", content))
    assert result.documents == [] and "nested" in result.error


def test_invalid_json_is_reported(tmp_path):
    result = read_file(tmp_path, write(tmp_path, "bad.json", '{"title": "x", "text": nope}'))
    assert "not valid JSON" in result.error


def test_truncated_copies_of_the_samples_never_raise(tmp_path):
    for relpath in SAMPLES:
        data = (CORPUS / relpath).read_bytes()
        for cut in (1, 7, 100, len(data) // 3, len(data) // 2, len(data) - 5):
            result = read_file(tmp_path, write(tmp_path, f"cut/{cut}_{relpath}", data[:cut]))
            assert result.error or result.documents


# ---------------------------------------------------------------- folders and the sidecar

def test_list_files_walks_nested_folders_skips_hidden_and_sidecar_and_refuses_outside_links(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside.txt"
    outside.write_text(STORY)
    for relpath in ("a.txt", "2019/01/b.json", "2019/c.md", ".hidden.txt", ".git/d.txt",
                    SIDECAR_NAME):
        write(corpus, relpath, STORY)
    os.symlink(outside, corpus / "link-out.txt")
    os.symlink(corpus / "a.txt", corpus / "link-in.txt")
    # Links out are listed so that the build reports them, but never read.
    assert list_files(corpus) == ["2019/01/b.json", "2019/c.md", "a.txt", "link-in.txt", "link-out.txt"]
    assert refusal(corpus, "link-in.txt") is None
    assert "outside the corpus" in refusal(corpus, "link-out.txt")
    refused = read_file(corpus, "link-out.txt")
    assert "outside the corpus" in refused.error and not refused.documents


def test_sidecar_overrides_and_fills_metadata(tmp_path):
    shutil.copy(CORPUS / "000_82916424e9c57ef5.txt", tmp_path / "kt.txt")
    write(tmp_path, "feed.jsonl", '{"id": 1, "title": "One", "text": "%s"}\n'
                                  '{"id": 2, "title": "Two", "text": "%s"}' % (STORY, STORY))
    write(tmp_path, SIDECAR_NAME, json.dumps({
        "_comment": "test", "kt.txt": {"title": "Better title", "published": "January 21, 2019"},
        "feed.jsonl": {"publisher": "Feed Co"}, "feed.jsonl#2": {"author": "Kim"}}))
    sidecar, warnings = load_sidecar(tmp_path)
    assert warnings == []
    doc = doc_of(tmp_path, "kt.txt", sidecar)
    assert (doc.title, doc.published, doc.author) == ("Better title", "2019-01-21", "Yi Whan-woo")
    docs = read_file(tmp_path, "feed.jsonl").documents  # the sidecar is loaded when not given
    assert [(d.publisher, d.author) for d in docs] == [("Feed Co", None), ("Feed Co", "Kim")]


@pytest.mark.parametrize("content,expected", [
    ("{not json", "cannot be read"), ("[1, 2]", "must be a JSON object"),
    ('{"a.txt": "title"}', "must be an object"), ('{"a.txt": {"colour": "red"}}', "unknown field"),
    ('{"a.txt": {"published": "soon"}}', "not a date"), ('{"a.txt": {"title": 3}}', "string"),
])
def test_malformed_sidecar_gives_warnings_not_exceptions(tmp_path, content, expected):
    write(tmp_path, SIDECAR_NAME, content)
    entries, warnings = load_sidecar(tmp_path)
    assert len(warnings) == 1 and expected in warnings[0]
    assert entries.get("a.txt", {}) == {}


def test_no_sidecar_is_fine(tmp_path):
    assert load_sidecar(tmp_path) == ({}, [])


def test_a_callers_sidecar_sets_only_metadata_fields(tmp_path):
    relpath = write(tmp_path, "a.txt", "Old town\n\n" + STORY)
    doc = doc_of(tmp_path, relpath, {"a.txt": {"title": "Given", "doc_id": "other", "text": "x"}})
    assert (doc.doc_id, doc.title, doc.text) == ("a.txt", "Given", STORY)


# ---------------------------------------------------------------- the pieces

def test_tolerant_json_closes_what_was_open_at_the_cut():
    value, note = ingest.load_json('{"a": [1, {"b": "x\ny"}], "c": "cut off he', 40)
    assert value == {"a": [1, {"b": "x\ny"}], "c": "cut off he"}
    assert note == "JSON was cut off at byte 40"
    assert ingest.load_json('{"a": "\\ud83d\\ude00", "b": [1, 2', 9)[0] == {"a": "😀", "b": [1]}
    assert ingest.load_json('[true, 2.5e', 9)[0] == [True]  # a number at the cut may be partial
    assert ingest.load_json('{"a": "\\q\t"}', 9) == ({"a": "q\t"}, "JSON was malformed; read it leniently")
    assert ingest.load_json('{"a": 1}', 8) == ({"a": 1}, None)
    for broken in ('{"a": 1 "b": 2}', '{"a": nope}', '{"a": 1} x', "[1,, 2]"):
        with pytest.raises(ValueError):
            ingest.load_json(broken, 15)


@pytest.mark.parametrize("value,expected", [
    ("2020-04-30T10:51:33", "2020-04-30"), ("Mon, 21 Jan 2019 10:00:00 +0900", "2019-01-21"),
    ("Jan. 21, 2019", "2019-01-21"), ("21 September 2018", "2018-09-21"),
    ("2019년 1월 21일", "2019-01-21"), (1556668800, "2019-05-01"), ("May 2019", None),
    ("2019-02-30", None), ("", None), (None, None),
])
def test_parse_date(value, expected):
    assert clean.parse_date(value) == expected


def test_classify_blocks():
    assert clean.classify("Home | World | Sport") == clean.BAD  # a share-button run: tests/test_clean.py
    assert clean.classify("Next page : Rigorous inspections of visiting civilians’ luggage…") == clean.BAD
    assert clean.classify("Hopes for eased sanctions") == clean.SHORT
    assert clean.classify("The council approved the budget on Monday after a long debate.") == clean.GOOD


def test_a_brief_keeps_only_lines_that_end_like_sentences():
    doc = clean.clean_article("Markets closed early\n\nThe exchange shut at noon.\n\n"
                              "Traders went home\n\nPrices rose, “slightly.”")
    assert (doc.title, paragraphs(doc.text)) == (
        "Markets closed early", ["The exchange shut at noon.", "Prices rose, “slightly.”"])


def test_readers_give_each_document_its_id_inside_the_file():
    lines = '{"id": "x", "title": "A", "text": "%s"}\n{"title": "B", "text": "%s"}' % (STORY, STORY)
    assert [d.doc_id for d in formats.parse_text(lines, ".jsonl", len(lines), [])] == ["#x", "#2"]
    assert [d.doc_id for d in formats.parse_text(STORY, ".txt", len(STORY), [])] == [""]


def test_ingest_version_is_an_int():
    assert isinstance(INGEST_VERSION, int) and INGEST_VERSION >= 1
