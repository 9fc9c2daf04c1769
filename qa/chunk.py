"""Chunking: a document's cleaned text cut into spans that fit the model's window.

LangChain's recursive splitter chooses the boundaries (paragraphs, then lines, then
sentences, then words); the offsets are ours. ``add_start_index`` in LangChain guesses a
chunk's start with ``str.find`` from the previous start, which lands on the wrong copy when
text repeats, so each chunk is located here from the position the splitter must have
reached, and every chunk satisfies ``document.text[start:end] == chunk.text``.

What the model reads of a chunk is ``model_text``: its headline (cut by ``title_prefix``) in
front, and the chunk's sentence spans moved along. Every producer of vectors (the local build,
the Ray workers, the benchmarks) goes through it, so they embed the same text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .answer import sentences
from .types import Chunk, Document

# Paragraph, line, sentence, clause, word, character: the recursive splitter tries them in order.
SEPARATORS = ["\n\n", "\n", r"(?<=[.!?。])\s+", r"(?<=[;:])\s+", r"(?<=,)\s+", r"\s+", ""]

# Room the embedded text leaves for the headline in front of the chunk, in word pieces.
TITLE_TOKENS = 40


class Chunker:
    """Splits documents into token-bounded, overlapping chunks with exact offsets.

    Args:
        count_tokens: the model tokenizer's word-piece count of a string (no special tokens).
        chunk_tokens: the most word pieces a chunk may hold.
        overlap_tokens: how many word pieces neighbouring chunks may share.
    """

    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int = 200,
                 overlap_tokens: int = 40) -> None:
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError("chunk overlap must be smaller than the chunk size")
        self.count_tokens = count_tokens
        # Separators kept at the end of the piece they close: a chunk ends with its full stop.
        self.splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_tokens, chunk_overlap=overlap_tokens, length_function=count_tokens,
            separators=SEPARATORS, is_separator_regex=True, keep_separator="end", strip_whitespace=True)

    def split(self, doc: Document) -> list[Chunk]:
        return list(locate_chunks(doc.doc_id, doc.text, self.splitter.split_text(doc.text)))

    def split_many(self, docs: Iterable[Document]) -> list[Chunk]:
        return [chunk for doc in docs for chunk in self.split(doc)]


def locate_chunks(doc_id: str, text: str, pieces: list[str]) -> Iterable[Chunk]:
    """Give each piece its offsets in ``text``, in order, never moving backwards.

    A piece starts at or after the previous piece's start (overlap) and, since the
    splitter moves forward, not before it. Among the copies of a repeated piece the first
    one after the previous start is the one the splitter took.
    """
    last_start = -1
    for piece in pieces:
        if not piece:
            continue
        start = text.find(piece, last_start + 1)
        if start < 0:  # cannot happen when the splitter returns substrings; never guess
            raise ValueError(f"chunk not found in its document {doc_id!r}")
        yield Chunk(doc_id=doc_id, start=start, end=start + len(piece), text=piece)
        last_start = start


def title_prefix(truncate: Callable[[str, int], str], title: str) -> str:
    """The part of a headline the model reads in front of each chunk of its article.

    Args:
        truncate: the model tokenizer's cut of a string to at most N word pieces.
    """
    return truncate(title, TITLE_TOKENS) if title else ""


@dataclass(frozen=True)
class ModelText:
    """A chunk as the model reads it.

    Attributes:
        text: the headline prefix, a new line, the chunk (the chunk alone without a headline).
        spans: the chunk's sentences, as offsets in the chunk's text.
        text_spans: the same sentences as offsets in ``text`` (the spans the encoder pools).
    """

    text: str
    spans: list[tuple[int, int]]
    text_spans: list[tuple[int, int]]


def model_text(head: str, chunk_text: str) -> ModelText:
    """``chunk_text`` with ``head`` (a ``title_prefix``) in front, and its sentence spans."""
    spans = sentences(chunk_text)
    if not head:
        return ModelText(chunk_text, spans, spans)
    shift = len(head) + 1
    return ModelText(f"{head}\n{chunk_text}", spans, [(s + shift, e + shift) for s, e in spans])
