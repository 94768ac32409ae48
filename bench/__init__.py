"""Benchmarks: scripts that measure and print a table (`make bench`), never timed tests."""
