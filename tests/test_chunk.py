"""Chunking: exact offsets (repeats and overlaps included) and chunks that fit the model."""
from __future__ import annotations

import pytest
from engine_fixtures import encoder, sample_documents  # noqa: F401

from qa.chunk import Chunker, locate_chunks, model_text, title_prefix
from qa.types import Document


def test_locate_chunks_finds_repeated_text_in_order():
    text = "Same line.\n\nSame line.\n\nSame line.\n\nOther."
    pieces = ["Same line.", "Same line.", "Same line.", "Other."]
    chunks = list(locate_chunks("d", text, pieces))
    assert [c.start for c in chunks] == [0, 12, 24, 36]
    for c in chunks:
        assert text[c.start:c.end] == c.text


def test_locate_chunks_handles_overlap():
    text = "alpha beta gamma delta epsilon"
    chunks = list(locate_chunks("d", text, ["alpha beta gamma", "gamma delta epsilon"]))
    assert (chunks[1].start, chunks[1].end) == (11, len(text))


def word_count(text: str) -> int:
    return len(text.split())


def test_chunks_respect_size_and_paragraphs_with_a_simple_counter():
    paragraphs = [" ".join(f"w{p}_{i}" for i in range(30)) + "." for p in range(6)]
    doc = Document("d", "\n\n".join(paragraphs))
    chunks = Chunker(word_count, chunk_tokens=70, overlap_tokens=10).split(doc)
    assert len(chunks) >= 3
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert word_count(c.text) <= 70


@pytest.mark.model
def test_no_chunk_of_the_sample_corpus_is_truncated(encoder, sample_documents):
    """Headline + chunk, as embedded, must fit the model's window (256 with [CLS] and [SEP])."""
    chunker = Chunker(encoder.count_tokens, 200, 40)
    worst = 0
    for doc in sample_documents:
        head = title_prefix(encoder.truncate, doc.title)
        for c in chunker.split(doc):
            assert doc.text[c.start:c.end] == c.text
            worst = max(worst, encoder.count_tokens(model_text(head, c.text).text) + 2)
    assert 0 < worst <= encoder.max_tokens


@pytest.mark.model
def test_repeated_paragraphs_keep_exact_offsets(encoder):
    para = "The border guards inspected every truck that crossed the bridge at night. " * 6
    text = "\n\n".join([para.strip()] * 5 + ["A closing line."])
    doc = Document("r", text)
    chunks = Chunker(encoder.count_tokens, 60, 15).split(doc)
    assert len(chunks) > 5
    starts = [c.start for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for c in chunks:
        assert text[c.start:c.end] == c.text


def test_model_text_puts_the_headline_in_front_and_moves_the_sentences_with_it():
    chunk = "Coal barges crossed the river. Seafood went through Dandong! A third sentence"
    head = title_prefix(lambda text, n: " ".join(text.split()[:n]), "Exports after the fourth trip")
    seen = model_text(head, chunk)
    assert seen.text == f"{head}\n{chunk}" and seen.text.endswith(chunk)
    assert len(seen.spans) == len(seen.text_spans) == 3
    for (s, e), (ts, te) in zip(seen.spans, seen.text_spans):
        assert seen.text[ts:te] == chunk[s:e]
    assert [chunk[s:e] for s, e in seen.spans][1] == "Seafood went through Dandong!"
    alone = model_text(title_prefix(lambda text, n: text, ""), chunk)
    assert alone.text == chunk and alone.text_spans == alone.spans == seen.spans
