"""Score customers with a logistic-regression model: the app of lesson 03."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def score(rows: pd.DataFrame, model: dict) -> np.ndarray:
    x = rows[model["features"]].to_numpy(dtype=float)
    z = x @ np.asarray(model["weights"]) + model["bias"]
    return 1.0 / (1.0 + np.exp(-z))


if __name__ == "__main__":
    model = json.loads((HERE / "model.json").read_text())
    rows = pd.read_csv(HERE / "customers.csv")
    for name, p in zip(rows["customer"], score(rows, model)):
        print(f"{name}: churn risk {p:.2f}")
