"""Encodings and cut-off JSON: the project's choices against the maintained libraries (issue 16).

    .venv/bin/python benchmarks/bench_decode.py [--files 100] [--seed 0]

**Encodings.** Samples of real text: the true bodies of ``../shared/eval/article-extraction``
(``ground-truth.json``, MIT), each cut into paragraphs of at least 200 characters that hold a
letter outside ASCII (ASCII-only bytes are UTF-8 whatever they were written in). Each sample is
encoded in every legacy encoding of its script that can hold it (Latin: cp1252, iso-8859-15,
cp1250; Cyrillic: cp1251, koi8-r; Greek: cp1253; Korean: cp949; Japanese: shift_jis, euc-jp;
Chinese: gb18030, big5), and decoded back by three systems: the project's path before this
change (UTF-8, Korean CP949 when it reads as Hangul, else Windows-1252), charset-normalizer alone
(``from_bytes(data).best()``), and the project's path now (``qa.decode.decode_bytes``: the old
path for Latin text, charset-normalizer's guess when it reads as a non-Latin script). A sample
counts as right when the decoded text equals the original exactly.

**Cut-off JSON.** ``--files`` articles of ``../shared/eval/news-dev`` (no license: the copies stay
in a temporary folder and are deleted) are written as WordPress REST exports (``title``,
``date``, ``link``, ``content`` as ``{"rendered": "<p>…</p>"}``, one ``<p>`` a paragraph), each
cut off at a seeded random point of its content. Each cut-off copy is read by the project's
salvage (``qa.jsonfiles.TolerantJSON``) and by json-repair (``json_repair.loads``), and the parsed
record goes through the same reader (``qa.jsonfiles.record_document``): the table gives the
characters of article text kept, summed over the files, and the files that gave no text.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
import unicodedata
from pathlib import Path

from common import ROOT, footer, table

ENCODINGS = {"LATIN": ("cp1252", "iso-8859-15", "cp1250"), "CYRILLIC": ("cp1251", "koi8-r"),
             "GREEK": ("cp1253",), "HANGUL": ("cp949",), "CJK": ("gb18030", "big5"),
             "HIRAGANA": ("shift_jis", "euc-jp"), "KATAKANA": ("shift_jis", "euc-jp")}


def shared(name: str) -> Path:
    for parent in ROOT.parents:
        if (parent / "shared" / "eval" / name).is_dir():
            return parent / "shared" / "eval" / name
    return ROOT.parent / "shared" / "eval" / name


def script_of(text: str) -> str:
    names = [unicodedata.name(c, "?").split()[0] for c in text if c.isalpha()]
    latin = sum(1 for n in names if n == "LATIN")
    other = {}
    for n in names:
        if n != "LATIN":
            other[n] = other.get(n, 0) + 1
    top = max(other, key=other.get, default=None)
    return top if top and other[top] > latin else "LATIN"


def old_path(data: bytes) -> str:
    """The project's decoding before charset-normalizer: UTF-8, Korean CP949 read as Hangul, cp1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp949")
        hangul = [i for i, c in enumerate(text) if "\uac00" <= c <= "\ud7a3"]
        paired = sum(1 for i in hangul if i + 1 < len(text) and "\uac00" <= text[i + 1] <= "\ud7a3")
        if len(hangul) >= 2 and paired >= 0.3 * len(hangul):
            return text
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def encodings_table() -> tuple[str, list[list]]:
    from charset_normalizer import from_bytes

    from qa.decode import decode_bytes

    truth = json.loads((shared("article-extraction") / "ground-truth.json").read_text(encoding="utf-8"))
    counts: dict[str, list[int]] = {}
    for key in sorted(truth):
        for para in re.split(r"\n+", truth[key].get("articleBody") or ""):
            para = para.strip()
            if len(para) < 200 or para.isascii():
                continue
            script = script_of(para)
            for encoding in ENCODINGS.get(script, ()):
                try:
                    data = para.encode(encoding)
                except UnicodeEncodeError:
                    continue
                if data.isascii():
                    continue
                try:
                    data.decode("utf-8")
                    continue  # bytes that are valid UTF-8 too are not a guessing problem
                except UnicodeDecodeError:
                    pass
                best = from_bytes(data).best()
                row = counts.setdefault(f"{'Latin' if script == 'LATIN' else 'non-Latin'} ({encoding})",
                                        [0, 0, 0, 0])
                row[0] += 1
                row[1] += old_path(data) == para
                row[2] += best is not None and str(best) == para
                row[3] += decode_bytes(data).text == para
    rows = [[name, n, old, cn, now] for name, (n, old, cn, now) in sorted(counts.items())]
    for label in ("Latin", "non-Latin"):
        picked = [r for r in rows if r[0].startswith(label + " ")]
        rows.append([f"**all {label}**", *(sum(r[i] for r in picked) for i in range(1, 5))])
    return table(["samples (encoding)", "samples", "old path right", "charset-normalizer right",
                  "qa.decode now right"], rows), rows


def salvage_table(files: int, seed: int) -> str:
    import tempfile

    import json_repair

    from qa.jsonfiles import TolerantJSON, record_document

    corpus = sorted((shared("news-dev") / "corpus").glob("*.json"))[:files]
    rng = random.Random(seed)
    kept = {"TolerantJSON (qa.jsonfiles)": [0, 0, 0], "json-repair": [0, 0, 0]}
    full_chars = 0
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        for path in corpus:
            article = json.loads(path.read_text(encoding="utf-8"))
            paras = [p for p in re.split(r"\n+", article.get("text") or "") if p.strip()]
            post = {"id": 1, "date": article.get("published") or "", "link": article.get("url") or "",
                    "title": {"rendered": article.get("title") or ""},
                    "content": {"rendered": "".join(f"<p>{p}</p>\n" for p in paras)}}
            whole = json.dumps(post, ensure_ascii=False)
            start = whole.index('"content"')
            cut = whole[:rng.randrange(start + 40, len(whole) - 5)]
            copy = Path(tmp) / path.name
            copy.write_text(cut, encoding="utf-8")
            text = copy.read_text(encoding="utf-8")
            full_chars += len(record_document(post).text)
            for name, parse in (("TolerantJSON (qa.jsonfiles)", lambda t: TolerantJSON(t).parse()),
                                ("json-repair", json_repair.loads)):
                try:
                    value = parse(text)
                    got = record_document(value).text if isinstance(value, dict) else ""
                except Exception:  # noqa: BLE001 - counted as a file that gave nothing
                    got = ""
                kept[name][0] += len(got)
                kept[name][1] += not got.strip()
                kept[name][2] += "</p>" in got or "<p>" in got
    rows = [[name, len(corpus), chars, empty, tags] for name, (chars, empty, tags) in kept.items()]
    return (f"The same {len(corpus)} articles uncut give {full_chars:,} characters of text.\n\n"
            + table(["salvage", "cut-off files", "characters of text kept", "files with no text",
                     "files with <p> tags left in the text"], rows))


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100, help="cut-off copies of news-dev articles (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cut points")
    args = parser.parse_args()
    enc, _ = encodings_table()
    lines = ["### Decoding text that is not UTF-8 (samples of article-extraction's true bodies)\n", enc,
             "\n### Cut-off WordPress exports (news-dev articles, cut at a random point of the content)\n",
             salvage_table(args.files, args.seed), footer(started)]
    print("\n".join(lines))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
