"""Cleaning by general signals (issue 16): lines recurring across the corpus's files (a site's
chrome), runs of link-like lines, blocks far from the article; incremental builds clean as fresh
ones do."""
from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import encoder  # noqa: F401

from qa import clean
from qa.build import build
from qa.changes import read_line_keys, recurring_lines
from qa.settings import Settings
from qa.store import DocumentStore, generation_dir, read_manifest

PITCH = "Sign up for our morning briefing and get the day's top stories in your inbox every day."
FOOTER = "Harbour Gazette"
CREDIT = "Written in English by Ana Ruiz."
STORIES = {
    "a.txt": ("Ferries return to the islands",
              ["The first ferries in a week left the harbour on Tuesday after the storms eased, and "
               "the port authority said all routes would run by the weekend.",
               "Islanders had been without fresh food deliveries since the previous Monday, the mayor said."]),
    "b.txt": ("Fishing fleet counts storm losses",
              ["Owners of the fishing fleet said on Wednesday that the storms had cost them most of the "
               "season's catch, and asked the regional government for help.",
               "Three boats sank at their moorings and a dozen more were damaged, they said."]),
    "c.txt": ("New sea wall approved for the old town",
              ["The council approved a new sea wall for the old town on Thursday, two weeks after the "
               "storms flooded its lower streets for the second time this year.",
               "Work will start in the spring and take about eighteen months, the council said."]),
    "d.txt": ("Lighthouse to reopen to visitors",
              ["The lighthouse on the north cape will reopen to visitors in June after repairs to its "
               "stairs, the heritage trust said on Friday.",
               "Tickets will go on sale next month, with school groups admitted free of charge."]),
}


def page(name: str) -> str:
    """One page of the same site: its menu word, the story, its pitch and footer, a credit."""
    title, paragraphs = STORIES[name]
    return "\n\n".join([FOOTER, title, paragraphs[0], "Advertisement", paragraphs[1], PITCH, CREDIT, FOOTER])


def write(corpus: Path, names: list[str]) -> None:
    corpus.mkdir(exist_ok=True)
    for old in corpus.iterdir():
        if old.name not in names:
            old.unlink()
    for name in names:
        (corpus / name).write_text(page(name), encoding="utf-8")


def texts(index: Path) -> dict[str, str]:
    manifest = read_manifest(index)
    docs = DocumentStore(generation_dir(index, manifest) / "docs.sqlite")
    try:
        return {m.doc_id: docs.document(i).text for i, m in enumerate(docs.meta)}
    finally:
        docs.close()


def run(corpus: Path, index: Path, encoder):
    return build(Settings(corpus=str(corpus), index=str(index)), progress=False, log=lambda m: None,
                 encoder=encoder)


def test_recurring_lines_go_credits_and_stories_stay():
    text = page("a.txt")
    keys = {clean.line_key(x) for x in (PITCH, FOOTER, "Advertisement", CREDIT)}
    with clean.recurring(keys):
        doc = clean.clean_article(text)
    assert doc.title == "Ferries return to the islands"
    assert PITCH not in doc.text and "Advertisement" not in doc.text and FOOTER not in doc.text
    assert doc.text.endswith(CREDIT) and STORIES["a.txt"][1][1] in doc.text  # a credit never is chrome
    alone = clean.clean_article(text)  # without the corpus, one page keeps its pitch
    assert PITCH in alone.text


def test_a_page_that_is_mostly_recurring_is_a_copy_not_chrome():
    text = page("a.txt")
    keys = {clean.line_key(x) for x in STORIES["a.txt"][1]}
    with clean.recurring(keys):
        doc = clean.clean_article(text)
    assert all(p in doc.text for p in STORIES["a.txt"][1])


def test_line_keys_fold_case_punctuation_and_digits():
    assert clean.line_key("© 2021 Harbour Gazette.") == clean.line_key("© 2024 harbour gazette")
    assert clean.line_key("Harbour Gazette") != clean.line_key("Harbour Times")


def test_recurring_means_three_distinct_files():
    entries = {"a": {"hash": "1", "keys": ["x", "y"]}, "b": {"hash": "2", "keys": ["x", "y"]},
               "a copy": {"hash": "1", "keys": ["x", "y"]}, "c": {"hash": "3", "keys": ["x"]}}
    assert recurring_lines(entries) == {"x"}


@pytest.mark.model
def test_incremental_builds_clean_as_fresh_builds_when_chrome_appears_and_goes(tmp_path, encoder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, ["a.txt", "b.txt"])  # two pages: nothing recurs in three files yet
    run(corpus, index, encoder)
    assert all(PITCH in t for t in texts(index).values())
    assert len(read_line_keys(generation_dir(index, read_manifest(index)))) == 2

    write(corpus, ["a.txt", "b.txt", "c.txt"])  # a third page: the pitch is the site's chrome now
    report = run(corpus, index, encoder)
    assert (report.added, report.recleaned) == (["c.txt"], ["a.txt", "b.txt"])
    incremental = texts(index)
    assert all(PITCH not in t and FOOTER not in t and "Advertisement" not in t and t.endswith(CREDIT)
               for t in incremental.values())
    run(corpus, tmp_path / "fresh", encoder)
    assert texts(tmp_path / "fresh") == incremental

    write(corpus, ["a.txt", "b.txt", "c.txt", "d.txt"])  # a fourth: the others' chrome is unchanged
    report = run(corpus, index, encoder)
    assert (report.added, report.recleaned, sorted(report.unchanged)) == (["d.txt"], [], ["a.txt", "b.txt", "c.txt"])

    write(corpus, ["a.txt", "d.txt"])  # two removed: nothing recurs in three files any more
    report = run(corpus, index, encoder)
    assert report.removed == ["b.txt", "c.txt"] and report.recleaned == ["a.txt", "d.txt"]
    incremental = texts(index)
    assert all(PITCH in t for t in incremental.values())
    run(corpus, tmp_path / "fresh2", encoder)
    assert texts(tmp_path / "fresh2") == incremental


@pytest.mark.model
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
def test_a_build_on_ray_cleans_recurring_chrome_as_the_local_build(tmp_path, encoder):
    ray = pytest.importorskip("ray")
    from qa.distributed import RayOptions

    corpus = tmp_path / "corpus"
    write(corpus, ["a.txt", "b.txt", "c.txt"])
    run(corpus, tmp_path / "local", encoder)
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level="ERROR", log_to_driver=False)
    try:
        build(Settings(corpus=str(corpus), index=str(tmp_path / "ray")), progress=False, log=lambda m: None,
              encoder=encoder, ray=RayOptions(address=ray.get_runtime_context().gcs_address, workers=1))
    finally:
        ray.shutdown()
    on_ray = texts(tmp_path / "ray")
    assert on_ray == texts(tmp_path / "local")
    assert all(PITCH not in t and t.endswith(CREDIT) for t in on_ray.values())
    assert read_manifest(tmp_path / "ray")["files"] == read_manifest(tmp_path / "local")["files"]
