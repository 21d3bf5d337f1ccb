"""/explain on the running app through gradio_client: the plain data equal the in-process explanation
(layers, saliency of the answer and the runner-up, the nearest MNIST training digits with their images);
a blank pad, an unknown model and a server without MNIST get answers that say so."""
from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client

from mnist_model import DigitRecognizer, TrainingDigits
from harness.app_driver import serve_app, sketch_files
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS


@pytest.fixture(scope="module")
def drawing(pen_digits_path):
    return render_sketchpad(load_pen_digits(pen_digits_path)[3], canvas=CANVAS)


def explained(url: str, files: dict, key: str = "default") -> dict:
    return Client(url, verbose=False).predict(files, key, api_name="/explain")


def test_explain_returns_what_the_recognizer_computes(mnist_root, mnist, drawing, tmp_path):
    rec = DigitRecognizer.load()
    p = rec.predict(drawing)
    runner_up = int(np.argsort(-p.probabilities, kind="stable")[1])
    expected = rec.explain(drawing, versus=[runner_up], digits=TrainingDigits(mnist.train_x, mnist.train_y))
    files = sketch_files(drawing, tmp_path)
    with serve_app({"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(tmp_path / "runs")}) as url:
        data = explained(url, files)
        blank = explained(url, sketch_files({**drawing, "composite": np.full_like(drawing["composite"], 255),
                                             "layers": []}, tmp_path), "")
        with pytest.raises(Exception, match="no model"):
            explained(url, files, "runs/../../etc/passwd")
    assert data["label"] == p.label and np.array_equal(data["image28"], p.image28)
    assert [len(layer["value"]) for layer in data["layers"]] == [200, 150, 100, 80, 10]
    for got, layer in zip(data["layers"], expected.layers):
        np.testing.assert_allclose(got["weighted_sum"], layer.weighted_sum, atol=1e-4)
        np.testing.assert_allclose(got["value"], layer.value, atol=1e-4)
    assert sorted(data["saliency"]) == sorted(str(c) for c in (p.label, runner_up))
    for c, m in expected.saliency.items():
        np.testing.assert_allclose(data["saliency"][str(c)], m, atol=1e-4)
    assert [n["index"] for n in data["neighbours"]] == [n.index for n in expected.neighbours]
    for got, n in zip(data["neighbours"], expected.neighbours):
        assert got["label"] == int(mnist.train_y[n.index]) and np.array_equal(got["image"], mnist.train_x[n.index])
    assert blank["label"] is None and blank["saliency"] == {} and blank["neighbours"] == []
    assert len(blank["layers"]) == 5


def test_without_mnist_the_layers_and_saliency_still_come(drawing, tmp_path):
    files = sketch_files(drawing, tmp_path)
    env = {"MNIST_ROOT": str(tmp_path / "no-mnist"), "ALLOW_TRAINING": "0", "RUNS_DIR": str(tmp_path / "runs")}
    with serve_app(env) as url:
        data = explained(url, files)
    assert data["neighbours"] is None and data["label"] is not None
    assert len(data["saliency"]) == 2 and len(data["layers"]) == 5
