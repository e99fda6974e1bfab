"""A model's weights, generated: the same bytes from the same seed and shape, on every machine.

Lesson 10 and exercise 10-prod need weights big enough to matter and no download to get them: float32
from NumPy's PCG64 generator, which NumPy keeps stable across versions for a given seed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def generate(path: Path, rows: int, cols: int, seed: int) -> str:
    """Write `rows` x `cols` float32 weights to `path` (.npy) and return their file's sha256."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.random.default_rng(seed).standard_normal((rows, cols), dtype=np.float32))
    return hashlib.sha256(path.read_bytes()).hexdigest()
