"""The model's transformer run by onnxruntime instead of torch (issue 5: faster encoders): its
export to a local ONNX file (and int8 quantisation), and the encoder that runs that file.

Nothing is downloaded: :func:`export` writes the transformer of a loaded :class:`qa.torch_encoder.Encoder`
to a local folder with ``torch.onnx.export`` (inputs ``input_ids``, ``attention_mask``,
``token_type_ids``; output ``last_hidden_state``; dynamic batch and sequence axes), and can
quantise it to int8 with onnxruntime's dynamic quantisation (MatMul weights only, per channel),
keeping, of the settings whose embeddings stay at cosine >= ``min_cosine`` to the fp32 export
(whole texts and their sentences alike), the closest: which is closest depends on the CPU's int8
kernels (on an AVX2 machine without VNNI, unsigned weights drift less on sentence spans).

:class:`OnnxEncoder` is an :class:`~qa.torch_encoder.Encoder` (same tokenizer, ``count_tokens``,
``truncate``, ``max_tokens``, ``dim``) whose ``encode``, ``encode_query`` and
``encode_with_spans`` run the forward pass in an ``onnxruntime.InferenceSession``, with the
same tokenisation, return types and order as the torch encoder, and its pooling
(``qa/pooling.py``). Needs ``onnxruntime`` (and ``onnx`` for the export and quantisation), not
``sentence-transformers[onnx]`` or optimum.

    enc = OnnxEncoder.exported(bundled_model_path(), "/tmp/qa-onnx/model", int8=True)
    build(settings, encoder=enc)
"""
from __future__ import annotations

import copy
import json
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .answer import sentences
from .pooling import Embedded, Spans, mean_pool, normalize, pool
from .torch_encoder import Encoder

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
META_FILE = "export.json"
OPSET = 17

# Texts the int8 model is checked on (news-like sentences and a long chunk); cosine to fp32.
CHECK_TEXTS = (
    "When did China ban seafood imports from North Korea?",
    "The ministry said on Tuesday that coal shipments had stopped in August, citing UN sanctions.",
    "Chinese fishing boats met North Korean ships at sea and moved the cargo at night, "
    "according to satellite images reviewed by the panel of experts.",
    "Super Bowl 50 was an American football game to determine the champion of the National "
    "Football League for the 2015 season. The Denver Broncos defeated the Carolina Panthers 24-10 "
    "to earn their third Super Bowl title. The game was played on February 7, 2016, at Levi's "
    "Stadium in the San Francisco Bay Area at Santa Clara, California. " * 2,
    "Which minerals were smuggled into China?",
    "In 1893 the city council voted to build a new water works, which opened four years later.",
)

# quantize_dynamic settings, each tried; the one closest to fp32 is kept (MatMul only, per channel).
QUANT_CANDIDATES: tuple[dict, ...] = (
    {"weight_type": "QInt8", "reduce_range": False},
    {"weight_type": "QInt8", "reduce_range": True},
    {"weight_type": "QUInt8", "reduce_range": False},
    {"weight_type": "QUInt8", "reduce_range": True},
)


def _wrap(auto_model):
    """A module computing ``auto_model(...).last_hidden_state`` from positional inputs, for the tracer."""
    import torch

    class Transformer(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    return Transformer(auto_model)


def export(encoder: Encoder, folder: str | os.PathLike, *, int8: bool = False, overwrite: bool = False,
           check_texts: Sequence[str] = CHECK_TEXTS, min_cosine: float = 0.99,
           log: Callable[[str], None] | None = None) -> Path:
    """Export ``encoder``'s transformer to ``folder``/model.onnx (and model.int8.onnx when ``int8``).

    Returns the path of the model to run (the int8 one when asked). An existing file is reused
    unless ``overwrite``. Each of ``QUANT_CANDIDATES`` is tried on ``check_texts``: the lowest
    cosine to fp32 of their vectors and of their sentences' span vectors (what the quote and the
    sentence scores read) decides, the highest kept. ``folder``/export.json records seconds,
    sizes, settings and cosines.
    Raises RuntimeError when no quantisation setting reaches ``min_cosine``.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / META_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not overwrite else {}
    fp32 = folder / FP32_FILE
    if overwrite or not fp32.exists():
        started = time.perf_counter()
        # A copy: the live encoder's module is never touched by the tracer.
        model = _wrap(copy.deepcopy(encoder.model[0].auto_model).eval())
        example = encoder.tokenizer(["An example to trace.", "A second, longer example to trace the padding."],
                                    padding=True, return_tensors="pt")
        tmp = fp32.with_suffix(".tmp")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notices and the legacy-exporter deprecation
            # The TorchScript exporter (dynamo=False): the default dynamo one needs onnxscript.
            torch.onnx.export(
                model, tuple(example[name] for name in INPUTS), str(tmp), input_names=list(INPUTS),
                output_names=[OUTPUT], opset_version=OPSET, do_constant_folding=True, dynamo=False,
                dynamic_axes={name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)})
        tmp.replace(fp32)
        (folder / INT8_FILE).unlink(missing_ok=True)  # made from the previous fp32 file
        meta = {"model": encoder.path, "opset": OPSET, "export_seconds": round(time.perf_counter() - started, 2),
                "fp32_bytes": fp32.stat().st_size}
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        if log:
            log(f"exported {fp32} in {meta['export_seconds']} s")
    if not int8:
        return fp32
    out = folder / INT8_FILE
    if out.exists() and not overwrite:
        return out
    reference = _check_vectors(_session(fp32, 2), encoder, check_texts)
    tried, files, cosines = [], [], []
    for n, candidate in enumerate(QUANT_CANDIDATES):
        started = time.perf_counter()
        files.append(out.with_suffix(f".{n}.tmp"))
        _quantize(fp32, files[-1], **candidate)
        seconds = time.perf_counter() - started
        vectors = _check_vectors(_session(files[-1], 2), encoder, check_texts)
        cosines.append(float((vectors * reference).sum(1).min()))
        tried.append({**candidate, "min_cosine": round(cosines[-1], 5), "seconds": round(seconds, 2)})
        if log:
            log(f"int8 {candidate}: min cosine {cosines[-1]:.4f} to fp32 ({seconds:.1f} s)")
    best = int(np.argmax(cosines))  # the first of equals
    kept = best if cosines[best] >= min_cosine else None
    for i, path in enumerate(files):
        if i != kept:
            path.unlink()
    if kept is None:
        raise RuntimeError(f"no int8 setting reached cosine {min_cosine} to the fp32 export: {tried}")
    files[best].replace(out)
    candidate, cosine, seconds = QUANT_CANDIDATES[best], cosines[best], tried[best]["seconds"]
    meta.update({"int8": {**candidate, "per_channel": True, "op_types": ["MatMul"],
                          "min_cosine_to_fp32": round(cosine, 5), "seconds": round(seconds, 2),
                          "bytes": out.stat().st_size}, "int8_tried": tried})
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return out


def _quantize(source: Path, target: Path, *, weight_type: str, reduce_range: bool) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), op_types_to_quantize=["MatMul"], per_channel=True,
                     reduce_range=reduce_range, weight_type=getattr(QuantType, weight_type))


def _session(path: str | os.PathLike, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    # No busy-waiting of idle pool threads after a run: on 2 shared cores they would take CPU from
    # torch, the web server and other processes between calls.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _feed(encoded) -> dict[str, np.ndarray]:
    return {name: np.asarray(encoded[name], dtype="int64") for name in INPUTS}


def _check_vectors(session, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """The texts' mean-pooled vectors, then those of their sentences (``qa.answer.sentences``,
    as the build cuts them), one forward pass: what ``export`` compares to fp32."""
    enc = encoder.tokenizer(list(texts), padding=True, truncation=True, max_length=encoder.max_tokens,
                            return_tensors="np", return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping")
    tokens = session.run([OUTPUT], _feed(enc))[0]
    pooled = pool(tokens, enc["attention_mask"], offsets, [sentences(text) for text in texts])
    parts = [pooled.vectors, *[v for v in pooled.span_vectors if len(v)]]
    return np.vstack(parts).astype("float32")


class OnnxEncoder(Encoder):
    """An :class:`Encoder` whose forward pass runs in onnxruntime.

    ``threads`` intra-op threads for batches; single texts (queries) run in a second session
    with ``query_threads`` (opened on first use; ``None`` shares the batch session).
    """

    def __init__(self, model_path: str, onnx_path: str | os.PathLike, *, threads: int = 2,
                 query_threads: int | None = 1) -> None:
        super().__init__(model_path)
        self._open(onnx_path, threads, query_threads)

    @classmethod
    def exported(cls, model_path: str, folder: str | os.PathLike, *, int8: bool = False, threads: int = 2,
                 query_threads: int | None = 1, log: Callable[[str], None] | None = None) -> "OnnxEncoder":
        """Load ``model_path``, export (or reuse) its ONNX model in ``folder``, and run it."""
        self = cls.__new__(cls)
        Encoder.__init__(self, model_path)
        self._open(export(self, folder, int8=int8, log=log), threads, query_threads)
        return self

    def _open(self, onnx_path: str | os.PathLike, threads: int, query_threads: int | None) -> None:
        self.onnx_path = Path(onnx_path)
        self.threads, self.query_threads = threads, query_threads
        self.session = _session(self.onnx_path, threads)
        self._query_session = None if query_threads is not None else self.session
        self._query_lock = threading.Lock()

    @property
    def query_session(self):
        with self._query_lock:
            if self._query_session is None:
                self._query_session = _session(self.onnx_path, int(self.query_threads))
            return self._query_session

    def _forward(self, session, batch: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token embeddings and attention mask, tokenised exactly as ``SentenceTransformer.encode``."""
        features = self.model.preprocess(list(batch))
        feed = {name: features[name].numpy().astype("int64", copy=False) for name in INPUTS}
        return session.run([OUTPUT], feed)[0], feed["attention_mask"]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        texts = list(texts)
        session = self.query_session if len(texts) == 1 else self.session
        # Longest first, as sentence-transformers does: less padding in each batch.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dim), dtype="float32")
        with self._encode_lock:
            for lo in range(0, len(texts), batch_size):
                batch = [texts[i] for i in order[lo:lo + batch_size]]
                tokens, mask = self._forward(session, batch)
                vectors[lo:lo + len(batch)] = normalize(mean_pool(tokens, mask))
        return np.ascontiguousarray(vectors[np.argsort(order)], dtype="float32")

    def encode_with_spans(self, texts: Sequence[str], spans: Spans, batch_size: int = 32) -> Embedded:
        """As :meth:`Encoder.encode_with_spans`: chunk vectors and the vectors of character spans
        inside them (mean of the token embeddings inside each span, normalised), one forward pass."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        texts, spans = [texts[i] for i in order], [spans[i] for i in order]
        vectors = np.zeros((len(texts), self.dim), dtype="float32")
        span_vectors: list[np.ndarray] = []
        with self._encode_lock:
            for lo in range(0, len(texts), batch_size):
                batch = texts[lo:lo + batch_size]
                enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_tokens,
                                     return_tensors="np", return_offsets_mapping=True)
                offsets = enc.pop("offset_mapping")
                tokens = self.session.run([OUTPUT], _feed(enc))[0]  # (batch, length, dim)
                pooled = pool(tokens, enc["attention_mask"], offsets, spans[lo:lo + len(batch)])
                vectors[lo:lo + len(batch)] = pooled.vectors
                span_vectors.extend(pooled.span_vectors)
        back = np.argsort(order)
        return Embedded(vectors[back], [span_vectors[i] for i in back])
