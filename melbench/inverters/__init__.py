"""Mel -> linear magnitude inverters (built-in plugins)."""
