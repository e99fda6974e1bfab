"""A churn-risk model behind HTTP: the app of lesson 07.

model.json holds a logistic regression trained in the lesson. Scoring is
plain Python (a dot product and a sigmoid): the image needs no numpy.

A real model takes seconds to load (reading and unpacking its weights). Here
LOAD_SECONDS of waiting stand in for that, in the background, so the server
answers at once while the model is still loading: /predict says 503 until then.
"""

import asyncio
import json
import math
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Response
from pydantic import BaseModel, Field

MODEL_PATH = Path(os.environ.get("MODEL_PATH", Path(__file__).with_name("model.json")))
LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "3"))
MODEL: dict = {}


async def load_model() -> None:
    await asyncio.sleep(LOAD_SECONDS)  # stands in for reading and unpacking the weights
    MODEL.update(json.loads(MODEL_PATH.read_text()))


@asynccontextmanager
async def lifespan(app: FastAPI):
    task = asyncio.create_task(load_model())
    yield
    task.cancel()


app = FastAPI(title="churn risk", lifespan=lifespan)


class Rows(BaseModel):
    # One row per customer, the features in the model's order.
    rows: list[list[float]] = Field(min_length=1, max_length=1000)


def risk(row: list[float]) -> float:
    z = sum(w * x for w, x in zip(MODEL["weights"], row)) + MODEL["bias"]
    return 1.0 / (1.0 + math.exp(-z))


@app.get("/health")
def health(response: Response) -> dict:
    # BEGIN SOLUTION: say "ok" only once /predict can answer
    if not MODEL:
        response.status_code = 503
        return {"status": "loading", "pid": os.getpid()}
    # END SOLUTION
    return {"status": "ok", "pid": os.getpid()}


@app.post("/predict")
def predict(body: Rows, response: Response) -> dict:
    if not MODEL:
        response.status_code = 503
        return {"error": "the model is still loading"}
    return {"features": MODEL["features"], "risk": [round(risk(r), 6) for r in body.rows]}


@app.get("/slow")
async def slow(seconds: float = 1.0) -> dict:
    # Stands in for a long inference, so that a stop can catch a request in flight.
    await asyncio.sleep(min(seconds, 30.0))
    return {"slept": seconds}
