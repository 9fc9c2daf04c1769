"""The sentence-transformers model run by torch: its tokenizer's helpers, and normalised float32
vectors of texts and of character spans inside them (pooled by ``qa/pooling.py``).

Only a local model directory is read (nothing is downloaded); ``qa/embed.py`` loads one per
process.
"""
from __future__ import annotations

import copy
import os
import threading
from typing import Sequence

import numpy as np

from .pooling import Embedded, Spans, pool


def _own_weights(model) -> None:
    """Copy the model's weights into this process's memory.

    Loaded from safetensors they stay views of the mapped file, and the kernel may drop those
    pages between questions (this VM's page-cache reclaim does): the next encode then reads the
    weights from disk again, a question taking hundreds of milliseconds instead of tens (README
    "Speed"). A copy costs the model's size (90 MB) once and is never dropped.
    """
    import torch

    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.data = tensor.data.clone()


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
        _own_weights(self.model)
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

    def encode_with_spans(self, texts: Sequence[str], spans: Spans, batch_size: int = 32) -> Embedded:
        """Vectors of ``texts`` and, from the same forward pass, of character spans inside them.

        A span's vector is the mean of the contextual token embeddings that fall inside it
        (the model's own mean pooling, restricted to the span), normalised: sentence vectors
        for the price of the chunk's. One tokenisation serves the model and the offsets.
        """
        import torch

        # One tokenisation of all texts (with offsets), then batches of similar token counts,
        # longest first: less padding than sorting by characters (squad-dev chunks: 121k
        # tokens run instead of 138k for the same 785 chunks).
        enc_all = self.tokenizer(list(texts), truncation=True, max_length=self.max_tokens,
                                 return_offsets_mapping=True, padding=False)
        names = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc_all]
        lengths = [len(ids) for ids in enc_all["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        vectors = np.zeros((len(texts), self.dim), dtype="float32")
        span_vectors: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        transformer = self.model[0].auto_model
        pad_id = self.tokenizer.pad_token_id or 0
        with self._encode_lock, torch.inference_mode():
            for lo in range(0, len(texts), batch_size):
                rows = order[lo:lo + batch_size]
                width = lengths[rows[0]]
                arrays = {k: np.full((len(rows), width), pad_id if k == "input_ids" else 0, dtype="int64")
                          for k in names}
                offsets = np.zeros((len(rows), width, 2), dtype="int64")
                for j, i in enumerate(rows):
                    for k in names:
                        arrays[k][j, :lengths[i]] = enc_all[k][i]
                    offsets[j, :lengths[i]] = enc_all["offset_mapping"][i]
                enc = {k: torch.from_numpy(v) for k, v in arrays.items()}
                tokens = transformer(**enc).last_hidden_state  # (batch, length, dim)
                batch = pool(tokens, enc["attention_mask"], torch.from_numpy(offsets), [spans[i] for i in rows])
                vectors[rows] = batch.vectors
                for i, pooled in zip(rows, batch.span_vectors):
                    span_vectors[i] = pooled
        return Embedded(vectors, span_vectors)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], batch_size=1)
