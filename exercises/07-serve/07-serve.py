# %% [markdown]
# # Exercise 07-serve: make a model server production-shaped
#
# `serve.py` serves a churn model (`model.json`) with FastAPI. The
# `Dockerfile` beside this notebook builds an image that answers, but runs a
# development server with `--reload`, in a shell-form `CMD`, as root, with no
# health check, and `serve.py` says "ok" on `/health` before its model has
# loaded. Change both so that:
#
# - the engine marks the container `healthy` about as fast as the
#   reference does (a `HEALTHCHECK` with a short interval; the slim image has
#   no curl);
# - `POST /predict` still returns the reference's predictions;
# - `/health` says the server is ready only when it can predict: the model
#   loads in the background for a few seconds after start-up (as a real
#   model's weights do), and until then `/predict` answers 503. An
#   orchestrator sends traffic from the first healthy answer on, so the grader
#   sends a prediction at that very moment;
# - `docker stop` returns within 2 s, and a request in flight is answered;
# - one server process answers, with no reloader watching the files
#   (`--reload` is a development tool);
# - it runs as a non-root user and still serves under `--read-only` (with a
#   tmpfs on `/tmp`) and `--cap-drop ALL`;
# - it adds at most 2 times what the reference adds above `python:3.13-slim`,
#   plus 2 MB (only the layers above the base count; room for pip in the venv,
#   not for a bigger base or build tools).
#
# The grader starts your container on `127.0.0.1` only and removes it.

# %%
from layerlab.engine import build
from layerlab.measure import serving

result = build.build(".", "layerlab-07-serve:mine", module="07", show=None)
ran = serving.serve_live(result.tag, inflight="/slow?seconds=0.5", stop_grace_s=3, wait_s=60, module="07")

# %% [markdown]
# How long did it take to answer, to become healthy, and to stop?

# %%
timings = ...  # TODO: ran.first_ok_s, ran.healthy_s and ran.stop_s (None: it never happened)
print(timings, "request in flight answered:", ran.inflight_answered)

# %%
import layerlab

layerlab.grade_exercise("07-serve")
