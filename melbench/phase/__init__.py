"""Magnitude -> complex STFT phase retrievers (built-in plugins)."""
