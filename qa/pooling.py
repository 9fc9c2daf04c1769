"""Token embeddings to normalised vectors: a text's mean pooling, and the same mean restricted
to each character span inside the text (its sentences).

Both encoders pool here, the torch one (``qa/torch_encoder.py``) on torch tensors and the
onnxruntime one (``qa/onnx_encoder.py``) on numpy arrays: one formula, run by the library
that holds the tokens. (The same formula in numpy and in torch differs in the last bits, and
no vector may change with where the code lives.)
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

Spans = Sequence[Sequence[tuple[int, int]]]  # per text, (start, end) character offsets


class Embedded(NamedTuple):
    """Vectors of texts and, from the same forward pass, of the character spans inside them."""

    vectors: np.ndarray  # (texts, dim) float32, unit length
    span_vectors: list[np.ndarray]  # per text, (its spans, dim) float32, unit length


class _Numpy:
    """The operations whose numpy and torch spellings differ, in numpy."""

    @staticmethod
    def cast(x, like):
        return x.astype(like.dtype)

    @staticmethod
    def floor(x, lowest: float):
        return np.maximum(x, lowest)

    @staticmethod
    def normalize(x):
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    @staticmethod
    def where(condition, x, y):
        return np.where(condition, x, y)

    @staticmethod
    def array(values, like):
        return np.asarray(values, dtype=like.dtype).reshape(-1, 2)

    @staticmethod
    def numpy(x) -> np.ndarray:
        return x.astype("float32")


class _Torch:
    """The same operations in torch (imported when first used: the onnx encoder never needs it)."""

    @staticmethod
    def cast(x, like):
        return x.to(like.dtype)

    @staticmethod
    def floor(x, lowest: float):
        return x.clamp(min=lowest)

    @staticmethod
    def normalize(x):
        import torch

        return torch.nn.functional.normalize(x, dim=-1)

    @staticmethod
    def where(condition, x, y):
        import torch

        return torch.where(condition, x, y)

    @staticmethod
    def array(values, like):
        import torch

        return torch.tensor(values, dtype=like.dtype)

    @staticmethod
    def numpy(x) -> np.ndarray:
        return x.numpy()


def _ops(x: Any):
    return _Numpy if isinstance(x, np.ndarray) else _Torch


def _mean(tokens, mask, ops):
    weights = ops.cast(mask[..., None], tokens)
    return (tokens * weights).sum(1) / ops.floor(weights.sum(1), 1e-9)


def mean_pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean of each text's real (unmasked) token embeddings: sentence-transformers' pooling."""
    return _mean(tokens, mask, _Numpy)


def normalize(x: np.ndarray) -> np.ndarray:
    """``torch.nn.functional.normalize(x, dim=-1)`` in numpy: x / max(||x||, 1e-12)."""
    return _Numpy.normalize(x)


def pool(tokens, mask, offsets, spans: Spans) -> Embedded:
    """One padded batch's text vectors and span vectors, as numpy float32.

    ``tokens`` (batch, length, dim) float32, ``mask`` (batch, length), ``offsets`` (batch,
    length, 2): the tokenizer's character offsets (special and padding tokens empty), all
    numpy arrays or all torch tensors; ``spans``: one list of spans per text. A span's vector
    is the mean of the tokens lying wholly inside it.
    """
    ops = _ops(tokens)
    means = _mean(tokens, mask, ops)
    dim = tokens.shape[-1]
    real = (offsets[..., 1] > offsets[..., 0]) & (mask != 0)
    span_vectors = []
    for j, text_spans in enumerate(spans):
        if not text_spans:
            span_vectors.append(np.zeros((0, dim), dtype="float32"))
            continue
        bounds = ops.array(text_spans, offsets)  # (spans, 2)
        inside = ops.cast(real[j][None, :] & (offsets[j, :, 0][None, :] >= bounds[:, :1])
                          & (offsets[j, :, 1][None, :] <= bounds[:, 1:]), tokens)
        counts = inside.sum(1)[:, None]
        pooled = inside @ tokens[j] / ops.floor(counts, 1)
        # A span cut off by the window (no tokens inside) takes the chunk's vector.
        pooled = ops.where(counts > 0, pooled, means[j][None, :])
        span_vectors.append(ops.numpy(ops.normalize(pooled)))
    return Embedded(ops.numpy(ops.normalize(means)), span_vectors)
