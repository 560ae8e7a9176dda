from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def noise(rng):
    """One second of white noise at 16 kHz (float32)."""
    return rng.standard_normal(16000).astype(np.float32)
