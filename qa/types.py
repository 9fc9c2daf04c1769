"""The vocabulary of the project: the dataclasses every stage hands to the next.

Documents come out of ingestion, Chunks out of chunking, Passages and Answers out of the
engine. The UI, the API and the evaluation all speak in these types. Ingestion's readers fill
one Document per article from the first step on (``Unusable`` is how they give up on a file).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Document:
    """One cleaned article: what a citation points into.

    ``doc_id`` is the file's path relative to the corpus root, with ``#key`` appended for
    one record of a multi-record file. ``published`` is an ISO date (``YYYY-MM-DD``).
    ``warnings`` says what ingestion had to salvage or guess. ``credits`` holds the (start, end)
    offsets in ``text`` of its credit lines (bylines, "Reported by / Translated by" lines, photo
    credits, notes about the reporter: ``qa.credits``); ``translator`` is read from them.
    ``entities``: its named entities, found when it is built (``qa.entities``).
    """

    doc_id: str
    text: str
    title: str = ""
    url: str | None = None
    published: str | None = None
    author: str | None = None
    publisher: str | None = None
    warnings: list[str] = field(default_factory=list)
    credits: list[tuple[int, int]] = field(default_factory=list)
    translator: str | None = None
    # Named entities (start, end, label) in ``text``, found by the build (``qa.entities``);
    # None when none were looked for (no recogniser, or an index built before they were kept).
    entities: list[tuple[int, int, str]] | None = None

    @property
    def source(self) -> str:
        """The corpus file this document came from."""
        return self.doc_id.split("#", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Unusable(Exception):
    """Raised inside ingestion for a file that yields no document; the message says why."""


@dataclass
class FileResult:
    """What ingestion made of one corpus file: its documents, or why it yielded none."""

    path: str
    documents: list[Document] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Chunk:
    """A span of a document's cleaned text: ``document.text[start:end] == text``."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass
class Passage:
    """One answer passage with its citation.

    ``start``/``end`` are offsets of ``text`` in the cleaned document text;
    ``highlight`` holds offsets inside ``text`` of the sentence that best answers.
    """

    text: str
    score: float
    doc_id: str
    title: str
    url: str | None
    published: str | None
    start: int
    end: int
    highlight: tuple[int, int]
    publisher: str | None = None
    author: str | None = None

    @property
    def highlighted_sentence(self) -> str:
        return self.text[self.highlight[0]:self.highlight[1]]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["highlight"] = list(self.highlight)
        return data


@dataclass
class Answer:
    """The engine's reply: ranked passages, best first, and whether it abstained."""

    question: str
    passages: list[Passage]
    abstained: bool
    mode: str
    query: str = ""
    seconds: float = 0.0
    confidence: float = 0.0  # semantic closeness of the best shown passage; below a threshold: abstain
    history_used: list[str] = field(default_factory=list)  # the earlier questions searched with it
    timeline: bool = False  # passages are one per article, ordered by the article's date
    undated_searched: int | None = None  # under a date filter: how many undated articles were searched
    # The chance that the shown passages hold the answer (qa/abstain.py; None without a model),
    # and, when the engine abstained, why, in words from the archive's side.
    answer_probability: float | None = None
    abstain_reason: str = ""
    evidence: Any = field(default=None, repr=False, compare=False)  # qa.abstain.Evidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query,
            "mode": self.mode,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "seconds": round(self.seconds, 4),
            "passages": [p.to_dict() for p in self.passages],
            "history_used": list(self.history_used),
            "timeline": self.timeline,
            "undated_searched": self.undated_searched,
            "answer_probability": None if self.answer_probability is None else round(self.answer_probability, 4),
            "abstain_reason": self.abstain_reason,
        }


@dataclass
class BuildReport:
    """What a build did: files added, changed, removed, unchanged, failed; chunk counts."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    documents: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    entity_seconds: float = 0.0  # finding the new articles' named entities (qa.entities)
    entities: str | None = None  # the recogniser's name and version, or why there was none
    rebuilt_reason: str | None = None
    recleaned: list[str] = field(default_factory=list)  # unchanged files cleaned again: their share of the corpus's recurring lines changed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed, "
            f"{len(self.warnings)} with warnings",
            f"{self.documents} documents, {self.chunks} chunks "
            f"({self.embedded_chunks} embedded in {self.embed_seconds:.1f}s), "
            f"named entities in {self.entity_seconds:.1f}s, "
            f"{self.seconds:.1f}s in all",
        ]
        if self.recleaned:
            lines.insert(1, f"{len(self.recleaned)} unchanged files cleaned again (lines recurring across "
                            "the corpus changed)")
        if self.rebuilt_reason:
            lines.insert(0, f"full rebuild: {self.rebuilt_reason}")
        for path, reason in sorted(self.failed.items()):
            lines.append(f"  failed  {path}: {reason}")
        for path, warns in sorted(self.warnings.items()):
            for w in warns:
                lines.append(f"  warning {path}: {w}")
        return "\n".join(lines)
