"""Benchmarks and the pen-digit replay they share with the app's browser tests."""
