"""Token embeddings to normalised vectors: a text's mean pooling, and the same mean restricted
to each character span inside the text (its sentences).

Both encoders pool here, the torch one (``qa/torch_encoder.py``) on torch tensors and the
onnxruntime one (``qa/onnx_encoder.py``) on numpy arrays: one formula, run by the library
that holds the tokens. (The same formula in numpy and in torch differs in the last bits, and
no vector may change with where the code lives.)
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

Spans = Sequence[Sequence[tuple[int, int]]]  # per text, (start, end) character offsets


class Embedded(NamedTuple):
    """Vectors of texts and, from the same forward pass, of the character spans inside them."""

    vectors: np.ndarray  # (texts, dim) float32, unit length
    span_vectors: list[np.ndarray]  # per text, (its spans, dim) float32, unit length


def normalize(x: np.ndarray) -> np.ndarray:
    """``torch.nn.functional.normalize(x, dim=-1)`` in numpy: x / max(||x||, 1e-12)."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class _Library(NamedTuple):
    """The operations whose numpy and torch spellings differ."""

    cast: Callable[[Any, Any], Any]  # (array, dtype)
    array: Callable[[Any, Any], Any]  # (nested lists, dtype): a new array
    floor: Callable[[Any, float], Any]  # (array, lowest): elementwise max
    normalize: Callable[[Any], Any]  # along the last axis


_NUMPY = _Library(np.ndarray.astype, np.asarray, np.maximum, normalize)


@functools.cache
def _torch() -> _Library:
    import torch  # here: the onnx encoder never needs it

    return _Library(torch.Tensor.to, lambda values, dtype: torch.tensor(values, dtype=dtype), torch.clamp_min,
                    functools.partial(torch.nn.functional.normalize, dim=-1))


def _mean(tokens, mask, lib: _Library):
    weights = lib.cast(mask[..., None], tokens.dtype)
    return (tokens * weights).sum(1) / lib.floor(weights.sum(1), 1e-9)


def mean_pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean of each text's real (unmasked) token embeddings: sentence-transformers' pooling."""
    return _mean(tokens, mask, _NUMPY)


def pool(tokens, mask, offsets, spans: Spans) -> Embedded:
    """One padded batch's text vectors and span vectors, as numpy float32.

    ``tokens`` (batch, length, dim) float32, ``mask`` (batch, length), ``offsets`` (batch,
    length, 2): the tokenizer's character offsets (special and padding tokens empty), all
    numpy arrays or all torch tensors; ``spans``: one list of spans per text. A span's vector
    is the mean of the tokens lying wholly inside it.
    """
    lib = _NUMPY if isinstance(tokens, np.ndarray) else _torch()
    means = _mean(tokens, mask, lib)
    dim = tokens.shape[-1]
    real = (offsets[..., 1] > offsets[..., 0]) & (mask != 0)
    span_vectors = []
    for j, text_spans in enumerate(spans):
        if not text_spans:
            span_vectors.append(np.zeros((0, dim), dtype="float32"))
            continue
        bounds = lib.array(text_spans, offsets.dtype)  # (spans, 2)
        inside = lib.cast(real[j][None, :] & (offsets[j, :, 0][None, :] >= bounds[:, :1])
                          & (offsets[j, :, 1][None, :] <= bounds[:, 1:]), tokens.dtype)
        counts = inside.sum(1)[:, None]
        pooled = inside @ tokens[j] / lib.floor(counts, 1)
        # A span cut off by the window (no tokens inside) takes the chunk's vector.
        pooled[counts[:, 0] == 0] = means[j]
        span_vectors.append(np.asarray(lib.normalize(pooled), dtype="float32"))
    return Embedded(np.asarray(lib.normalize(means), dtype="float32"), span_vectors)
