"""The README's usage snippets run exactly as written (issue 17)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest
from engine_fixtures import ROOT, sample_index  # noqa: F401

pytestmark = pytest.mark.model

README = (ROOT / "README.md").read_text(encoding="utf-8")

# Pastes the snippet into an interactive console line by line, as a user at the Python prompt
# would; prints each line's displayed value, and exits 1 on a SyntaxError or any exception.
CONSOLE = r'''
import code, sys
lines = sys.stdin.read().splitlines()
shown = []
console = code.InteractiveConsole()
def display(value):
    if value is not None:
        shown.append(value)
sys.displayhook = display
failed = []
console.showsyntaxerror = lambda *a, **k: failed.append("SyntaxError")
console.showtraceback = lambda *a, **k: failed.append(repr(sys.exc_info()[1]))
for line in lines + [""]:
    before = len(shown)
    console.push(line)
    if "# always" in line:
        print("ALWAYS", shown[before:] == [True])
    if failed:
        print("FAILED", line, failed)
        sys.exit(1)
'''


def python_api_snippet() -> str:
    section = README[README.index("### Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_python_example_pastes_into_a_python_prompt(tmp_path):
    (tmp_path / "corpus").symlink_to(ROOT / "corpus")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", CONSOLE], input=python_api_snippet(), text=True,
                         capture_output=True, cwd=tmp_path, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "ALWAYS True" in run.stdout


def test_the_cli_example_runs_as_written_after_the_set_up_command(sample_index):
    setup = re.search(r"```bash\n(python3 -m venv \.venv[^\n]*)\n```", README).group(1)
    assert "pip install -e ." in setup  # which puts the console script in .venv/bin
    example = re.search(r"`(\.venv/bin/qa ask [^`]+)`", README).group(1)
    argv = shlex.split(example.replace("--index index", f"--index {sample_index}"))
    qa = ROOT / argv[0]
    if not qa.exists():  # a checkout whose environment is elsewhere (a work tree's link)
        qa = ROOT / os.path.realpath(ROOT / ".venv") / "bin" / "qa"
    assert qa.exists(), f"{argv[0]} missing: the set-up command installs it"
    run = subprocess.run([str(qa), *argv[1:]], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert "[1]" in run.stdout
