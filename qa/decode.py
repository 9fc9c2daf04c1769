"""Decoding: a file's bytes to text (UTF-8/16/32, Korean CP949, Windows-1252), binaries refused."""
from __future__ import annotations

import codecs
import re
from typing import NamedTuple

from .types import Unusable

MAGIC = [(b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"),
         (b"\xff\xd8\xff", "a JPEG image"), (b"PK\x03\x04", "a ZIP archive or Office file"),
         (b"\x1f\x8b", "a gzip archive"), (b"\x7fELF", "a program"),
         (b"\xd0\xcf\x11\xe0", "an old Office document"), (b"RIFF", "a media file")]
CONTROLS = re.compile(r"[\x00-\x08\x0d-\x1f]")  # control characters but \t \n \v \f (\r is gone)
BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16")]


class Decoded(NamedTuple):
    """A file's text, and warnings about the encoding it was guessed to be in."""

    text: str
    warnings: list[str]


def decode_bytes(data: bytes) -> Decoded:
    """The text of a file's bytes, and warnings about guessed encodings; raises Unusable."""
    if not data.strip():
        raise Unusable("empty file" if not data else "empty file (only white space)")
    warnings: list[str] = []
    bom = next((enc for mark, enc in BOMS if data.startswith(mark)), None)
    if bom:
        try:
            text = data.decode(bom)
        except UnicodeDecodeError:
            text = data.decode(bom, errors="replace")
            warnings.append(f"some bytes are not valid {bom.upper()}; replaced them")
    else:
        kind = next((name for magic, name in MAGIC if data.startswith(magic)), None)
        if kind or b"\x00" in data[:65536]:
            raise Unusable(f"binary file ({kind or 'it holds NUL bytes'}), not text")
        text = _decode_without_bom(data, warnings)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:65536]
    controls = len(CONTROLS.findall(sample))
    if controls > 0.05 * len(sample):
        raise Unusable("binary file (mostly control characters), not text")
    if not text.strip():
        raise Unusable("empty file (only white space)")
    return Decoded(text, warnings)


def _decode_without_bom(data: bytes, warnings: list[str]) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp949")
        hangul = [i for i, c in enumerate(text) if "\uac00" <= c <= "\ud7a3"]
        paired = sum(1 for i in hangul if i + 1 < len(text) and "\uac00" <= text[i + 1] <= "\ud7a3")
        if len(hangul) >= 2 and paired >= 0.3 * len(hangul):  # Korean words, not stray pairs
            warnings.append("not UTF-8: decoded as Korean (CP949/EUC-KR)")
            return text
    except UnicodeDecodeError:
        pass
    guessed = _non_latin_guess(data)
    if guessed:
        encoding, text = guessed
        warnings.append(f"not UTF-8: decoded as {encoding} (guessed by charset-normalizer); "
                        "some characters may be wrong")
        return text
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    warnings.append("not UTF-8: decoded as Windows-1252 (Western European); some characters "
                    "may be wrong")
    return text


def _non_latin_guess(data: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess when it reads as a non-Latin script, else None.

    Latin text stays with Windows-1252: on Latin pages it was right more often than
    charset-normalizer's guess (``benchmarks/bench_decode.py``); Cyrillic, Greek, Arabic,
    Hebrew, Thai, Japanese or Chinese text gets the guess.
    """
    from charset_normalizer import from_bytes

    best = from_bytes(data[:262144] if len(data) > 262144 else data).best()
    if best is None:
        return None
    text = str(best) if len(data) <= 262144 else data.decode(best.encoding, errors="replace")
    letters = [c for c in text[:65536] if c.isalpha()]
    other = sum(1 for c in letters if ord(c) > 0x24F)
    return (best.encoding, text) if letters and other > 0.5 * len(letters) else None
