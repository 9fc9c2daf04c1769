"""Embedding: the sentence-transformers model, loaded once per process, offline."""
from __future__ import annotations

import copy
import os
import threading
from typing import Sequence

import numpy as np

# No hub, no progress bars on model load: the model is a local directory.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_MODELS: dict[str, "Encoder"] = {}
_LOCK = threading.Lock()


def get_encoder(model_path: str, backend: str = "torch") -> "Encoder":
    """The process-wide encoder for a model directory (loaded on first use).

    ``backend``: ``torch``, or ``onnx-int8``: the model's transformer exported to ONNX and
    quantised to int8 on first use (once per model, in ``$QA_ONNX_CACHE`` or
    ``~/.cache/qa/onnx``), then run by onnxruntime.
    """
    with _LOCK:
        key = model_path if backend == "torch" else f"{model_path}#{backend}"
        if key not in _MODELS:
            if backend == "torch":
                _MODELS[key] = Encoder(model_path)
            elif backend == "onnx-int8":
                _MODELS[key] = _onnx_int8(model_path)
            else:
                raise ValueError(f"Unknown encoder {backend!r}: use torch or onnx-int8")
        return _MODELS[key]


def _onnx_int8(model_path: str) -> "Encoder":
    try:
        import onnx  # noqa: F401  (the export and the quantisation need it)
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ValueError('The onnx-int8 encoder needs onnxruntime and onnx: pip install ".[onnx]"') from None
    import hashlib
    from pathlib import Path

    from .onnx_encoder import OnnxEncoder

    cache = Path(os.environ.get("QA_ONNX_CACHE") or Path.home() / ".cache" / "qa" / "onnx")
    folder = cache / hashlib.sha1(os.path.realpath(model_path).encode()).hexdigest()[:16]
    return OnnxEncoder.exported(model_path, folder, int8=True)


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

    def encode_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                          batch_size: int = 32) -> tuple[np.ndarray, list[np.ndarray]]:
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
        pooled: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        transformer = self.model[0].auto_model
        pad_id = self.tokenizer.pad_token_id or 0
        with self._encode_lock, torch.inference_mode():
            for lo in range(0, len(texts), batch_size):
                rows = order[lo:lo + batch_size]
                width = lengths[rows[0]]
                arrays = {k: np.full((len(rows), width), pad_id if k == "input_ids" else 0, dtype="int64")
                          for k in names}
                offsets = torch.zeros((len(rows), width, 2), dtype=torch.long)
                for j, i in enumerate(rows):
                    for k in names:
                        arrays[k][j, :lengths[i]] = enc_all[k][i]
                    offsets[j, :lengths[i]] = torch.tensor(enc_all["offset_mapping"][i], dtype=torch.long)
                enc = {k: torch.from_numpy(v) for k, v in arrays.items()}
                mask = enc["attention_mask"]
                tokens = transformer(**enc).last_hidden_state  # (batch, length, dim)
                weights = mask.unsqueeze(-1).to(tokens.dtype)
                means = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                vectors[rows] = torch.nn.functional.normalize(means, dim=-1).numpy()
                real = (offsets[..., 1] > offsets[..., 0]) & mask.bool()
                for j, i in enumerate(rows):
                    text_spans = spans[i]
                    if not text_spans:
                        pooled[i] = np.zeros((0, self.dim), dtype="float32")
                        continue
                    bounds = torch.tensor(text_spans, dtype=offsets.dtype)  # (spans, 2)
                    inside = (real[j][None, :] & (offsets[j, :, 0][None, :] >= bounds[:, :1])
                              & (offsets[j, :, 1][None, :] <= bounds[:, 1:])).to(tokens.dtype)
                    counts = inside.sum(1, keepdim=True)
                    span_vectors = inside @ tokens[j] / counts.clamp(min=1)
                    # A span cut off by the window (no tokens inside) takes the chunk's vector.
                    span_vectors = torch.where(counts > 0, span_vectors, means[j][None, :])
                    pooled[i] = torch.nn.functional.normalize(span_vectors, dim=-1).numpy()
        return vectors, pooled

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], batch_size=1)
