"""The offline, quiet environment (qa/environment.py): set by ``import qa`` as defaults, forced by
serve.py, and in place before any model or web library is imported. Each check runs in a fresh
interpreter whose environment holds none of the variables."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from qa.environment import QUIET, apply

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("gradio", "torch", "transformers", "sentence_transformers", "huggingface_hub", "tokenizers")


def _fresh(code: str, **env: str) -> dict:
    """What ``code`` prints as JSON, run by a new interpreter without any of QUIET set."""
    base = {k: v for k, v in os.environ.items() if k not in QUIET}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT), base.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


SHOW = ("import json, os, sys; print(json.dumps({'env': {k: os.environ.get(k) for k in %r}, "
        "'heavy': [m for m in %r if m in sys.modules]}))" % (tuple(QUIET), HEAVY))


def test_importing_qa_sets_the_defaults_and_imports_no_model_or_web_library():
    seen = _fresh("import qa.cli; " + SHOW)
    assert seen["env"] == QUIET
    assert seen["heavy"] == []


def test_a_value_the_caller_set_wins_outside_the_server():
    seen = _fresh("import qa; " + SHOW, HF_HUB_OFFLINE="0", GRADIO_ANALYTICS_ENABLED="True")
    assert seen["env"] == {**QUIET, "HF_HUB_OFFLINE": "0", "GRADIO_ANALYTICS_ENABLED": "True"}


def test_the_server_forces_the_quiet_environment_before_its_imports():
    seen = _fresh("import serve; " + SHOW, HF_HUB_OFFLINE="0", GRADIO_ANALYTICS_ENABLED="True")
    assert seen["env"] == QUIET
    assert seen["heavy"] == []  # gradio and the model load later, in main()


def test_apply_sets_defaults_or_forces():
    environ = {"HF_HUB_OFFLINE": "0"}
    apply(environ=environ)
    assert environ == {**QUIET, "HF_HUB_OFFLINE": "0"}
    apply(force=True, environ=environ)
    assert environ == QUIET
