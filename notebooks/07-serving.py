# %% [markdown]
# # 07 · Serving a model from a container
#
# > **Instructor note.** This lesson trains a small churn model in the
# > notebook, builds two images of one FastAPI server (about 15 s cold, a
# > second warm: the second image only changes the first one's `CMD`), then
# > starts eight short-lived containers, each published on `127.0.0.1` only
# > and removed when its cell ends. One `docker stop` deliberately waits out
# > Docker's 10 s grace period; the lesson runs in under 2 minutes warm. The
# > load test is bounded (a fixed request count and a time cap) and never
# > leaves this machine. `layerlab clean` removes the images afterwards.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("07")
lesson.require()
lesson.objectives()

# %% [markdown]
# Most ML containers exist to answer requests: a model behind HTTP. An image
# that builds and answers `curl` on a laptop can still fail in production in
# quiet ways: an orchestrator that cannot tell when it is ready, a rollout
# that waits 10 seconds per container and then kills requests half-answered,
# a process that runs as root with a writable filesystem, more worker
# processes than the machine has cores. Each of those is measured here.
#
# ## The model
#
# A logistic regression that scores churn risk from three numbers per
# customer, like lessons 03 and 04, this time trained here, on synthetic
# customers, with numpy (Newton's method: a few exact steps).

# %%
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from layerlab.course import activities, plots

FEATURES = ["tenure_months", "monthly_fee", "support_calls"]

rng = np.random.default_rng(7)
n = 2000
X = np.column_stack([rng.uniform(1, 72, n), rng.uniform(20, 120, n), rng.poisson(1.5, n)])
true_logit = -0.06 * X[:, 0] + 0.025 * X[:, 1] + 0.7 * X[:, 2] - 1.0
y = (rng.uniform(size=n) < 1 / (1 + np.exp(-true_logit))).astype(float)


def fit_logistic(X, y, steps=12):
    A = np.column_stack([X, np.ones(len(X))])
    w = np.zeros(A.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-A @ w))
        w += np.linalg.solve(A.T @ (A * (p * (1 - p))[:, None]), A.T @ (y - p))
    return w


w = fit_logistic(X, y)
model = {"features": FEATURES, "weights": [round(float(v), 6) for v in w[:3]], "bias": round(float(w[3]), 6)}
accuracy = float((((X @ w[:3] + w[3]) > 0) == y).mean())
print(json.dumps(model), f"accuracy on its training data: {accuracy:.0%}")
assert accuracy > 0.7 and model["weights"][2] > 0, "more support calls, more churn"

# %% [markdown]
# The server's build context is a scratch copy of `docker/lessons/07-serving/app/`
# with the trained `model.json` written into it, so the lesson never edits
# the course's files.

# %%
context = Path(tempfile.mkdtemp(prefix="layerlab-07-")) / "app"
shutil.copytree(lesson.app, context)
(context / "model.json").write_text(json.dumps(model, indent=1) + "\n")
lesson.show("app", "serve.py")

# %% [markdown]
# `/health` answers as soon as the app is up; `/predict` takes rows of
# features and returns one risk each; `/slow` sleeps, standing in for a long
# inference, so that we can stop the server while a request is in flight.
# Scoring is plain Python, so the image needs FastAPI and uvicorn (pinned with
# their hashes in `requirements.txt`) and no numpy.
#
# ## The image
#
# Everything lessons 02-04 taught, plus what a server needs: a `HEALTHCHECK`
# the engine runs itself (in Python: the slim image has no curl), a numeric
# non-root `USER`, and `CMD` in **exec form**, a JSON list.

# %%
lesson.show("exec-form")

# %%
EXEC = lesson.build("exec-form", context=context).tag

# %% [markdown]
# A second image changes one line of the first: the same command in **shell
# form**, `CMD uvicorn serve:app ...`, which is how most tutorials write it.

# %%
lesson.show("shell-form")
SHELL = lesson.build("shell-form", context=context, build_args={"SERVER": EXEC}).tag

# %% [markdown]
# ## Start-up: answering, then healthy
#
# Two moments matter when a container starts: when the app first answers
# `/health` (measured from the notebook, polling `127.0.0.1`), and when the
# **engine** marks the container `healthy`, which is what `docker ps`, Compose's
# `depends_on: condition: service_healthy` and load balancers wait for. The
# engine only learns it at its next check, every `--interval`.

# %%
ROWS = [[3, 70, 4], [40, 20, 0], [12, 95, 2]]
up = lesson.serve(EXEC, requests={"predict": ["POST", "/predict", {"rows": ROWS}]})
print(f"docker run -> first 200 on /health: {up.first_ok_s:.2f} s; -> engine says healthy: {up.healthy_s:.2f} s")
answer = up.responses["predict"]
print("POST /predict", answer.status, answer.body)
mine = 1 / (1 + np.exp(-(np.asarray(ROWS, float) @ model["weights"] + model["bias"])))
assert up.has_healthcheck and up.health == "healthy"
assert np.allclose(answer.body["risk"], mine, atol=1e-6), "the server scores what the notebook scores"
assert up.healthy_s - up.first_ok_s < 4, "the engine checks every second (a check may take up to its 2 s timeout)"

# %% [markdown]
# The gap between the two is the health check's interval at work. A check
# every second costs a Python start each time; every 30 s,
# Docker's default, a fresh container would wait up to 30 s before any
# orchestrator sends it traffic. `--start-period` gives a slow model time to
# load without counting failures.
#
# ## Latency and throughput: 1 worker or 2?
#
# `uvicorn --workers 2` starts two processes, each with its own copy of the
# app and the model. This machine has 2 cores, and the load generator (this
# notebook) and Docker's port proxy run on the same 2 cores. Each
# configuration gets the same bounded load: 600 `POST /predict` from 8
# concurrent clients, stopped after 20 s at the latest.

# %%
guess_workers = activities.predict("07", "workers-throughput")
guess_workers

# %%
LOAD = {"path": "/predict", "method": "POST", "body": {"rows": ROWS}, "requests": 600, "concurrency": 8, "time_cap_s": 20}
UVICORN = ["uvicorn", "serve:app", "--host", "0.0.0.0", "--port", "8000"]
PROCESSES = ["python", "-c", "import os; print(sum(p.isdigit() for p in os.listdir('/proc')))"]
loaded = {f"{w} worker{'s' * (w > 1)}": lesson.serve(EXEC, command=UVICORN + ["--workers", str(w)], load=LOAD, stats=True,
                                                     execs={"processes": PROCESSES})
          for w in (1, 2)}
for name, r in loaded.items():
    # The count includes the python that counts.
    print(f"{name}: {r.load.line()}; memory {r.memory_bytes / 1e6:.0f} MB in {int(r.execs['processes'].output) - 1} processes")
plots.serving_load(loaded, title="600 POST /predict, 8 clients, 2 cores shared with the client");

# %%
one, two = loaded["1 worker"], loaded["2 workers"]
ratio = two.load.rps / one.load.rps
extra_mb = (two.memory_bytes - one.memory_bytes) / 1e6
print(f"2 workers / 1 worker throughput: {ratio:.2f} x; p99 {one.load.p99_ms:.0f} ms with 1 worker, {two.load.p99_ms:.0f} ms with 2")
print(f"memory: {one.memory_bytes / 1e6:.0f} MB with 1 worker, {two.memory_bytes / 1e6:.0f} MB with 2 (+{extra_mb:.0f} MB)")
assert one.load.errors == 0 and two.load.errors == 0 and not one.load.capped
assert two.memory_bytes > 1.5 * one.memory_bytes, "each worker is a process with its own Python and model"
assert ratio < 1.6, "a second worker cannot double throughput on 2 cores that also run the client"
guess_workers.reveal(ratio, note=f"{one.load.rps:.0f} vs {two.load.rps:.0f} requests/s on this machine.")

# %% [markdown]
# A second worker multiplies the memory: four processes instead of one (the
# supervisor, multiprocessing's resource tracker, and two workers, each with
# its own Python, FastAPI and model), but not the throughput: each request here
# takes well under a millisecond of model work, and the 2 cores are already
# busy with the client, the port proxy and the server. More runnable
# processes than cores means more time switching between them. Published
# advice, `(2 x cores) + 1` workers, assumes a dedicated machine and requests
# that wait on I/O. On Kubernetes, run **one** uvicorn process per container
# and let the orchestrator add replicas (each with its own CPU limit); use
# `--workers` where one container owns the whole machine, and measure as here.
#
# ## Signals: why `docker stop` takes 10 seconds
#
# `docker stop` sends SIGTERM to the container's PID 1, waits (10 s by
# default), then sends SIGKILL. With the shell form, Docker runs
# `/bin/sh -c "uvicorn ..."`: the shell is PID 1 and uvicorn its child. The
# kernel gives PID 1 no default signal handlers, the shell installs none for
# SIGTERM, so the signal is dropped, uvicorn never hears it, and the engine
# waits out the grace period. `--init` puts a tiny init (docker-init, tini)
# in as PID 1, which passes SIGTERM on to its child.
#
# Each configuration below gets one `GET /slow?seconds=0.5` in flight, sent
# 0.25 s before `docker stop`. The time printed is the engine's own: from the
# SIGTERM it sent to the container's exit, read from `docker events`, so the
# docker command's own start-up does not count.

# %%
guess_stop = activities.predict("07", "shell-stop-seconds")
guess_stop

# %%
SIGNALS = {"shell form": (SHELL, False), "shell form --init": (SHELL, True),
           "exec form": (EXEC, False), "exec form --init": (EXEC, True)}
stops = {name: lesson.serve(image, init=init, inflight="/slow?seconds=0.5")
         for name, (image, init) in SIGNALS.items()}
SIGNAL_NAMES = {"15": "SIGTERM", "9": "SIGKILL"}
for name, r in stops.items():
    fate = f"answered {r.inflight.status}" if r.inflight_answered else f"lost ({r.inflight.error[:50] if r.inflight else 'not sent'})"
    sent = " then ".join(SIGNAL_NAMES.get(s, s) for s in r.stop_signals)
    print(f"{name:<18} stopped {r.stop_s:5.2f} s after SIGTERM ({sent}), exit code {r.stop_exit_code}; request in flight: {fate}")
plots.stop_times(stops, title="docker stop with a 0.5 s request in flight");

# %%
slow_stop, fast_stop = stops["shell form"].stop_s, stops["exec form"].stop_s
print(f"shell form / exec form stop time: {slow_stop / fast_stop:.0f} x")
assert stops["shell form"].stop_signals == ["15", "9"] and stops["shell form"].stop_exit_code == 137, "SIGKILL after the grace period"
assert slow_stop >= 9, "Docker's default grace period is 10 s"
assert all(stops[k].stop_signals == ["15"] for k in ("shell form --init", "exec form", "exec form --init")), "SIGTERM was enough"
# A busy 2-core machine slows the server's own shutdown to a second or two; the grace period does not shrink.
assert slow_stop / fast_stop >= 3 and slow_stop / stops["exec form --init"].stop_s >= 3
assert stops["exec form"].inflight_answered and stops["exec form --init"].inflight_answered
assert not stops["shell form --init"].inflight_answered, "the shell dies at once and takes uvicorn down mid-request"
guess_stop.reveal(slow_stop, note=f"exec form: {fast_stop:.2f} s, with the request in flight answered first.")

# %% [markdown]
# Read the four rows carefully:
#
# - **shell form**: 10 s, then SIGKILL (exit code 137). The request in flight
#   was answered only because it was shorter than the grace period; a longer
#   one, or any request that arrived during those 10 s and was still running,
#   is cut off. Kubernetes' grace period is 30 s: a rollout waits that long
#   for every pod.
# - **shell form with `--init`**: fast, and worse: the init passes SIGTERM to
#   the shell, the shell dies at once, and when PID 1's child is gone the
#   container ends and the kernel kills uvicorn mid-request.
# - **exec form**, with or without `--init`: uvicorn is PID 1 (or the init's
#   direct child), hears SIGTERM, stops accepting, finishes the request in
#   flight and exits, on SIGTERM alone, in about a second or less. (Under
#   `--init` the exit code is 143: uvicorn re-raises the SIGTERM it caught once
#   it has shut down, which kills a child but is ignored by a PID 1.)
#
# Use the exec form. When you need a shell (to expand `$PORT`), end the
# command with `exec`: `CMD exec uvicorn ...` replaces the shell by uvicorn.
# `--init` is still worth having where the app starts child processes that it
# does not reap.
#
# ## Least privilege
#
# The image already runs as uid 10001. Now the rest of the hardening an
# orchestrator can ask for, all at once: a read-only root filesystem
# (`--read-only`) with a memory-backed `/tmp` (`--tmpfs /tmp`), no Linux
# capabilities at all (`--cap-drop ALL`), and a 256 MB memory limit. Inside it
# we run three commands: who am I, write into `/app`, write into `/tmp`.

# %%
WRITE = "import sys; open(sys.argv[1], 'w').write('x'); print('wrote', sys.argv[1])"
locked = lesson.serve(EXEC, read_only=True, tmpfs=["/tmp"], cap_drop_all=True, memory="256m",
                      requests={"predict": ["POST", "/predict", {"rows": ROWS}]},
                      execs={"id -u": ["id", "-u"], "write /app": ["python", "-c", WRITE, "/app/cache.json"],
                             "write /tmp": ["python", "-c", WRITE, "/tmp/cache.json"]})
print("options:", locked.options)
print("POST /predict", locked.responses["predict"].status, locked.responses["predict"].body["risk"])
for name, out in locked.execs.items():
    print(f"{name:<11} exit {out.exit_code}: {out.output.splitlines()[-1]}")
assert locked.serving and locked.healthy_s is not None and locked.responses["predict"].body == answer.body
assert locked.execs["id -u"].output.strip() == "10001"
assert locked.execs["write /app"].exit_code != 0 and "Read-only file system" in locked.execs["write /app"].output
assert locked.execs["write /tmp"].exit_code == 0

# %% [markdown]
# It still serves, healthy, with the same answers. The write into `/app`
# fails with `OSError: [Errno 30] Read-only file system`: that is the error
# an app that writes a cache, a log file or compiled `.pyc` files next to its
# code meets under `--read-only` (the Dockerfile sets
# `PYTHONDONTWRITEBYTECODE=1` for the last of those). The fix is never to drop
# `--read-only`: point the writes at `/tmp` (or a volume) and mount a tmpfs
# there. An attacker who gets code execution in this container finds no root,
# no capabilities and nowhere persistent to write.
#
# ## Challenge: keep the shell form, stop fast
#
# Sometimes a shell is needed in `CMD`, to read `$PORT` from the environment.
# Write a Dockerfile that starts `FROM` the lesson's exec-form image, sets
# `ENV PORT=8000`, and uses a **shell-form** `CMD` that reads `$PORT`, yet
# stops in under 2 s with a request in flight answered.

# %%
activities.challenge("07-exec-shell")

# %%
FAST_SHELL = None  # FAST_SHELL = f"FROM {EXEC}\nENV PORT=8000\nCMD ...\n"

# %%
import layerlab

layerlab.check("07-exec-shell", FAST_SHELL)

# %%
activities.solution("07-exec-shell")

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `07-serve`
#
# `exercises/07-serve/` serves the same model from a working but
# production-hostile image: a development server with `--reload`, shell-form
# `CMD`, root, no health check. Make it production-shaped and grade it:
# `layerlab grade exercises/07-serve`.

# %%
print("Figures measured in this run:")
print(f"  start-up: first 200 after {up.first_ok_s:.2f} s, healthy after {up.healthy_s:.2f} s")
for name, r in loaded.items():
    print(f"  {name}: {r.load.line()}; {r.memory_bytes / 1e6:.0f} MB")
print(f"  docker stop: shell form {slow_stop:.1f} s, exec form {fast_stop:.2f} s ({slow_stop / fast_stop:.0f} x)")

# %%
activities.quiz("07")
