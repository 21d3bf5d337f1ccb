"""The project's layers, read from its own source: the model never imports training or the app,
training never imports the app, the app never imports the benches, the harness or the entry point,
the benches, scripts and harness never import the tests, and no package imports another in a cycle. A spawned training process (which re-imports the main script)
loads neither Gradio nor the Spaces glue."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import REPO

PACKAGES = ("mnist_model", "train", "webapp", "harness", "bench", "scripts", "tests")
FORBIDDEN = {"mnist_model": {"train", "webapp", "harness", "bench", "scripts", "tests", "app"},
             "train": {"webapp", "harness", "bench", "scripts", "tests", "app"},
             "webapp": {"harness", "bench", "scripts", "tests", "app"},
             "harness": {"bench", "scripts", "tests", "app"},
             "bench": {"scripts", "tests", "app"}, "scripts": {"tests", "app"}}


def imported_packages(package: str) -> set[str]:
    """Top-level project names the modules of `package` import, relative imports resolved."""
    names = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.add(package if node.level else (node.module or "").split(".")[0])
    return names & {*PACKAGES, "app"}


@pytest.mark.parametrize("package", FORBIDDEN)
def test_lower_layers_never_import_higher_ones(package):
    assert not imported_packages(package) & FORBIDDEN[package]


def test_packages_import_each_other_without_cycles():
    graph = {p: imported_packages(p) - {p} for p in PACKAGES}

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    assert [p for p in PACKAGES if reaches(p, p)] == []


@pytest.mark.parametrize("code", [
    "import webapp.training.worker",                                                          # the child's target
    "import runpy; runpy.run_path('app.py', run_name='__mp_main__')",               # how spawn loads app.py
])
def test_a_training_process_imports_neither_gradio_nor_spaces(code):
    probe = f"{code}\nimport sys\nprint(sorted({{'gradio', 'spaces'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
