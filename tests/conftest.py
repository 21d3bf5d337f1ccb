"""Shared fixtures. MNIST comes from $MNIST_ROOT, else data/ in the repo, downloaded there on first use
(as the CLI does); the pen digits from $PEN_DIGITS, else the dev set committed in data/pen_digits/.
Where MNIST can be neither read nor downloaded (offline, say), its tests skip, reported as one line with
the reason (pytest_runtest_makereport folds them); CI sets REQUIRE_DATA=1, which makes that a failure."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnist_model import DigitRecognizer, to_mnist
from train import DataError, load_mnist
from train.adapt import Replay
from train.data import RAW_FILES
from train.pen_digits import DEFAULT_PATH as PEN_DIGITS
from train.pen_digits import load_pen_digits, render_sketchpad

REPO = Path(__file__).resolve().parent.parent


def _need(path: Path, what: str) -> Path:
    if path.exists():
        return path
    _unavailable(f"{what} not found at {path}")


DATA_SKIP = "data missing: "   # the prefix of the skips that pytest_runtest_makereport folds into one line


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_DATA") == "1":
        pytest.fail(f"{reason} (REQUIRE_DATA=1 makes this an error)", pytrace=False)
    pytest.skip(DATA_SKIP + reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Every test skipped for missing data is reported at this file's one line, so that `-ra` shows
    "SKIPPED [85] ...: data missing: ..." once instead of 85 copies of the reason."""
    report = (yield).get_result()
    if report.skipped and isinstance(report.longrepr, tuple) and DATA_SKIP in report.longrepr[2]:
        report.longrepr = (__file__, _unavailable.__code__.co_firstlineno, report.longrepr[2])


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    root = Path(os.environ.get("MNIST_ROOT") or REPO / "data")
    if not all((root / "MNIST" / "raw" / name).is_file() for name in RAW_FILES):
        try:
            load_mnist(root)                   # downloads into root, as `python -m train` does
        except DataError as e:
            # The first line says where MNIST was looked for and how to point at it; the rest lists
            # every mirror torchvision tried.
            _unavailable(str(e).splitlines()[0])
    return root


@pytest.fixture(scope="session")
def pen_digits_path() -> Path:
    return _need(Path(os.environ.get("PEN_DIGITS") or PEN_DIGITS), "pen digits")


@pytest.fixture(scope="session")
def mnist(mnist_root):
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


@pytest.fixture(scope="session")
def reference(pen_digits_path, tmp_path_factory):
    """A pen digit as uploaded files, and the in-process recognizer's probabilities for it
    (harness.app_driver.still_serving checks a server against it)."""
    from harness.app_driver import reference_sketch

    return reference_sketch(pen_digits_path, tmp_path_factory.mktemp("reference"))


# Personal models (train.adapt, webapp.draw.personal): the shipped model, MNIST to replay, and dev pen digits
# it misreads, as a visitor would correct them.
MISREAD_SEARCHED = 600      # dev digits searched for ones the shipped model misreads


@pytest.fixture(scope="session")
def shipped() -> DigitRecognizer:
    return DigitRecognizer.load()


@pytest.fixture(scope="session")
def replay(mnist):
    return Replay.from_mnist(mnist)


def labels(model, rec, x) -> np.ndarray:
    """What `model` reads in x uint8 (N, 28, 28), with `rec`'s normalisation."""
    return DigitRecognizer(model, rec.mean, rec.std).probabilities(x).argmax(1)


@pytest.fixture(scope="session")
def misread(shipped, pen_digits_path):
    """(x uint8 (N, 28, 28), true labels (N,)) of dev digits, drawn as on the pad, that the shipped model misreads."""
    digits = load_pen_digits(pen_digits_path)[:MISREAD_SEARCHED]
    x = np.stack([to_mnist(render_sketchpad(d, 400, 0.5, 10, seed=i)) for i, d in enumerate(digits)])
    y = np.array([d.label for d in digits])
    wrong = labels(shipped.model, shipped, x) != y
    assert wrong.sum() >= 3, "the shipped model should misread a few of these pen digits"
    return x[wrong], y[wrong]


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    """(browser, url) for a browser test module: the app served once for it, with a runs folder of its own,
    and a Chromium to open fresh pages in. Modules that need more of the server define their own."""
    from tests.browser import served_with_browser
    with served_with_browser({"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(tmp_path_factory.mktemp("runs"))}) as app:
        yield app
