"""Score customers with numpy and the compiled fastscore extension: the app of lesson 05.

The model's weights ship zlib-compressed (weights.z); the modelpack extension inflates them.
It prints the same lines on every platform; the last line says where it ran.
"""

import csv
import json
import platform
from pathlib import Path

import numpy as np

import fastscore
import modelpack

MODEL = json.loads(modelpack.inflate(Path(__file__).with_name("weights.z").read_bytes(), 1 << 16))
WEIGHTS, BIAS = MODEL["weights"], MODEL["bias"]

with open(Path(__file__).with_name("customers.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
X = np.array([[float(r[k]) for k in ("tenure_months", "monthly_fee", "support_calls")] for r in rows])
by_numpy = 1 / (1 + np.exp(-(X @ np.array(WEIGHTS) + BIAS)))
for row, x, p in zip(rows, X, by_numpy):
    c = fastscore.score(list(x), WEIGHTS, BIAS)
    assert abs(c - p) < 1e-12, "numpy and the C extension disagree"
    print(f"{row['customer']}: churn risk {c:.2f}")
print(f"mean risk {by_numpy.mean():.3f} (numpy {np.__version__})")
