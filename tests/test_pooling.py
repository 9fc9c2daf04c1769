"""Mean and span pooling (qa/pooling.py), which both encoders share: on a batch worked by hand, in
numpy and in torch, and on the real model against sentence-transformers' own pooling."""
from __future__ import annotations

import numpy as np
import pytest

from qa.pooling import mean_pool, normalize, pool

# One text of 4 word pieces between [CLS] and [SEP], then one padding token; 2 dimensions.
TOKENS = np.array([[[9, 9], [1, 0], [3, 0], [0, 2], [2, 2], [9, 9], [7, 7]]], dtype="float32")
MASK = np.array([[1, 1, 1, 1, 1, 1, 0]])
OFFSETS = np.array([[[0, 0], [0, 3], [4, 6], [7, 9], [10, 12], [0, 0], [0, 0]]])
SPANS = [[(0, 6), (7, 12), (4, 9), (13, 20), (2, 5)]]


def unit(*x: float) -> list[float]:
    v = np.array(x, dtype="float64")
    return list(v / np.linalg.norm(v))


def check(out) -> None:
    assert out.vectors.dtype == np.float32 and out.vectors.shape == (1, 2)
    # The text: the 6 real tokens, specials included (as sentence-transformers pools); not the padding.
    assert np.allclose(out.vectors[0], unit(24, 22))
    (spans,) = out.span_vectors
    assert spans.dtype == np.float32 and spans.shape == (5, 2)
    assert np.allclose(spans[0], unit(4, 0))  # tokens 1 and 2
    assert np.allclose(spans[1], unit(2, 4))  # tokens 3 and 4
    assert np.allclose(spans[2], unit(3, 2))  # tokens 2 and 3
    assert np.allclose(spans[3], out.vectors[0])  # past the last token: the text's vector
    assert np.allclose(spans[4], out.vectors[0])  # no token wholly inside (2, 5)


def test_pooling_worked_by_hand():
    check(pool(TOKENS, MASK, OFFSETS, SPANS))
    assert np.allclose(normalize(mean_pool(TOKENS, MASK)), [unit(24, 22)])


def test_a_text_without_spans_has_no_span_vectors():
    out = pool(np.concatenate([TOKENS, TOKENS]), np.concatenate([MASK, MASK]),
               np.concatenate([OFFSETS, OFFSETS]), [[], SPANS[0]])
    assert out.span_vectors[0].shape == (0, 2) and out.span_vectors[0].dtype == np.float32
    assert np.array_equal(out.vectors[0], out.vectors[1])


def test_torch_tensors_pool_the_same_and_come_back_as_numpy():
    torch = pytest.importorskip("torch")
    out = pool(torch.from_numpy(TOKENS), torch.from_numpy(MASK), torch.from_numpy(OFFSETS), SPANS)
    assert isinstance(out.vectors, np.ndarray) and isinstance(out.span_vectors[0], np.ndarray)
    check(out)


@pytest.mark.model
def test_the_torch_encoder_pools_as_sentence_transformers(encoder):
    """Chunk vectors as the model's own pooling gives them, and a span's vector as the mean of the
    model's token embeddings inside it (computed here apart from qa.pooling)."""
    texts = ["Coal and iron ore made up most of the exports. Seafood went through Dandong.",
             "A passenger ferry crossed the Tumen River on Monday."]
    spans = [[(0, 47), (48, 76)], [(2, 17)]]
    vectors, span_vectors = encoder.encode_with_spans(texts, spans)
    assert np.allclose(vectors, encoder.encode(texts), atol=1e-5)
    for text, text_spans, got in zip(texts, spans, span_vectors):
        tokens = encoder.model.encode(text, output_value="token_embeddings", convert_to_numpy=True)
        offsets = encoder.tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
        assert len(offsets) == len(tokens)
        for (start, end), vector in zip(text_spans, got):
            inside = [i for i, (s, e) in enumerate(offsets) if e > s and s >= start and e <= end]
            mean = np.asarray(tokens)[inside].mean(0)
            assert np.allclose(vector, mean / np.linalg.norm(mean), atol=1e-5)
