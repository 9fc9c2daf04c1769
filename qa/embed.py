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

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], batch_size=1)
