"""Benchmarks: speed and accuracy goals are measured and printed here, not asserted in tests."""
