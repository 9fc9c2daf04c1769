"""Embedding: the sentence-transformers model, loaded once per process, offline."""
from __future__ import annotations

import copy
import os
import threading
from typing import Callable, Sequence

import numpy as np

# No hub, no progress bars on model load: the model is a local directory.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_MODELS: dict[str, "Encoder"] = {}
_LOCK = threading.Lock()


def get_encoder(model_path: str) -> "Encoder":
    """The process-wide encoder for a model directory (loaded on first use)."""
    with _LOCK:
        if model_path not in _MODELS:
            _MODELS[model_path] = Encoder(model_path)
        return _MODELS[model_path]


class Encoder:
    """A sentence-transformers model with its tokenizer: normalised float32 vectors."""

    def __init__(self, model_path: str) -> None:
        if not os.path.isdir(model_path):
            raise FileNotFoundError(
                f"Model not found at {model_path}: QA_MODEL must name a local "
                "sentence-transformers directory (nothing is downloaded)"
            )
        from sentence_transformers import SentenceTransformer

        self.path = model_path
        self.model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        self.tokenizer = self.model.tokenizer
        # The fast tokenizer's own copy without padding or truncation: exact counts, no warnings.
        self._raw = copy.deepcopy(self.tokenizer.backend_tokenizer)
        self._raw.no_padding()
        self._raw.no_truncation()
        self.max_tokens = int(self.model.max_seq_length)
        self.dim = int(self.model.get_embedding_dimension())
        self._encode_lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text``, without the two special tokens the model adds."""
        return len(self._raw.encode(text, add_special_tokens=False).ids)

    @property
    def counter(self) -> Callable[[str], int]:
        return self.count_tokens

    def truncate(self, text: str, max_tokens: int) -> str:
        """``text`` cut at a word-piece boundary so that it holds at most ``max_tokens``."""
        offsets = self._raw.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= max_tokens:
            return text
        return text[: offsets[max_tokens - 1][1]]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        with self._encode_lock:  # torch on 2 cores: one batch at a time is fastest
            vectors = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype="float32")

    def encode_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                          batch_size: int = 32) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` and, from the same forward pass, of character spans inside them.

        A span's vector is the mean of the contextual token embeddings that fall inside it
        (the model's own pooling, restricted to the span), normalised: sentence vectors
        for the price of the chunk's.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype="float32"), []
        with self._encode_lock:
            outputs = self.model.encode(list(texts), batch_size=batch_size, output_value=None,
                                        convert_to_numpy=False, show_progress_bar=False)
        vectors = np.zeros((len(texts), self.dim), dtype="float32")
        pooled = []
        for i, (text, out) in enumerate(zip(texts, outputs)):
            vectors[i] = out["sentence_embedding"].float().numpy()
            mask = out["attention_mask"].bool().numpy()
            tokens = out["token_embeddings"].float().numpy()[mask]
            offsets = np.asarray(self._raw_with_specials(text)[: len(tokens)], dtype="int64")
            real = offsets[:, 1] > offsets[:, 0]
            rows = np.zeros((len(spans[i]), self.dim), dtype="float32")
            for j, (start, end) in enumerate(spans[i]):
                inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
                rows[j] = tokens[inside].mean(axis=0) if inside.any() else vectors[i]
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            pooled.append(rows)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors, pooled

    def _raw_with_specials(self, text: str) -> list[tuple[int, int]]:
        """Token offsets as the model sees them: [CLS] + word pieces cut to the window + [SEP]."""
        offsets = self._raw.encode(text, add_special_tokens=False).offsets[: self.max_tokens - 2]
        return [(0, 0), *offsets, (0, 0)]

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], batch_size=1)
