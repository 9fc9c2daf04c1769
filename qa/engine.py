"""The engine: one open index and one model, answering questions with cited passages."""
from __future__ import annotations

import time
import unicodedata
from pathlib import Path
from typing import Callable, Sequence

from . import abstain, credits, entities, history, quote
from .answer import overlaps
from .embed import Encoder, get_encoder
from . import timeline as timelines
from .filters import doc_mask, undated_searched
from .generation import Generation, GenerationGone
from .index_files import IndexProblem
from .retrieve import Candidates, QueryTerms, Retriever
from .settings import MAX_K, MODES, Settings
from .types import Answer, BuildReport, Document, Passage

MAX_QUESTION_CHARS = 2000


class Engine:
    """Answers questions from an index built by ``Engine.build`` / ``qa build``.

    ``Engine.open`` is read-only; the model and the index are loaded once and shared by
    every ``ask``.
    """

    def __init__(self, index_dir: Path, settings: Settings, manifest: dict, encoder: Encoder | None) -> None:
        self.index_dir = Path(index_dir)
        self.settings = settings
        self.manifest = manifest
        self.generation = Generation.open(self.index_dir, manifest, settings)
        self.docs = self.generation.docs
        self.chunk_doc, self.chunk_span = self.generation.chunk_doc, self.generation.chunk_span
        self.retriever = Retriever(self.generation, blend=settings.blend, candidates=settings.candidates,
                                   lede_weight=settings.lede_weight, headline_weight=settings.headline_weight)
        self._encoder = encoder

    # --- opening and building ------------------------------------------------------------------

    @classmethod
    def open(cls, index: str | Path = "index", model: str | None = None, **settings) -> "Engine":
        """Open a built index read-only.

        Raises ``IndexProblem`` with what to do when the index is missing, damaged, or was
        built with another model than ``model``.
        """
        index_dir = Path(index)
        for attempt in range(5):  # a build may delete the generation between manifest and open
            manifest = Generation.manifest_of(index_dir)
            try:
                return cls._open_manifest(index_dir, manifest, model, settings)
            except GenerationGone:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def _open_manifest(cls, index_dir: Path, manifest: dict, model: str | None, settings: dict) -> "Engine":
        built = Settings.from_dict(manifest.get("settings", {}))
        chosen = Settings.from_env().with_(index=str(index_dir), **settings)
        chosen = chosen.with_(model=model if model is not None else built.model,
                              encoder=settings.get("encoder") or built.encoder,
                              chunk_tokens=built.chunk_tokens,
                              chunk_overlap_tokens=built.chunk_overlap_tokens)
        if chosen.model_name != manifest.get("model"):
            raise IndexProblem(
                f"Index at {index_dir}/ was built with the model {manifest.get('model')}, not "
                f'{chosen.model_name}: run "qa build" with the model you want, or open it with its own')
        return cls(index_dir, chosen, manifest, None)

    @classmethod
    def build(cls, corpus: str | Path = "corpus", index: str | Path = "index", progress: bool = False,
              log: Callable[[str], None] = print, **settings) -> "Engine":
        """Build or refresh the index (only changed files are re-embedded) and open it."""
        chosen = Settings.from_env().with_(corpus=str(corpus), index=str(index), **settings)
        from .build import build

        encoder = get_encoder(chosen.model_path, chosen.encoder)
        report = build(chosen, progress=progress, log=log, encoder=encoder)
        engine = cls.open(index, model=chosen.model, encoder=chosen.encoder)
        engine._encoder = encoder
        engine.last_build = report
        return engine

    last_build: BuildReport | None = None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = get_encoder(self.settings.model_path, self.settings.encoder)
            if self._encoder.dim != self.manifest["dim"]:
                raise IndexProblem(
                    f"The model gives vectors of dimension {self._encoder.dim}, the index holds "
                    f'{self.manifest["dim"]}: run "qa build"')
        return self._encoder

    def close(self) -> None:
        """Close the index's files and let go of the generation (a build may then delete it)."""
        self.generation.close()

    def warm(self) -> "Engine":
        """Load the model now rather than on the first question."""
        self.encoder.encode_query("warm up")
        from .timewords import warm

        warm()
        return self

    # --- documents -----------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The cleaned article a citation points into."""
        pos = self.docs.position.get(doc_id)
        if pos is None:
            raise KeyError(f"No document {doc_id!r} in the index")
        return credits.annotate(self.docs.document(pos))

    def doc_ids(self) -> set[str]:
        return set(self.docs.position)

    def publishers(self) -> list[str]:
        return sorted({m.publisher for m in self.docs.meta if m.publisher})

    def sources(self) -> list[str]:
        return sorted({m.doc_id.split("#", 1)[0] for m in self.docs.meta})

    def date_range(self) -> tuple[str | None, str | None]:
        dates = sorted(m.published[:10] for m in self.docs.meta if m.published)
        return (dates[0], dates[-1]) if dates else (None, None)

    @property
    def size(self) -> int:
        return self.retriever.size

    # --- asking --------------------------------------------------------------------------------

    def ask(self, question: str, k: int = 5, history: Sequence[str] | None = None,
            filters: dict | None = None, mode: str | None = None, timeline: bool = False,
            as_of: str | None = None) -> Answer:
        """Answer ``question`` with at most ``k`` passages, best first.

        ``history``: the earlier user questions of the conversation, oldest first; the question
        is searched with the ones it depends on, if any (``qa.history``; ``Answer.history_used``).
        ``filters``: ``source``, ``publisher``, ``after``, ``before``, ``undated`` (see
        ``filters.doc_mask``). ``mode``: ``dense``, ``bm25`` or ``hybrid`` (default: the settings').
        ``timeline``: one passage per article, ordered by the article's date (``qa.timeline``).
        ``as_of``: the day the question is asked, ``"YYYY-MM-DD"`` (default today): articles of
        the days before it, and of the periods the question names ("last month"), are preferred.
        """
        return self.ask_many([question], k=k, histories=[history], filters=filters, mode=mode,
                             timeline=timeline, as_of=[as_of])[0]

    def ask_many(self, questions: Sequence[str], k: int = 5,
                 histories: Sequence[Sequence[str] | None] | None = None,
                 filters: dict | None = None, mode: str | None = None,
                 batch_size: int = 64, timeline: bool = False,
                 as_of: str | Sequence[str | None] | None = None) -> list[Answer]:
        """``ask`` for many questions, their queries encoded in batches; ``as_of``: one day
        for all of them, or one per question."""
        started = time.perf_counter()
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise ValueError(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be a whole number from 1 to {MAX_K}")
        histories = list(histories) if histories is not None else [None] * len(questions)
        cleaned = [clean_question(q) for q in questions]
        if any(isinstance(hs, str) for hs in histories):
            raise ValueError("history must be a list of earlier questions, not one string")
        hist = [[h for h in (clean_question(x, strict=False) for x in (hs or [])) if h] for hs in histories]
        # Per question, which earlier questions it continues (qa/history.py): none without a cue.
        question_cues = [history.cues(q) if h else None for q, h in zip(cleaned, hist)]
        threads = [history.thread(q, h) if c else [] for q, h, c in zip(cleaned, hist, question_cues)]
        expanded = [history.expanded_query(q, used) if used else None for q, used in zip(cleaned, threads)]
        days = list(as_of) if isinstance(as_of, (list, tuple)) else [as_of] * len(questions)
        if len(days) != len(questions):
            raise ValueError("as_of must be one day, or one day per question")
        priors = [self.settings.time_prior(q, day) for q, day in zip(cleaned, days)]
        allowed = doc_mask(self.docs.meta, filters)
        undated = undated_searched(self.docs.meta, allowed, filters)
        depth = min(k * timelines.DEPTH_PER_PASSAGE, MAX_K * timelines.DEPTH_PER_PASSAGE) if timeline else k
        terms = [self.retriever.question_terms(q, q, []) for q in cleaned]
        extra = [i for i, e in enumerate(expanded) if e is not None]
        extra_terms = {i: self.retriever.question_terms(expanded[i], cleaned[i], threads[i]) for i in extra}
        for t in [*terms, *extra_terms.values()]:  # posting lists are read while the model encodes
            self.retriever.prefetch(t)
        # One encode call: every question, then the follow-ups' readings with their thread.
        vectors = self.encoder.encode(cleaned + [expanded[i] for i in extra], batch_size=batch_size)
        extra_vectors = {i: vectors[len(cleaned) + n] for n, i in enumerate(extra)}
        shared = (time.perf_counter() - started) / max(len(questions), 1)
        answers = []
        for i, (question, query, vec, t, prior) in enumerate(zip(questions, cleaned, vectors, terms, priors)):
            t0 = time.perf_counter()
            cands = self.retriever.search(vec, query, mode, allowed, terms=t, prior=prior)
            passages, confidence, credited = self._passages(cands, depth, query)
            shown = cands, t  # the candidates the shown passages come from, and their query's terms
            used: list[str] = []
            reading = None  # the history reading to weigh against the question's own: (text, thread, vector, terms)
            if i in extra_vectors:
                reading = (expanded[i], threads[i], extra_vectors[i], extra_terms[i])
            elif hist[i] and confidence < self.settings.abstain_below:
                # No cue in its words, but not confident alone ("Had anything arrived by
                # mid-April?"): its history reading is searched too (one more encode, only for
                # such questions) and kept on the same evidence as a cued question's.
                fallback = history.thread(cleaned[i], hist[i])
                if fallback:
                    text = history.expanded_query(cleaned[i], fallback)
                    reading = (text, fallback, self.encoder.encode([text], batch_size=1)[0],
                               self.retriever.question_terms(text, cleaned[i], fallback))
            if reading is not None:
                text, thread, h_vec, h_terms = reading
                h_cands = self.retriever.search(h_vec, text, mode, allowed, terms=h_terms, prior=prior)
                h_passages, h_confidence, h_credited = self._passages(h_cands, depth, text)
                # How the question's own search scores the history reading's best chunk.
                support = history.own_support(cands.rows, cands.confidence, int(h_cands.rows[0])) \
                    if len(h_cands.rows) else 0.0
                vague = bool(question_cues[i] and question_cues[i].vague)
                if history.prefer_history(confidence, h_confidence, support, self.settings.abstain_below,
                                          vague=vague):
                    passages, confidence, credited = h_passages, h_confidence, h_credited
                    query, used, shown = text, thread, (h_cands, h_terms)
            if timeline:
                passages = timelines.timeline(passages, k)
            # Abstain when the evidence says the shown passages are unlikely to hold the answer
            # (qa/abstain.py), or, without a model, when none scores high enough on the hybrid
            # blend; in every mode, so that modes differ in ranking only (README, "Abstention").
            # A credit line naming someone in the asked-about story answers a credit question.
            ev = self._evidence(query, passages, confidence, *shown)
            model = abstain.load() if self.settings.abstain_by == "evidence" else None
            chance = model.probability(ev) if model is not None and passages else None
            low = chance < model.threshold if chance is not None else confidence < self.settings.abstain_below
            abstained = not passages or (low and not credited)
            answers.append(Answer(question=question, passages=passages, abstained=abstained, mode=mode,
                                  query=query, seconds=shared + time.perf_counter() - t0,
                                  confidence=confidence, history_used=list(used), timeline=timeline,
                                  undated_searched=undated, answer_probability=chance,
                                  abstain_reason=abstain.reason(ev, chance) if abstained and passages else "",
                                  evidence=ev))
        return answers

    def _evidence(self, query: str, passages: list[Passage], best: float, cands: Candidates,
                  terms: QueryTerms) -> abstain.Evidence:
        """What the shown ``passages`` (from ``cands``, searched with ``terms``) show of ``query``
        (``qa.abstain.evidence``)."""
        if not passages:
            return abstain.Evidence()
        first, sentence, dense, lexical = passages[0], 0.0, 0.0, 0.0
        bm25 = self.retriever.bm25
        for i, row in enumerate(cands.rows):  # passage 1's candidate: its own scores
            if int(self.chunk_span[row, 0]) == first.start and \
                    self.docs.meta[int(self.chunk_doc[row])].doc_id == first.doc_id:
                sentence = float(cands.signals[i, 1]) if cands.signals is not None else 0.0
                most = sum(w * float(bm25.idf[c]) for c, w in terms.words.items()) * (bm25.k1 + 1)
                dense, lexical = float(cands.dense[i]), float(cands.lexical[i]) / most if most else 0.0
                break
        return abstain.evidence(query, passages[:abstain.DEPTH], best, cands.confidence, sentence,
                                bm25.vocab, bm25.idf, dense=dense, lexical=lexical)

    def _passages(self, cands: Candidates, k: int, question: str = "") -> tuple[list[Passage], float, bool]:
        """The top ``k`` non-overlapping passages, the best confidence among them, and whether one
        highlights a credit for a question about credits (those passages come first: ``qa.credits``)."""
        asks = bool(question) and credits.asks_for_credits(question)
        depth = max(k, 50) if asks else k  # a credit line may sit in a chunk ranked lower
        chosen: list[int] = []  # positions in ``cands``
        spans: dict[int, list[tuple[int, int]]] = {}
        for i, row in enumerate(cands.rows):
            doc = int(self.chunk_doc[row])
            span = (int(self.chunk_span[row, 0]), int(self.chunk_span[row, 1]))
            if any(overlaps(span, s) for s in spans.get(doc, [])):
                continue  # an overlapping chunk of the same article is already shown
            spans.setdefault(doc, []).append(span)
            chosen.append(i)
            if len(chosen) == depth:
                break
        docs = sorted({int(self.chunk_doc[cands.rows[i]]) for i in chosen})
        texts = self.docs.texts(docs) if docs else {}
        passages, credited = [], []
        bm25 = self.retriever.bm25
        asked = quote.Question(question, lambda t: float(bm25.idf[bm25.vocab[t]]) if t in bm25.vocab else 0.0)
        table = cands.sentences
        for i in chosen:
            row = cands.rows[i]
            doc = int(self.chunk_doc[row])
            start, end = int(self.chunk_span[row, 0]), int(self.chunk_span[row, 1])
            meta = self.docs.meta[doc]
            # The quote: the passage's sentence that answers (qa.quote), unless a credit is asked
            # for; chosen by the model for the first QUOTED passages (the answer's quote is passage
            # 1's), by the retriever's best sentence for the others' cards (cheaper: README "Speed").
            if len(passages) < quote.QUOTED:
                ids, sims, lex = table[i]
                found = self.docs.entities(doc)  # the build's named entities (qa.entities), or None
                best = quote.choose(asked, quote.Passage(
                    texts[doc], [(int(table.rows[s][1]), int(table.rows[s][2])) for s in ids], sims, lex,
                    table.best_lexical(), start, end, None if found is None else entities.within(found, start, end)))
            else:
                b = cands.best_sentence(i)
                best = quote.whole(texts[doc], b.start, b.end, start, end)
            light = credits.choose_highlight(
                question, f"{meta.title} {meta.publisher or ''} {texts[doc]}", texts[doc],
                credits.ranked_sentences(table, i), best)
            passages.append(Passage(
                text=texts[doc][start:end], score=round(float(cands.scores[i]), 4), doc_id=meta.doc_id,
                title=meta.title, url=meta.url, published=meta.published, start=start, end=end,
                highlight=(light.start - start, light.end - start),
                publisher=meta.publisher, author=meta.author))
            credited.append(light.credited)
        # Credits first, those of the article retrieval ranks highest (the story asked about) first.
        first_rank: dict[int, int] = {}
        for j, i in enumerate(chosen):
            first_rank.setdefault(int(self.chunk_doc[cands.rows[i]]), j)
        order = sorted(range(len(chosen)), key=lambda j: (not credited[j], first_rank[
            int(self.chunk_doc[cands.rows[chosen[j]]])] if credited[j] else j))[:k]
        return ([passages[j] for j in order], max((float(cands.confidence[chosen[j]]) for j in order), default=0.0),
                any(credited[j] for j in order))


def clean_question(text: str, strict: bool = True) -> str:
    """The question with control characters removed and white space folded.

    Raises ``ValueError`` with a message for the user when it is empty or too long.
    """
    if not isinstance(text, str):
        raise ValueError("The question must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if strict and not text:
        raise ValueError("The question is empty: type a question about the news archive")
    if len(text) > MAX_QUESTION_CHARS:
        if strict:
            raise ValueError(f"The question is too long ({len(text):,} characters): "
                             f"ask in at most {MAX_QUESTION_CHARS:,} characters")
        text = text[:MAX_QUESTION_CHARS]
    return text
