"""Cluster access acting as the user: the only package that imports ``kubernetes``."""
