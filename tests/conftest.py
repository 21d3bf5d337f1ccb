"""Shared fixtures. Data locations come from the environment (MNIST_ROOT, PEN_DIGITS), defaulting
to ../shared beside the checkout. A newcomer without that data gets skips with a reason; CI sets
REQUIRE_DATA=1 so that a missing data set fails the run instead of silently skipping."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def _need(path: Path, what: str) -> Path:
    if path.exists():
        return path
    reason = f"{what} not found at {path}"
    if os.environ.get("REQUIRE_DATA") == "1":
        pytest.fail(f"{reason} (REQUIRE_DATA=1 makes this an error)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    root = Path(os.environ.get("MNIST_ROOT") or SHARED / "mnist")
    return _need(root / "MNIST" / "raw" / "t10k-images-idx3-ubyte", "MNIST").parent.parent.parent


@pytest.fixture(scope="session")
def pen_digits_path() -> Path:
    return _need(Path(os.environ.get("PEN_DIGITS") or SHARED / "pen_digits" / "dev.jsonl"), "pen digits")


@pytest.fixture(scope="session")
def mnist(mnist_root):
    from train import load_mnist
    return load_mnist(mnist_root)


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """An empty runs folder for the app (RUNS_DIR) in this test's tmp_path."""
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """2,000 training digits, 1,000 each to validate and test: a run takes well under a second."""
    return replace(mnist, train_x=mnist.train_x[:2000], train_y=mnist.train_y[:2000], valid_x=mnist.valid_x[:1000],
                   valid_y=mnist.valid_y[:1000], test_x=mnist.test_x[:1000], test_y=mnist.test_y[:1000])
