"""Drives the real app from outside, for tests, benches and scripts alike: a served app, a browser page, hostile inputs, reference implementations."""
