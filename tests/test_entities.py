"""Named entities (``qa.entities``): found by the build with the real spaCy model, kept in the
documents table, carried over by incremental builds, read by the quote selector; an index
without them (built before they were kept, or with a damaged cell) still answers."""
from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from engine_fixtures import change_corpus, copy_corpus
from qa import Engine, answertype, entities, quote
from qa.build import build
from qa.settings import Settings
from qa.store import DocumentStore


def _docs(index):
    (gen,) = sorted(index.glob("gen-*"))[-1:]
    return DocumentStore(gen / "docs.sqlite"), gen / "docs.sqlite"


def test_the_recogniser_is_installed_and_finds_people_places_dates_and_amounts():
    assert entities.available() is None, entities.available()
    assert entities.version().endswith("3.8.0")
    text = ("Kim Jong Un met Xi Jinping in Beijing on March 26, 2018. "
            "Trade through Dandong fell by 40 percent, to $1.2 billion.")
    (found,) = entities.find([text])
    labels = {text[s:e]: label for s, e, label in found}
    assert labels.get("Kim Jong Un") == "PERSON" and labels.get("Xi Jinping") == "PERSON"
    assert labels.get("Beijing") == "GPE" and labels.get("Dandong") == "GPE"
    assert "2018" in next(t for t, lab in labels.items() if lab == "DATE")
    assert any(lab == "MONEY" for lab in labels.values()) and any(lab == "PERCENT" for lab in labels.values())


def test_a_long_article_is_read_in_pieces_whose_offsets_are_the_articles(monkeypatch):
    paragraph = "Officials in Hunchun said on Monday that Choi Min-ho crossed the Tumen River. "
    text = "\n\n".join(paragraph * 3 for _ in range(12))
    whole = entities.find([text])[0]
    monkeypatch.setattr(entities, "PIECE", 500)  # spaCy's own limit is 1,000,000 characters
    cut = entities.pieces(text)
    assert len(cut) > 1 and cut[0][0] == 0 and cut[-1][1] == len(text)
    assert all(b - a <= 500 for a, b in cut) and all(cut[i][1] == cut[i + 1][0] for i in range(len(cut) - 1))
    assert all(text[a - 2:a] == "\n\n" for a, _ in cut[1:])  # at paragraph breaks
    pieced = entities.find([text])[0]
    assert pieced == whole  # the same spans, at the article's own offsets
    assert {text[s:e] for s, e, label in pieced if label == "PERSON"} >= {"Choi Min-ho"}


def test_pieces_cut_a_paragraph_without_breaks_at_white_space():
    text = "word " * 300
    cut = entities.pieces(text, 100)
    assert all(b - a <= 100 for a, b in cut) and "".join(text[a:b] for a, b in cut) == text
    assert all(text[b - 1] == " " for _, b in cut[:-1])


def test_the_build_keeps_each_articles_entities_and_the_engine_reads_them(sample_index, sample_engine):
    store, _ = _docs(sample_index)
    assert store.has_entities
    for pos, meta in enumerate(store.meta):
        found = store.entities(pos)
        text = store.texts([pos])[pos]
        assert found, meta.doc_id
        assert all(0 <= s < e <= len(text) and label in entities.LABELS for s, e, label in found)
        assert found == entities.find([text])[0]
    labels = {label for pos in range(len(store.meta)) for _, _, label in store.entities(pos)}
    assert {"PERSON", "GPE", "ORG", "DATE"} <= labels


def test_an_index_without_entities_still_answers_with_pattern_answer_kinds(tmp_path, sample_index, encoder):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    store, path = _docs(index)
    store.close()
    con = sqlite3.connect(path)
    with con:
        con.execute("ALTER TABLE docs DROP COLUMN entities")  # as built before entities were kept
    con.close()
    engine = Engine.open(index)
    engine._encoder = encoder
    assert not engine.docs.has_entities and engine.docs.entities(0) is None
    answer = engine.ask("Who is Mr. Kim?")
    assert answer.passages and answer.passages[0].highlight[1] > answer.passages[0].highlight[0]


def test_a_damaged_entities_cell_costs_the_quote_its_entities_not_the_answer(tmp_path, sample_index, encoder):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    _, path = _docs(index)
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE docs SET entities = '[[1, 2' ")  # cut off
    con.close()
    engine = Engine.open(index)
    engine._encoder = encoder
    assert engine.docs.has_entities and engine.docs.entities(0) is None
    assert engine.ask("Who is Mr. Kim?").passages


def test_an_incremental_build_keeps_kept_articles_entities_and_finds_the_missing_ones(tmp_path, encoder):
    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    settings = Settings(corpus=str(corpus), index=str(index))
    build(settings, progress=False, log=lambda m: None, encoder=encoder)
    store, path = _docs(index)
    before = {m.doc_id: store.entities(i) for i, m in enumerate(store.meta)}
    store.close()
    con = sqlite3.connect(path)
    with con:  # one kept article lost its entities: the next build finds them again
        con.execute("UPDATE docs SET entities = NULL WHERE doc_id = '000_82916424e9c57ef5.txt'")
    con.close()
    change_corpus(corpus, "001_28f2545c660e1931.txt")
    report = build(settings, progress=False, log=lambda m: None, encoder=encoder)
    assert report.entities.endswith("3.8.0")
    store, _ = _docs(index)
    after = {m.doc_id: store.entities(i) for i, m in enumerate(store.meta)}
    assert after["000_82916424e9c57ef5.txt"] == before["000_82916424e9c57ef5.txt"]
    assert after["002_b64ff41df4f991e9.txt"] == before["002_b64ff41df4f991e9.txt"]  # kept as it was
    ferry = store.position["nested/new.md"]
    text = store.texts([ferry])[ferry]
    assert {text[s:e] for s, e, _ in after["nested/new.md"]} >= {"Hunchun", "Monday"}
    assert all(v is not None for v in after.values())


def test_entity_answer_kinds_count_the_right_labels_and_not_the_questions_own_words():
    exclude = answertype.question_words("Who did Kim Jong Un meet in Beijing?")
    assert answertype.entity_score("person", [("Kim Jong Un", "PERSON")], exclude) == 0.0
    assert answertype.entity_score("person", [("Kim Jong Un", "PERSON"), ("Xi Jinping", "PERSON")], exclude) == 1.0
    assert answertype.entity_score("person", [("the Chinese", "NORP")], exclude) == 0.5
    assert answertype.entity_score("date", [("Xi Jinping", "PERSON")], exclude) == 0.0
    assert answertype.entity_score("amount", [("$1.2 billion", "MONEY")]) == 1.0
    assert answertype.entity_score(None, [("$1.2 billion", "MONEY")]) == 0.0
    with pytest.raises(ValueError, match="unknown answer kind"):
        answertype.entity_score("colour", [])


def test_the_quote_reads_a_sentences_answer_kind_from_its_entities_when_the_build_found_them():
    text = "The talks ended late. They met a man called Wang Yi."
    spans = [(0, 21), (22, len(text))]
    q = quote.Question("Who did the envoy meet?")
    base = dict(doc_text=text, spans=spans, cosines=np.array([0.5, 0.5]), bm25=np.array([1.0, 1.0]),
                best_bm25=1.0, start=0, end=len(text))
    col = quote.FEATURES.index("answer_type")
    with_entities = quote.features(q, quote.Passage(**base, entities=[(44, 51, "PERSON")]))
    assert list(with_entities[:, col]) == [0.0, 1.0]
    none_found = quote.features(q, quote.Passage(**base, entities=[]))
    assert list(none_found[:, col]) == [0.0, 0.0]  # the recogniser found no one: no pattern guess
    patterns = quote.features(q, quote.Passage(**base))  # no entities kept: the patterns say
    assert patterns[1, col] == answertype.score("person", text[22:], q.exclude) > 0
    # the neighbours' column and the product keep the patterns either way
    for name in ("answer_type_window", "type_and_coverage"):
        c = quote.FEATURES.index(name)
        assert np.array_equal(with_entities[:, c], patterns[:, c])


def test_an_index_built_before_entities_were_kept_is_not_up_to_date_and_a_build_adds_them(tmp_path, encoder):
    import json

    from qa.changes import up_to_date

    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    settings = Settings(corpus=str(corpus), index=str(index))
    build(settings, progress=False, log=lambda m: None, encoder=encoder)
    assert up_to_date(settings)
    store, path = _docs(index)
    store.close()
    con = sqlite3.connect(path)
    with con:
        con.execute("ALTER TABLE docs DROP COLUMN entities")
    con.close()
    manifest = json.loads((index / "manifest.json").read_text())
    del manifest["entities"]
    (index / "manifest.json").write_text(json.dumps(manifest))
    assert not up_to_date(settings)  # serve.py builds before it serves
    report = build(settings, progress=False, log=lambda m: None, encoder=encoder)
    assert report.embedded_chunks == 0 and report.entity_seconds > 0  # nothing embedded again
    store, _ = _docs(index)
    assert all(store.entities(pos) for pos in range(len(store.meta)))
    assert up_to_date(settings)
