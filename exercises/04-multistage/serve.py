"""Score customers with the compiled fastscore extension: the app of lesson 04."""

import csv
from pathlib import Path

import fastscore

WEIGHTS, BIAS = [-0.08, 0.031, 0.62], -1.4

with open(Path(__file__).with_name("customers.csv"), newline="") as f:
    for row in csv.DictReader(f):
        x = [float(row[k]) for k in ("tenure_months", "monthly_fee", "support_calls")]
        print(f"{row['customer']}: churn risk {fastscore.score(x, WEIGHTS, BIAS):.2f}")
