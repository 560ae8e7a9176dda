"""Metric plugins: each a pure function plus a thin plugin class."""
