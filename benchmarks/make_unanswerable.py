"""Make the hard kind of unanswerable question set: take a share of the gold articles out of a
copy of the corpus, so that their questions keep their near neighbours (the same topic, the same
site, often the same Wikipedia article) but lose the one article that answers.

    .venv/bin/python benchmarks/make_unanswerable.py CORPUS_DIR QUESTIONS.jsonl OUT_DIR [--share 0.25]

Writes ``OUT_DIR/corpus/`` (a copy of the files that stay: the build refuses symbolic links that
point outside the corpus) and
``OUT_DIR/questions.jsonl``: every question of the set, those whose gold documents are all gone
rewritten as ``"type": "unanswerable"`` with no gold documents and no answers (the original
gold ids kept under ``removed_gold``), the rest unchanged. Which questions lose their article is
chosen by a hash of the gold article's doc id, so the same inputs always give the same set.
Prints a table of what was made. Works on any corpus in the project's formats whose doc ids are file names
(squad-dev, news-dev); multi-record files (``archive.jsonl#12``) are removed whole.

Then: ``qa build --corpus OUT_DIR/corpus --index I`` and ``qa eval OUT_DIR/questions.jsonl --index I``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from common import footer, table


def chosen(doc_id: str, share: float) -> bool:
    """Whether this gold article goes: a stable hash of its doc id below ``share``. Choosing
    articles, not questions, keeps the share of questions near ``share`` also where one article
    has many questions (a SQuAD paragraph has about five)."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64 < share


def make(corpus: Path, questions: Path, out: Path, share: float) -> dict:
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    answerable = [r for r in rows if r.get("gold_doc_ids") and r.get("type") != "unanswerable"]
    removed = {doc.split("#", 1)[0] for r in answerable for doc in r["gold_doc_ids"]
               if chosen(doc.split("#", 1)[0], share)}
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: give a new folder")
    (out / "corpus").mkdir(parents=True)
    kept = 0
    for path in files:
        rel = path.relative_to(corpus).as_posix()
        if rel in removed:
            continue
        target = out / "corpus" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        kept += 1
    made = 0
    with (out / "questions.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            gold = r.get("gold_doc_ids") or []
            if gold and all(doc.split("#", 1)[0] in removed for doc in gold):
                r = {**r, "type": "unanswerable", "gold_doc_ids": [], "answers": [], "removed_gold": gold}
                made += 1
            elif gold:  # a gold document that went leaves the question with the ones that stay
                r = {**r, "gold_doc_ids": [d for d in gold if d.split("#", 1)[0] not in removed]}
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return {"files": len(files), "removed": len(removed), "kept": kept, "questions": len(rows),
            "answerable": len(answerable) - made, "unanswerable": made + len(rows) - len(answerable)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("questions", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--share", type=float, default=0.25,
                        help="share of the answerable questions whose gold articles are taken out")
    args = parser.parse_args(argv)
    if not 0 < args.share < 1:
        sys.exit("--share must be between 0 and 1")
    started = time.perf_counter()
    made = make(args.corpus, args.questions, args.out, args.share)
    print(table(["corpus files", "taken out", "kept", "questions", "answerable", "unanswerable"],
                [[made["files"], made["removed"], made["kept"], made["questions"], made["answerable"],
                  made["unanswerable"]]]))
    print(footer(started))


if __name__ == "__main__":
    main()
