"""Score a batch of customers with the churn model: print how many threads BLAS runs, then the scores."""

# TODO: size BLAS's threads from the container's CPU quota, before numpy starts them

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

WEIGHTS = "/app/model.npy"


def blas_threads() -> int:
    return sum(p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas")


w = np.load(WEIGHTS)
customers = np.linspace(-1.0, 1.0, w.shape[0], dtype=np.float32)
scores = customers @ w
print(f"blas threads: {blas_threads()}")
print("scores:", " ".join(f"{v:.3f}" for v in scores[:5]))
