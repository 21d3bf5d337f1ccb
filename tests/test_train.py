"""The training engine on real MNIST: accuracy, determinism, stop, bad hyperparameters, the CLI."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from dataclasses import replace

import pytest
import torch

from mnist_model import load_checkpoint
from tests.conftest import REPO
from train import DoneEvent, EpochEvent, MnistSplits, StepEvent, TrainConfig, train
from train.data import PEN_RENDERS
from train.pen_digits import load_pen_digits


@pytest.fixture(scope="module")
def small(mnist) -> MnistSplits:
    """5,000 training digits: enough to see learning, fast enough for many runs."""
    return replace(mnist, train_x=mnist.train_x[:5000], train_y=mnist.train_y[:5000])


def test_one_short_run_learns_mnist(mnist, tmp_path):
    events = list(train(TrainConfig(epochs=2, augment=False), tmp_path / "m.safetensors", data=mnist))
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    done = events[-1]
    assert isinstance(done, DoneEvent) and not done.stopped
    assert epochs[-1].valid_acc >= 0.95
    assert done.test_acc >= 0.95
    assert epochs[1].valid_loss < epochs[0].valid_loss
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [s.step for s in steps] == list(range(1, len(steps) + 1)) == list(range(1, steps[0].total_steps + 1))


def test_events_history_and_checkpoint_agree(small, tmp_path):
    events = list(train(TrainConfig(epochs=2), tmp_path / "m.safetensors", data=small))
    done = events[-1]
    model, info = load_checkpoint(done.checkpoint)
    assert info["history"] == done.history == [
        {k: getattr(e, k) for k in ("epoch", "train_loss", "valid_loss", "valid_acc", "lr", "seconds")}
        for e in events if isinstance(e, EpochEvent)]
    assert info["test_accuracy"] == done.test_acc
    assert info["train_config"] == TrainConfig(epochs=2).to_dict()
    # The stored test accuracy is the model's real accuracy on the MNIST test digits.
    x = (small.test_x.float() / 255 - info["mean"]) / info["std"]
    with torch.no_grad():
        acc = (model(x).argmax(1) == small.test_y).float().mean().item()
    assert acc == pytest.approx(done.test_acc, abs=1e-6)


def test_same_seed_same_metrics(small, tmp_path):
    def run(seed):
        events = train(TrainConfig(epochs=1, seed=seed), tmp_path / f"{seed}.safetensors", data=small)
        return [(e.valid_loss, e.valid_acc, e.train_loss) for e in events if isinstance(e, EpochEvent)]
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_stop_event_ends_promptly_and_keeps_best(small, tmp_path):
    stop = threading.Event()
    events = []
    for event in train(TrainConfig(epochs=5), tmp_path / "m.safetensors", data=small, stop=stop):
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 50:   # mid second epoch (40 steps an epoch)
            stop.set()
    assert isinstance(events[-2], StepEvent) and events[-2].step == 50, "no step may run after the stop"
    done = events[-1]
    assert done.stopped and "stopped" in done.message
    model, info = load_checkpoint(done.checkpoint)
    assert info["stopped"] is True and len(info["history"]) == 1


def test_stop_before_the_first_step_saves_nothing(small, tmp_path):
    stop = threading.Event()
    stop.set()
    events = list(train(TrainConfig(epochs=2), tmp_path / "m.safetensors", data=small, stop=stop))
    assert len(events) == 1 and events[0].checkpoint is None and events[0].stopped
    assert "nothing saved" in events[0].message and not any(tmp_path.iterdir())


def test_closing_the_generator_still_saves(small, tmp_path):
    out = tmp_path / "m.safetensors"
    gen = train(TrainConfig(epochs=3), out, data=small)
    for event in gen:
        if isinstance(event, StepEvent) and event.step == 5:    # before any epoch ended
            gen.close()
            break
    model, info = load_checkpoint(out)
    assert info["stopped"] is True and info["history"] == []


def test_diverging_run_stops_with_a_clear_message_and_keeps_the_old_model(small, tmp_path):
    out = tmp_path / "m.safetensors"
    list(train(TrainConfig(epochs=1), out, data=small))
    before = out.read_bytes()
    poisoned = small.train_x.float()
    poisoned[123, 14, 14] = float("nan")      # one bad pixel makes the loss NaN at its batch
    # styles=0: the style variants are drawn from uint8 digits, and this data is float on purpose
    events = list(train(TrainConfig(epochs=2, styles=0.0), out, data=replace(small, train_x=poisoned)))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.checkpoint is None
    assert "diverged" in done.message and "learning rate" in done.message
    assert not any(isinstance(e, EpochEvent) for e in events)
    assert out.read_bytes() == before


@pytest.mark.parametrize("bad, field", [
    (dict(epochs=0), "epochs"), (dict(lr=-0.1), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(batch_size=0), "batch_size"), (dict(device="tpu"), "device"), (dict(epochs=2.5), "epochs"),
    (dict(augment="yes"), "augment"), (dict(lr_factor=1.5), "lr_factor"),
])
def test_bad_hyperparameters_are_refused_before_any_work(bad, field, tmp_path):
    missing = tmp_path / "no-mnist-here"
    with pytest.raises(ValueError, match=field):
        train(TrainConfig(**bad), tmp_path / "m.safetensors", data_dir=missing)
    assert not missing.exists() and not (tmp_path / "m.safetensors").exists()


def _cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "train", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


CLI_OUTPUTS = {"mnist_mlp.safetensors", "metrics.json", "train_loss.png", "valid_loss.png", "lr.png", "confusion.png",
               "misread.png", "first_layer.png"}
SHIPPED_COMMAND = "python -m train --out checkpoints --pen-digits data/pen_digits/dev.jsonl.gz"


def test_cli_dry_run_writes_every_output(mnist_root, tmp_path):
    result = _cli("--dry-run", "--out", str(tmp_path), "--data-dir", str(mnist_root))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in tmp_path.iterdir()} == CLI_OUTPUTS
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert all(h["seconds"] > 0 for h in metrics["history"])
    assert all((tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
               for name in ("lr", "confusion", "misread", "first_layer"))
    load_checkpoint(tmp_path / "mnist_mlp.safetensors")


def test_the_shipped_model_is_what_the_readmes_command_writes(pen_digits_path):
    # README: checkpoints/ is exactly SHIPPED_COMMAND's output, the CLI's default recipe on MNIST and the
    # dev pen digits; its metrics and the checkpoint's own record say so.
    shipped = REPO / "checkpoints"
    assert SHIPPED_COMMAND in " ".join((REPO / "README.md").read_text().split())
    assert {p.name for p in shipped.iterdir()} == CLI_OUTPUTS
    metrics = json.loads((shipped / "metrics.json").read_text())
    _, info = load_checkpoint(shipped / "mnist_mlp.safetensors")
    # Settings added since it was trained (the network's shape) are absent there, and at their defaults.
    assert metrics["config"] == info["train_config"]
    assert {**TrainConfig().to_dict(), **metrics["config"]} == TrainConfig().to_dict()
    assert len(metrics["history"]) == TrainConfig().epochs and not metrics["stopped"]
    assert metrics["test_accuracy"] == info["test_accuracy"]
    pens = info["data"]["pen_digits"]
    assert (pens["digits"], pens["renders"]) == (len(load_pen_digits(pen_digits_path)), PEN_RENDERS)


def test_cli_refuses_bad_flags_with_a_message(tmp_path):
    result = _cli("--lr", "nan", "--out", str(tmp_path))
    assert result.returncode == 2 and "lr must be a finite number" in result.stderr
    assert not any(tmp_path.iterdir())


def test_missing_mnist_that_cannot_be_downloaded_names_the_folder(tmp_path):
    # A proxy on a closed local port makes every download fail at once, without touching the network.
    proxy = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
             "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": ""}
    result = _cli("--dry-run", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o"),
                  env_extra=proxy)
    assert result.returncode == 2
    assert str(tmp_path / "empty") in result.stderr and "train-images-idx3-ubyte" in result.stderr


def _pen_subset(pen_digits_path, tmp_path, n=40):
    """The first n pen digits as a plain JSON-lines file."""
    path = tmp_path / "pen.jsonl"
    with (gzip.open if pen_digits_path.suffix == ".gz" else open)(pen_digits_path, "rt") as f:
        path.write_text("".join(next(f) for _ in range(n)))
    return path


def test_pen_digits_join_training_only(mnist, pen_digits_path, tmp_path):
    from train.data import pen_renders
    from train.pen_digits import load_pen_digits
    path = _pen_subset(pen_digits_path, tmp_path)
    digits = load_pen_digits(path)
    x, y, note = pen_renders(digits, renders=2, seed=0)
    assert x.shape == (80, 28, 28) and x.dtype == torch.uint8
    assert y.tolist() == [d.label for d in digits for _ in range(2)]
    assert all(img.max() > 200 for img in x), "every drawing arrives as a full-contrast MNIST-style digit"
    assert not torch.equal(x[0], x[1]), "each render is a different drawing of the digit"
    assert note["pen_digits"]["digits"] == 40 and note["pen_digits"]["renders"] == 2
    assert note["pen_digits"]["varied_strokes"] == 1, "the second drawing of each digit varies its strokes"
    joined = mnist.with_extra_training(x, y, note)
    assert len(joined.train_x) == len(mnist.train_x) + 80 and torch.equal(joined.train_x[-80:], x)
    assert joined.valid_x is mnist.valid_x and joined.test_x is mnist.test_x


def test_cli_trains_on_pen_digits_and_records_them(mnist_root, pen_digits_path, tmp_path):
    path = _pen_subset(pen_digits_path, tmp_path)
    out = tmp_path / "out"
    result = _cli("--dry-run", "--pen-digits", str(path), "--pen-renders", "1", "--out", str(out),
                  "--data-dir", str(mnist_root))
    assert result.returncode == 0, result.stderr
    info = load_checkpoint(out / "mnist_mlp.safetensors")[1]
    assert info["data"]["train_digits"] == 1024 + 40 + info["data"]["styles"]["digits"]
    assert info["data"]["pen_digits"]["digits"] == 40
    missing = _cli("--dry-run", "--pen-digits", str(tmp_path / "absent.jsonl"), "--out", str(out),
                   "--data-dir", str(mnist_root))
    assert missing.returncode == 2 and "absent.jsonl" in missing.stderr


def test_style_variants_are_labelled_copies_with_an_added_stroke(mnist):
    from train.styles import style_variants
    x, y = mnist.train_x[:3000], mnist.train_y[:3000]
    extra_x, extra_y, note = style_variants(x, y, fraction=0.5, seed=0)
    counts = {d: int((y == d).sum()) // 2 for d in (0, 1, 7)}
    assert sorted(extra_y.tolist()) == sorted(d for d, n in counts.items() for _ in range(n))
    assert note["styles"]["digits"] == len(extra_x) == sum(counts.values())
    assert extra_x.dtype == torch.uint8 and extra_x.shape[1:] == (28, 28)
    for img in extra_x:        # each went through the app's preprocessing: MNIST's 20 px box, centred by mass
        rows, cols = torch.nonzero(img > 0, as_tuple=True)
        assert 18 <= max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21
        w = img.float() / img.float().sum()
        assert abs((w.sum(1) * torch.arange(28)).sum() - 14) < 1 and abs((w.sum(0) * torch.arange(28)).sum() - 14) < 1
    # An added stroke means more ink than the digit it was drawn on, as far as MNIST's 20 px box allows.
    ones = extra_x[extra_y == 1].float().sum((1, 2)).mean()
    assert ones > x[y == 1].float().sum((1, 2)).mean() * 1.2
    again = style_variants(x, y, fraction=0.5, seed=0)[0]
    assert torch.equal(again, extra_x), "same seed, same variants"


def test_styles_are_recorded_and_bounded(small, tmp_path):
    events = list(train(TrainConfig(epochs=1, styles=0.3), tmp_path / "m.safetensors", data=small))
    info = load_checkpoint(events[-1].checkpoint)[1]
    assert info["train_config"]["styles"] == 0.3 and info["data"]["styles"]["digits"] > 0
    assert info["data"]["train_digits"] == len(small.train_x) + info["data"]["styles"]["digits"]
    with pytest.raises(ValueError, match="styles"):
        train(TrainConfig(styles=1.5), tmp_path / "x.safetensors", data=small)


def test_styles_are_drawn_on_mnist_digits_only(small, tmp_path):
    ones = small.train_x[small.train_y == 1][:200]        # stand-ins for pen digits appended before the run
    joined = small.with_extra_training(ones, torch.ones(len(ones), dtype=torch.int64), {"pen_digits": {}})
    assert joined.mnist_train == len(small.train_x) and len(joined.train_x) == len(small.train_x) + 200
    events = list(train(TrainConfig(epochs=1, styles=1.0), tmp_path / "m.safetensors", data=joined))
    info = load_checkpoint(events[-1].checkpoint)[1]
    assert info["data"]["styles"]["digits"] == int(sum((small.train_y == d).sum() for d in (0, 1, 7)))
    assert info["data"]["train_digits"] == len(joined.train_x) + info["data"]["styles"]["digits"]
