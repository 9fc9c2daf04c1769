"""The ONNX encoder (qa/onnx_encoder.py) against the torch Encoder, on the real bundled model.

Skipped when onnxruntime is not installed (it is an optional dependency).
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from qa.embed import get_encoder  # noqa: E402
from qa.onnx_encoder import QUANT_CANDIDATES, OnnxEncoder, export  # noqa: E402
from qa.settings import bundled_model_path  # noqa: E402

TEXTS = [
    "When did China ban seafood imports from North Korea?",
    "China banned seafood imports from North Korea in August 2017. The ban followed new UN sanctions.",
    "  Leading and trailing spaces.  ",
    "Chinese boats met North Korean ships at sea and moved coal at night. " * 30,  # past 256 word pieces
    "Who won the match?",
]
# Word-long texts: the fp32 export matches them too; int8 drifts further on them (cosine ~0.96-0.99
# measured for single words), so they are checked on fp32 only.
SHORT = ["x", "coal", "North Korea"]


def _spans(text: str) -> list[tuple[int, int]]:
    """Sentence-like spans: each '. '-separated piece (in TEXTS[3], many lie past the 256-token window)."""
    spans, start = [], 0
    while (end := text.find(". ", start)) != -1:
        spans.append((start, end + 1))
        start = end + 2
    spans.append((start, len(text)))
    return spans


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    torch_encoder = get_encoder(bundled_model_path())
    fp32 = export(torch_encoder, folder)
    int8 = export(torch_encoder, folder, int8=True)
    return torch_encoder, {"fp32": OnnxEncoder(bundled_model_path(), fp32),
                           "int8": OnnxEncoder(bundled_model_path(), int8)}


@pytest.mark.parametrize("name", ["fp32", "int8"])
def test_encode_matches_torch(encoders, name):
    torch_encoder, onnx = encoders
    ref = torch_encoder.encode(TEXTS)
    got = onnx[name].encode(TEXTS, batch_size=2)
    assert got.dtype == np.float32 and got.shape == ref.shape and got.flags.c_contiguous
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4)
    assert (got * ref).sum(1).min() >= 0.99
    query = onnx[name].encode_query(TEXTS[0])
    assert onnx[name]._query_session not in (None, onnx[name].session)  # its own 1-thread session
    assert query.shape == (1, torch_encoder.dim)
    assert float(query[0] @ torch_encoder.encode_query(TEXTS[0])[0]) >= 0.99
    assert onnx[name].encode([]).shape == (0, torch_encoder.dim)
    if name == "fp32":
        assert (got * ref).sum(1).min() >= 0.9999
        assert (onnx[name].encode(SHORT) * torch_encoder.encode(SHORT)).sum(1).min() >= 0.9999


@pytest.mark.parametrize("name", ["fp32", "int8"])
def test_encode_with_spans_matches_torch(encoders, name):
    torch_encoder, onnx = encoders
    spans = [_spans(t) for t in TEXTS]
    spans[4] = []  # a text without spans
    ref_vectors, ref_pooled = torch_encoder.encode_with_spans(TEXTS, spans, batch_size=2)
    vectors, pooled = onnx[name].encode_with_spans(TEXTS, spans, batch_size=2)
    assert vectors.dtype == np.float32 and vectors.shape == ref_vectors.shape
    assert (vectors * ref_vectors).sum(1).min() >= 0.99
    assert len(pooled) == len(ref_pooled)
    cosines = []
    for got, ref in zip(pooled, ref_pooled):
        assert got.dtype == np.float32 and got.shape == ref.shape
        cosines.extend((got * ref).sum(1).tolist())
    assert min(cosines) >= 0.99, sorted(cosines)[:5]
    # A span past the window takes the chunk's own vector, as in the torch encoder.
    assert np.allclose(pooled[3][-1], vectors[3], atol=1e-5)


def test_int8_export_keeps_the_setting_closest_to_fp32(encoders, tmp_path):
    """Every quantisation setting is tried and the closest to fp32 (texts and their sentences)
    is kept: which one that is depends on the CPU's int8 kernels. None close enough: an error,
    and no file left behind."""
    import json
    import shutil

    torch_encoder, onnx = encoders
    meta = json.loads((onnx["int8"].onnx_path.parent / "export.json").read_text())
    tried = meta["int8_tried"]
    assert len(tried) == len(QUANT_CANDIDATES)
    assert meta["int8"]["min_cosine_to_fp32"] == max(t["min_cosine"] for t in tried) >= 0.99
    closest = max(tried, key=lambda t: t["min_cosine"])
    assert {k: meta["int8"][k] for k in ("weight_type", "reduce_range")} == \
        {k: closest[k] for k in ("weight_type", "reduce_range")}
    shutil.copy(onnx["fp32"].onnx_path, tmp_path / onnx["fp32"].onnx_path.name)
    with pytest.raises(RuntimeError, match="no int8 setting reached cosine 1.01"):
        export(torch_encoder, tmp_path, int8=True, min_cosine=1.01)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_tokenizer_helpers_are_the_encoders(encoders):
    """count_tokens, truncate, max_tokens and dim describe what the ONNX session is fed and returns
    (the chunker sizes chunks with them), not only what the torch encoder's tokenizer says."""
    _, onnx = encoders
    enc = onnx["fp32"]
    for text in TEXTS[:3] + SHORT:
        _, mask = enc._forward(enc.session, [text])
        assert int(mask.sum()) == enc.count_tokens(text) + 2  # [CLS] and [SEP] besides the word pieces
    assert enc.session.get_outputs()[0].shape[-1] == enc.dim == enc.encode(TEXTS[:1]).shape[1]
    # The session sees max_tokens tokens of a long text: cut to max_tokens - 2 word pieces by
    # truncate, the text gives the same vector to the bit; one word piece fewer does not.
    long = TEXTS[3]
    assert enc.count_tokens(long) > enc.max_tokens
    window = enc.truncate(long, enc.max_tokens - 2)
    assert enc.count_tokens(window) == enc.max_tokens - 2
    assert np.array_equal(enc.encode([window]), enc.encode([long]))
    assert not np.array_equal(enc.encode([enc.truncate(long, enc.max_tokens - 3)]), enc.encode([long]))


def test_an_index_built_with_the_int8_encoder_is_queried_with_it(tmp_path, monkeypatch):
    """QA_ENCODER=onnx-int8 end to end: the manifest names the encoder, a later open uses it
    without being told, and opening it as a torch index is refused rather than mixed."""
    from engine_fixtures import SAMPLE_CORPUS

    from qa import Engine, IndexProblem
    from qa.embed import get_encoder as shared

    monkeypatch.setenv("QA_ONNX_CACHE", str(tmp_path / "cache"))
    engine = Engine.build(SAMPLE_CORPUS, tmp_path / "index", encoder="onnx-int8")
    assert engine.manifest["model"].endswith("[onnx-int8]")
    assert engine.manifest["settings"]["encoder"] == "onnx-int8"
    assert (tmp_path / "cache").is_dir()
    reopened = Engine.open(tmp_path / "index")
    assert reopened.settings.encoder == "onnx-int8"
    assert isinstance(reopened.encoder, OnnxEncoder) and reopened.encoder is shared(bundled_model_path(), "onnx-int8")
    question = "Which minerals made up most of the exports after Kim Jong-un's fourth trip to China?"
    torch_engine = Engine.build(SAMPLE_CORPUS, tmp_path / "torch-index")
    a, b = reopened.ask(question, k=3), torch_engine.ask(question, k=3)
    # Close runners-up may swap (cosine >= 0.99, not 1); the answer itself does not.
    assert (a.passages[0].doc_id, a.passages[0].start) == (b.passages[0].doc_id, b.passages[0].start)
    with pytest.raises(IndexProblem, match=r"onnx-int8"):
        Engine.open(tmp_path / "index", encoder="torch")
    with pytest.raises(ValueError, match="Unknown encoder"):
        shared(bundled_model_path(), "tensorrt")
