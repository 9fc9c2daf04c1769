"""The question-set format (DESIGN.md, "Question set format"): one checked ``Question`` per
JSON line, and a ``QuestionFileError`` naming the file and line of the first malformed one."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class QuestionFileError(ValueError):
    """A question file that does not follow the format; the message names file and line."""


@dataclass(frozen=True)
class Question:
    """One line of a question file (DESIGN.md, "Question set format")."""

    id: str
    question: str
    gold_doc_ids: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    type: str = "answerable"
    line: int = 0
    as_of: str | None = None  # the day the question was asked, YYYY-MM-DD (None: today)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @property
    def follow_up(self) -> bool:
        return bool(self.history)


def _string_list(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise QuestionFileError(f'{where}: "{key}" must be a list of strings, got {value!r}')
    return tuple(value)


def parse_question(line: str, where: str, number: int) -> Question:
    """One JSON line as a Question; QuestionFileError says what is wrong at ``where``."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QuestionFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise QuestionFileError(f"{where}: expected a JSON object, got {type(data).__name__}")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionFileError(f'{where}: "question" is missing or not a non-empty string')
    qid = data.get("id", f"line{number}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise QuestionFileError(f'{where}: "id" must be a string, got {qid!r}')
    qtype = data.get("type", "answerable")
    if not isinstance(qtype, str):
        raise QuestionFileError(f'{where}: "type" must be a string, got {qtype!r}')
    gold = _string_list(data, "gold_doc_ids", where)
    if qtype == "unanswerable" and gold:
        raise QuestionFileError(f'{where}: an "unanswerable" question cannot have gold_doc_ids')
    if qtype != "unanswerable" and not gold:
        raise QuestionFileError(
            f'{where}: "gold_doc_ids" is empty; list the gold documents, or mark the question '
            f'"type": "unanswerable"'
        )
    as_of = data.get("as_of")
    if as_of is not None:
        from .timewords import as_of_day

        try:
            as_of_day(as_of)
        except ValueError:
            raise QuestionFileError(f'{where}: "as_of" must be a day written YYYY-MM-DD, got {as_of!r}') from None
    return Question(
        id=str(qid), question=question, gold_doc_ids=gold,
        answers=_string_list(data, "answers", where),
        history=_string_list(data, "history", where),
        type=qtype, line=number, as_of=as_of,
    )


def load_questions(path: str | Path) -> list[Question]:
    """Read and check a JSON Lines question file; blank lines are skipped.

    Raises:
        QuestionFileError: naming the file and line of the first malformed question.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(f"{path}: cannot read the question file ({exc})") from None
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        q = parse_question(line, where, number)
        if q.id in seen:
            raise QuestionFileError(f'{where}: id "{q.id}" already used on line {seen[q.id]}')
        seen[q.id] = number
        questions.append(q)
    if not questions:
        raise QuestionFileError(f"{path}: no questions in the file")
    return questions
