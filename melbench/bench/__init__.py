"""Benchmarks: each module ``melbench.bench.<topic>`` has ``main(argv) -> int``.

A benchmark prints ratios measured side by side in one run (against the FFT
floor, against librosa or a reference package) and writes its table to
``results/``. Run with ``melbench bench <topic>``.
"""
