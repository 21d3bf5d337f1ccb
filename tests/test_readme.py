"""The README's Python examples run as pasted: every ```python block, in a fresh interpreter, from the
repository's root and from another folder (with the repository on PYTHONPATH, as the README says), with
the API examples against a real `python app.py`."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from harness.app_driver import REPO, serve_app

README_URL = "http://127.0.0.1:7860/"     # the address the README's examples call; the test's server is elsewhere
BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("readme")
    with serve_app({"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(folder / "runs"),
                    "FEEDBACK_DIR": str(folder / "feedback")}) as url:
        yield url


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2 and any(README_URL in block for block in BLOCKS)


@pytest.mark.parametrize("where", ["root", "elsewhere"])
@pytest.mark.parametrize("block", range(len(BLOCKS)))
def test_a_readme_example_runs_as_pasted(app, block, where, tmp_path):
    code = BLOCKS[block].replace(README_URL, app)
    cwd = REPO if where == "root" else tmp_path
    before = set(REPO.iterdir())
    try:
        result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        for made in set(REPO.iterdir()) - before:   # what an example saved in the root (digit.png)
            made.unlink()
    assert result.returncode == 0, f"README example {block + 1} failed in {where}:\n{code}\n{result.stderr[-3000:]}"
