"""The evaluation: metrics against a case worked on paper, the question file format, the
shipped question set, and (marked ``model``) a quality gate on the sample corpus."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from qa import evaluate as ev
from qa.types import Answer, Passage

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "tests" / "data" / "news_questions.jsonl"
CORPUS = ROOT / "corpus"

# Regression guard for the shipped set on the sample corpus: (mode, "all" | "follow_ups") ->
# metric -> floor. Measured on main at cf66f11 (qa eval tests/data/news_questions.jsonl --mode all):
#               Hit@1  Hit@5  MRR@10 nDCG@10 AR@1   AR@5   abstain acc  false abstain
#   dense       0.862  1.000  0.922  0.940   0.614  0.877  0.364 (4/11) 0.017 (1/58)
#   bm25        0.948  1.000  0.968  0.975   0.877  0.947  0.273 (3/11) 0.000
#   hybrid      0.983  1.000  0.989  0.991   0.877  0.982  0.273 (3/11) 0.000
#   hybrid follow-ups (8 answerable, 7 with answers): Hit@1 1.000, AR@1 0.857, AR@5 1.000
# Each floor sits just under its figure, by less than one question: one question moves Hit@1 by
# 0.017 (58 answerable), AnswerRecall by 0.018 (57 with answers), MRR@10 by at least 0.0086 (a
# gold article from first to second), abstention by 0.091 (11 unanswerable), a follow-up figure
# by 0.125 or more; so any question lost fails the gate. Abstention follows the engine's threshold,
# a deliberate trade (c03b93f lowered it from 0.77 to 0.65 so that squad-dev's answerable
# questions are refused less, 17% -> 4%): a change that moves it moves these floors in the same
# commit, with the figures of the new engine. Raise the floors when the engine gets better.
# Issue 16 (credits kept as article text, chrome by general signals) moved three figures by one
# question each, measured on wt-K (qa eval ... --mode all): hybrid Hit@1 0.983 -> 0.966 and
# MRR@10 0.989 -> 0.980 (f08, a follow-up whose gold chunk led by 0.002 and now trails by 0.001:
# the corpus's sentence statistics changed with the credit lines), hybrid AR@1 0.877 -> 0.860,
# follow-ups Hit@1 1.000 -> 0.875 and AR@1 0.857 -> 0.714 (f08 again); bm25 Hit@1 0.948 -> 0.931,
# AR@1 0.877 -> 0.860. The floors below sit just under the new figures.
# Issue 19 (the quoted sentence chosen by qa.quote): hybrid quote 0.754 (43 of 57 questions with
# answers) and quote|right 0.860 (43 of 50), measured on wt-Q (qa eval ... --mode all); before it
# (the retriever's sentence blend, replayed by benchmarks/bench_quote.py) 0.684 and 0.780. One
# question moves quote by 0.018 and quote|right by 0.020.
FLOORS: dict[tuple[str, str], dict[str, float]] = {
    ("hybrid", "all"): {"Hit@1": 0.96, "Hit@5": 0.99, "MRR@10": 0.975, "nDCG@10": 0.98,
                        "AnswerRecall@1": 0.87, "AnswerRecall@5": 0.98,
                        "abstention_accuracy": 0.36, "quote": 0.75, "quote_given_right_passage": 0.85},
    ("hybrid", "follow_ups"): {"Hit@1": 0.87, "Hit@5": 0.99, "AnswerRecall@1": 0.85,
                               "AnswerRecall@5": 0.99},
    # issue 17: history only when a question needs it (a cue in its words, or not confident alone);
    # dense Hit@1 0.862 -> 0.845 (f07, confident alone in dense mode, ranks its article lower),
    # MRR@10 0.914, nDCG@10 0.933, AR@1 0.614 (merged main, qa eval ... --mode all); abstention
    # 0.364 -> 0.545; hybrid and bm25 unchanged by it.
    ("dense", "all"): {"Hit@1": 0.84, "Hit@5": 0.99, "MRR@10": 0.91, "nDCG@10": 0.93,
                       "AnswerRecall@1": 0.61, "AnswerRecall@5": 0.87, "abstention_accuracy": 0.54},
    ("bm25", "all"): {"Hit@1": 0.93, "Hit@5": 0.99, "MRR@10": 0.955, "nDCG@10": 0.97,
                      "AnswerRecall@1": 0.87, "AnswerRecall@5": 0.94, "abstention_accuracy": 0.45},
}
# Lower is better for these: abstaining more must not come from refusing answerable questions
# (one refused answerable question is 0.017).
CEILINGS: dict[tuple[str, str], dict[str, float]] = {
    # issue 17: a follow-up without a cue that is not confident alone (f03, f06) is searched with
    # its history too, so none of the answerable questions is refused in hybrid and bm25 mode.
    # issue 19: abstention from evidence (qa/abstain.py, trained on made-unanswerable squad-dev and
    # news-dev, which it serves better: README "Abstention") refuses n14 in hybrid and bm25 mode
    # (1/58 = 0.017) and three in dense mode (0.052); abstention bm25 0.364 -> 0.455, hybrid 0.364,
    # dense 0.545 (qa eval tests/data/news_questions.jsonl --mode all, 2026-12-03).
    ("hybrid", "all"): {"false_abstention_rate": 0.02},
    ("bm25", "all"): {"false_abstention_rate": 0.02},
    ("dense", "all"): {"false_abstention_rate": 0.06},
}


# --- hand-made answers -----------------------------------------------------------------------

def passage(doc_id: str, text: str = "", score: float = 1.0) -> Passage:
    return Passage(text=text or f"text of {doc_id}", score=score, doc_id=doc_id, title=f"T {doc_id}",
                   url=None, published=None, start=0, end=len(text), highlight=(0, len(text)))


def answer(docs: list[str | tuple[str, str]], abstained: bool = False, question: str = "q") -> Answer:
    passages = [passage(*d) if isinstance(d, tuple) else passage(d) for d in docs]
    return Answer(question=question, passages=passages, abstained=abstained, mode="hybrid")


def question(qid: str, gold: list[str], answers: list[str] = (), history: list[str] = (),
             kind: str = "answerable") -> ev.Question:
    return ev.Question(id=qid, question=f"question {qid}", gold_doc_ids=tuple(gold),
                       answers=tuple(answers), history=tuple(history), type=kind)


# The case worked on paper (binary relevance, DCG = sum rel_i / log2(i + 1)):
#  q1 gold {a}:    docs b, a, c          -> Hit@1 0, Hit@5 1, RR 1/2, nDCG 1/log2(3)       = 0.6309
#  q2 gold {a, b}: passages a, a, x, b   -> docs a, x, b (a counts once, at its first passage)
#                                          Hit@1 1, Hit@5 1, RR 1,  nDCG (1 + 1/2)/(1 + 1/log2(3)) = 0.9197
#  q3 gold {a}:    no passage            -> all 0
#  q4 gold {a}:    ten passages of x, a eleventh of a -> beyond depth 10: all 0
#  u1, u2 unanswerable: one abstains, one does not -> abstention accuracy 1/2
#  q3 abstains (answerable) -> false-abstention rate 1/4
PAPER_QUESTIONS = [
    question("q1", ["a"], answers=["Copper  and ZINC"]),
    question("q2", ["a", "b"], answers=["nowhere"], history=["earlier"]),
    question("q3", ["a"], answers=["x"]),
    question("q4", ["a"], answers=["far away"]),
    question("u1", [], kind="unanswerable"),
    question("u2", [], kind="unanswerable", history=["earlier"]),
]
PAPER_ANSWERS = [
    answer(["b", ("a", "said copper and\n zinc were smuggled"), "c"]),
    answer(["a", "a", "x", "b"]),
    answer([], abstained=True),
    answer(["x"] * 10 + [("a", "far away")]),
    answer(["a"], abstained=True),
    answer(["b"]),
]
LOG2_3 = math.log2(3)


def test_metrics_agree_with_the_case_worked_on_paper():
    records = ev.score_answers(PAPER_QUESTIONS, PAPER_ANSWERS, mode="hybrid", k=5)
    by_id = {r["id"]: r for r in records}
    assert by_id["q1"]["Hit@1"] == 0 and by_id["q1"]["Hit@5"] == 1
    assert by_id["q1"]["MRR@10"] == pytest.approx(0.5)
    assert by_id["q1"]["nDCG@10"] == pytest.approx(1 / LOG2_3)
    assert by_id["q2"]["ranking"] == ["a", "x", "b"]
    assert by_id["q2"]["nDCG@10"] == pytest.approx(1.5 / (1 + 1 / LOG2_3))
    assert by_id["q4"]["gold_rank"] is None and by_id["q4"]["Hit@5"] == 0

    s = ev.summarize(records, k=5)
    assert (s["answerable"], s["unanswerable"]) == (4, 2)
    assert s["Hit@1"] == pytest.approx(1 / 4)
    assert s["Hit@5"] == pytest.approx(2 / 4)
    assert s["MRR@10"] == pytest.approx((0.5 + 1) / 4)
    assert s["nDCG@10"] == pytest.approx((1 / LOG2_3 + 1.5 / (1 + 1 / LOG2_3)) / 4)
    # q1's answer is in its 2nd passage (case and white space folded); q4's only at rank 11.
    assert s["AnswerRecall@1"] == 0 and s["AnswerRecall@5"] == pytest.approx(1 / 4)
    assert s["abstention_accuracy"] == pytest.approx(1 / 2)
    assert s["false_abstention_rate"] == pytest.approx(1 / 4)

    follow = ev.summarize([r for r in records if r["follow_up"]], k=5)
    assert (follow["answerable"], follow["unanswerable"]) == (1, 1)
    assert follow["Hit@1"] == 1 and follow["abstention_accuracy"] == 0


def test_quote_is_the_first_passages_highlight_holding_an_answer():
    text = "The mine opened in 1998. It ships Copper  and\nZINC north. Nobody said more."

    def shown(start: int, end: int, doc: str = "a", body: str = text) -> Answer:
        p = Passage(text=body, score=1.0, doc_id=doc, title="T", url=None, published=None,
                    start=0, end=len(body), highlight=(start, end))
        return Answer(question="q", passages=[p], abstained=False, mode="hybrid")

    second = text.index("It ships")
    qs = [question(f"q{i}", ["a"], answers=["copper and zinc"]) for i in range(4)]
    answers = [
        shown(second, text.index(" Nobody")),  # the highlight holds it, case and spaces folded
        shown(0, second - 1),  # the passage holds it, its highlight does not
        shown(0, 5, body="Nothing here."),  # neither: counts in quote, not in quote|right
        Answer(question="q", passages=[], abstained=True, mode="hybrid"),  # no passage: no quote
    ]
    records = ev.score_answers(qs, answers, mode="hybrid")
    assert [r["quote"] for r in records] == [True, False, False, False]
    s = ev.summarize(records)
    assert s["quote"] == pytest.approx(1 / 4)
    assert s["quote_given_right_passage"] == pytest.approx(1 / 2)
    assert "| quote | quote|right |" in ev.table({"k": 5, "modes": {"hybrid": {"all": s}}}).replace("  ", " ")


def test_extra_k_adds_hit_and_recall_columns():
    records = ev.score_answers(PAPER_QUESTIONS, PAPER_ANSWERS, mode="hybrid", k=3)
    s = ev.summarize(records, k=3)
    assert s["Hit@3"] == pytest.approx(2 / 4) and s["AnswerRecall@3"] == pytest.approx(1 / 4)


def test_answer_matching_folds_case_and_white_space():
    assert ev.contains_answer("The  Rearguard\nGeneral Bureau said", ["rearguard general bureau"])
    assert not ev.contains_answer("Rearguard Bureau", ["Rearguard General Bureau"])
    assert not ev.contains_answer("anything", ["", "  "])


def test_document_rank_is_first_occurrence_within_depth():
    a = answer(["x", "y", "x", "z", "y"])
    assert ev.doc_ranking(a) == ["x", "y", "z"]
    assert ev.doc_ranking(a, depth=2) == ["x", "y"]


# --- a fake engine ---------------------------------------------------------------------------

class FakeEngine:
    """Answers from a table: question text -> (doc ids, abstained). Counts how it was called."""

    def __init__(self, table: dict[str, tuple[list[str], bool]], docs: set[str]):
        self.table, self.docs = table, docs
        self.calls: Counter[str] = Counter()
        self.histories: list = []

    def doc_ids(self) -> set[str]:
        return set(self.docs)

    def ask(self, q, k=5, history=None, filters=None, mode="hybrid"):
        self.calls["ask"] += 1
        docs, abstained = self.table.get(q, ([], True))
        return Answer(question=q, passages=[passage(d, f"{d} says {q}") for d in docs[:k]],
                      abstained=abstained, mode=mode)

    def ask_many(self, questions, k=5, histories=None, mode="hybrid"):
        self.calls["ask_many"] += 1
        self.histories.extend(histories or [None] * len(questions))
        answers = [self.ask(q, k=k, mode=mode) for q in questions]
        self.calls["ask"] -= len(questions)
        return answers


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


FAKE_ROWS = [
    {"id": "a1", "question": "where", "gold_doc_ids": ["d1"], "answers": ["d1 says"]},
    {"id": "a2", "question": "who", "gold_doc_ids": ["d2"], "answers": ["nope"],
     "history": ["before"]},
    {"id": "a3", "question": "lost", "gold_doc_ids": ["gone.txt", "d1"], "answers": []},
    {"id": "a4", "question": "also lost", "gold_doc_ids": ["missing.txt"], "answers": []},
    {"id": "u1", "question": "nothing", "gold_doc_ids": [], "answers": [], "type": "unanswerable"},
]
FAKE_TABLE = {"where": (["d1", "d2"], False), "who": (["d1", "d2"], False), "nothing": (["d2"], False)}


def test_unknown_gold_ids_are_reported_and_excluded():
    engine = FakeEngine(FAKE_TABLE, {"d1", "d2"})
    questions = [ev.parse_question(json.dumps(r), "x", i) for i, r in enumerate(FAKE_ROWS, 1)]
    result = ev.evaluate(engine, questions, modes=["hybrid"])
    assert result["counts"]["excluded"] == 2 and result["counts"]["scored"] == 3
    assert [(e["id"], e["missing"]) for e in result["excluded"]] == [
        ("a3", ["gone.txt"]), ("a4", ["missing.txt"])]
    s = result["modes"]["hybrid"]["all"]
    assert s["answerable"] == 2 and s["Hit@1"] == pytest.approx(0.5)  # not 2/4
    assert "Excluded 2 questions" in ev.notes(result) and "gone.txt" in ev.notes(result)


def test_metrics_use_batches_and_latency_uses_single_asks():
    engine = FakeEngine(FAKE_TABLE, {"d1", "d2"})
    questions = [ev.parse_question(json.dumps(r), "x", i) for i, r in enumerate(FAKE_ROWS, 1)]
    result = ev.evaluate(engine, questions, modes=["dense", "bm25"], latency_sample=2,
                         batch_size=2)
    # 3 scored questions in batches of 2, per mode; 2 timed asks + 1 warm-up, per mode.
    assert engine.calls == {"ask_many": 4, "ask": 6}
    assert engine.histories[:3] == [None, ["before"], None]
    assert result["modes"]["dense"]["all"]["latency_n"] == 2
    assert {r["mode"] for r in result["per_question"]} == {"dense", "bm25"}


def test_cli_all_modes_table_json_and_report(tmp_path, monkeypatch, capsys):
    qfile = write_jsonl(tmp_path / "q.jsonl", FAKE_ROWS)
    monkeypatch.setattr(ev, "open_engine", lambda index: FakeEngine(FAKE_TABLE, {"d1", "d2"}))
    code = ev.cli([str(qfile), "--index", str(tmp_path), "--mode", "all", "--json",
                   str(tmp_path / "out.json"), "--report", str(tmp_path / "r.md"), "--per-question"])
    out = capsys.readouterr().out
    assert code == 0
    table_rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert table_rows == ["mode", "dense", "bm25", "hybrid", "dense · follow-ups",
                          "bm25 · follow-ups", "hybrid · follow-ups"]
    assert "Latency: single engine.ask calls" in out and "Excluded 2 questions" in out
    data = json.loads((tmp_path / "out.json").read_text())
    assert set(data["modes"]) == {"dense", "bm25", "hybrid"}
    assert len(data["per_question"]) == 9
    md = (tmp_path / "r.md").read_text()
    # a2's gold d2 came second: the report names the question, the gold and what came first.
    assert "### a2: who" in md and "`d2` (rank 2)" in md and "`d1` *T d1*" in md
    assert "Answered instead of abstaining (hybrid): 1" in md


def test_cli_json_without_per_question_leaves_them_out(tmp_path, monkeypatch, capsys):
    qfile = write_jsonl(tmp_path / "q.jsonl", FAKE_ROWS)
    monkeypatch.setattr(ev, "open_engine", lambda index: FakeEngine(FAKE_TABLE, {"d1", "d2"}))
    assert ev.cli([str(qfile), "--json", str(tmp_path / "out.json")]) == 0
    data = json.loads((tmp_path / "out.json").read_text())
    assert "per_question" not in data and list(data["modes"]) == ["hybrid"]


def test_cli_when_no_gold_document_is_indexed(tmp_path, monkeypatch, capsys):
    qfile = write_jsonl(tmp_path / "q.jsonl", FAKE_ROWS[:2])
    monkeypatch.setattr(ev, "open_engine", lambda index: FakeEngine(FAKE_TABLE, {"other"}))
    assert ev.cli([str(qfile)]) == 2
    assert "right corpus" in capsys.readouterr().err


def test_cli_reports_an_index_that_does_not_open(tmp_path, monkeypatch, capsys):
    from qa.store import IndexProblem

    qfile = write_jsonl(tmp_path / "q.jsonl", FAKE_ROWS[:1])

    def fail(index):
        raise IndexProblem(f'Index not found at {index}: run "qa build"')

    monkeypatch.setattr(ev, "open_engine", fail)
    assert ev.cli([str(qfile), "--index", "nowhere"]) == 2
    assert 'run "qa build"' in capsys.readouterr().err


# --- malformed question files ----------------------------------------------------------------

GOOD = {"id": "ok", "question": "fine?", "gold_doc_ids": ["d1"], "answers": ["x"]}


@pytest.mark.parametrize("bad, says", [
    ('{"id": "b", "question": "unclosed"', "not valid JSON"),
    ('["a", "list"]', "expected a JSON object"),
    ({"id": "b", "gold_doc_ids": ["d1"]}, '"question" is missing'),
    ({"id": "b", "question": 42, "gold_doc_ids": ["d1"]}, '"question" is missing'),
    ({"id": "b", "question": "q", "gold_doc_ids": "d1"}, '"gold_doc_ids" must be a list'),
    ({"id": "b", "question": "q", "gold_doc_ids": ["d1"], "answers": [1]}, '"answers" must be'),
    ({"id": "b", "question": "q", "gold_doc_ids": ["d1"], "history": "earlier"}, '"history" must be'),
    ({"id": "b", "question": "q", "gold_doc_ids": []}, "unanswerable"),
    ({"id": "b", "question": "q", "gold_doc_ids": ["d1"], "type": "unanswerable"}, "cannot have"),
    ({"id": "ok", "question": "again", "gold_doc_ids": ["d1"]}, 'already used on line 1'),
    ({"id": ["b"], "question": "q", "gold_doc_ids": ["d1"]}, '"id" must be'),
])
def test_malformed_question_file_names_the_line(tmp_path, capsys, bad, says):
    qfile = write_jsonl(tmp_path / "q.jsonl", [GOOD, "", bad])
    with pytest.raises(ev.QuestionFileError, match="line 3"):
        ev.load_questions(qfile)
    assert ev.cli([str(qfile), "--index", str(tmp_path / "never-opened")]) == 2
    err = capsys.readouterr().err
    assert f"{qfile}, line 3" in err and says in err and "Traceback" not in err


def test_empty_or_missing_question_file(tmp_path, capsys):
    assert ev.cli([str(write_jsonl(tmp_path / "e.jsonl", [""]))]) == 2
    assert "no questions" in capsys.readouterr().err
    assert ev.cli([str(tmp_path / "absent.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_bad_arguments_return_2(capsys):
    assert ev.cli(["q.jsonl", "--mode", "fuzzy"]) == 2
    assert "invalid choice" in capsys.readouterr().err


# --- the shipped question set ----------------------------------------------------------------

def test_shipped_question_set_covers_the_corpus():
    questions = ev.load_questions(SHIPPED)
    from qa.ingest import SIDECAR_NAME

    articles = sorted(p.name for p in CORPUS.iterdir() if p.is_file() and p.name != SIDECAR_NAME)
    gold = Counter(d for q in questions for d in q.gold_doc_ids)
    assert set(gold) == set(articles), "every article is the gold of some question"
    assert all(gold[a] >= 5 for a in articles)
    unanswerable = [q for q in questions if not q.answerable]
    follow_ups = [q for q in questions if q.follow_up]
    assert len(questions) >= 40 and len(unanswerable) >= 8 and len(follow_ups) >= 6
    # f01 asks who wrote an article: ingestion moves the byline into Document.author, so no
    # span of the cleaned text answers it; it still counts for the ranking metrics.
    assert [q.id for q in questions if q.answerable and not q.answers] == ["f01"]
    assert all(q.id[0] == ("f" if q.follow_up else "n" if q.answerable else "u") for q in questions)


# --- with the real engine (model) ------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_engine(tmp_path_factory):
    from qa import Engine

    return Engine.build(corpus=str(CORPUS), index=str(tmp_path_factory.mktemp("index")))


@pytest.mark.model
def test_shipped_answers_occur_in_their_gold_articles(sample_engine):
    for q in ev.load_questions(SHIPPED):
        for ans in q.answers:
            texts = {d: ev.fold(sample_engine.document(d).text) for d in q.gold_doc_ids}
            assert any(ev.fold(ans) in t for t in texts.values()), (q.id, ans)


@pytest.mark.model
def test_quality_gate_on_the_shipped_set(sample_engine):
    modes = sorted({mode for mode, _ in [*FLOORS, *CEILINGS]})
    result = ev.evaluate(sample_engine, SHIPPED, modes=modes, latency_sample=0)
    assert result["counts"]["excluded"] == 0
    measured = {(mode, part): result["modes"][mode][part] for mode in modes
                for part in ("all", "follow_ups")}
    failed = [f"{mode} {part} {name}: {measured[mode, part][name]:.3f} < floor {floor}"
              for (mode, part), floors in FLOORS.items() for name, floor in floors.items()
              if measured[mode, part][name] < floor]
    failed += [f"{mode} {part} {name}: {measured[mode, part][name]:.3f} > ceiling {ceiling}"
               for (mode, part), ceilings in CEILINGS.items() for name, ceiling in ceilings.items()
               if measured[mode, part][name] > ceiling]
    assert not failed, "quality regressed:\n" + "\n".join(failed)
