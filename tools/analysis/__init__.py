"""Deterministic diagnosis of a namespace: analyzers over one snapshot of its state."""
