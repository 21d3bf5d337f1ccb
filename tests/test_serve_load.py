"""The load bench (bench/serve_load.py) in a tiny configuration: every request it sends through the real
HTTP API succeeds, every case reports its numbers, and a training run's epochs are timed with and
without prediction load."""
from __future__ import annotations

import math

from bench.serve_load import HEADER, goals, run

TINY_TRAINING = dict(batch_size=2048, augment=False)   # ~1 s epochs on 2 cores: a whole epoch fits under load


def test_load_bench_tiny(mnist_root, pen_digits_path):
    lines = []
    report = run(callers=(1, 4), requests=6, case_seconds=40, train_config=TINY_TRAINING, quiet_epochs=1,
                 mnist_root=str(mnist_root), pen_digits=str(pen_digits_path), log=lines.append)
    kinds = [(c.load, c.endpoint, c.callers) for c in report.cases]
    assert kinds == [("idle", "/noop", 1), ("idle", "/noop", 4), ("idle", "/predict", 1), ("idle", "/predict", 4),
                     ("training", "/predict", 1), ("training", "/predict", 4)]
    for case in report.cases:
        assert not case.errors, case.errors
        assert len(case.latencies) >= (6 if case.load == "idle" else 1)
        assert 0 < case.ms(50) <= case.ms(95) <= case.ms(99) < 60_000 and case.throughput > 0
        assert case.load == "idle" or case.epoch_seconds > 0      # an epoch ran wholly under this load
    assert len(report.unloaded_epochs) == 1 and report.unloaded_epoch > 0
    rows = [line for line in lines if line.startswith("|")]
    assert len(rows) == len(report.cases) and any(line.startswith("unloaded epochs") for line in lines)
    assert all(len(row.split("|")) == len(HEADER.splitlines()[0].split("|")) for row in rows)
    (name, measured, limit, _), = goals(report)          # with 1 and 4 callers only the 1-caller goal applies
    assert name == "idle p50 /predict / /noop, 1 caller(s)" and math.isfinite(measured) and limit == 1.5
