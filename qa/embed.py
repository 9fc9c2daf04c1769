"""Which encoder a process uses: one per model directory and backend (torch or onnx-int8),
loaded on first use and shared by the build, the engine and the benchmarks."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from .onnx_encoder import OnnxEncoder
from .torch_encoder import Encoder

__all__ = ["Encoder", "get_encoder"]

_MODELS: dict[str, Encoder] = {}
_LOCK = threading.Lock()


def get_encoder(model_path: str, backend: str = "torch") -> Encoder:
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


def _onnx_int8(model_path: str) -> OnnxEncoder:
    try:
        import onnx  # noqa: F401  (the export and the quantisation need it)
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ValueError('The onnx-int8 encoder needs onnxruntime and onnx: pip install ".[onnx]"') from None
    cache = Path(os.environ.get("QA_ONNX_CACHE") or Path.home() / ".cache" / "qa" / "onnx")
    folder = cache / hashlib.sha1(os.path.realpath(model_path).encode()).hexdigest()[:16]
    return OnnxEncoder.exported(model_path, folder, int8=True)
