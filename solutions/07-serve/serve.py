"""A churn-risk model behind HTTP: the app of lesson 07.

model.json holds a logistic regression trained in the lesson. Scoring is
plain Python (a dot product and a sigmoid): the image needs no numpy.
"""

import asyncio
import json
import math
import os
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel, Field

MODEL = json.loads(Path(os.environ.get("MODEL_PATH", Path(__file__).with_name("model.json"))).read_text())
app = FastAPI(title="churn risk")


class Rows(BaseModel):
    # One row per customer, the features in the model's order.
    rows: list[list[float]] = Field(min_length=1, max_length=1000)


def risk(row: list[float]) -> float:
    z = sum(w * x for w, x in zip(MODEL["weights"], row)) + MODEL["bias"]
    return 1.0 / (1.0 + math.exp(-z))


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "pid": os.getpid()}


@app.post("/predict")
def predict(body: Rows) -> dict:
    return {"features": MODEL["features"], "risk": [round(risk(r), 6) for r in body.rows]}


@app.get("/slow")
async def slow(seconds: float = 1.0) -> dict:
    # Stands in for a long inference, so that a stop can catch a request in flight.
    await asyncio.sleep(min(seconds, 30.0))
    return {"slept": seconds}
