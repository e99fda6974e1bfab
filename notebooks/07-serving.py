# %% [markdown]
# # 07 · Serving a model from a container
#
# > **Instructor note.** This lesson trains a small churn model in the
# > notebook, builds two images of one FastAPI server (the second image only
# > changes the first one's `CMD`, so it builds from cache), then
# > starts eight short-lived containers, each published on `127.0.0.1` only
# > and removed when its cell ends. One `docker stop` deliberately waits out
# > Docker's 10 s grace period, and the two load tests wait for every worker's
# > start-up and a warm-up, which is most of the warm run recorded below. The load test is bounded (a
# > fixed request count and a time cap) and never leaves this machine.
# > `layerlab clean` removes the images afterwards.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 1.0: first run 63 s (cold: none of its images existed), warm run 53 s.

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
# `depends_on: condition: service_healthy` and Swarm's rolling updates wait
# for. The engine only learns it at its next check: every `--start-interval`
# while the container starts, every `--interval` after that.

# %%
ROWS = [[3, 70, 4], [40, 20, 0], [12, 95, 2]]
# After the first answer the container stays up 3 s more, so that we can count the engine's checks.
up = lesson.serve(EXEC, requests={"predict": ["POST", "/predict", {"rows": ROWS}]}, execs={"idle 3 s": ["sleep", "3"]})
print(f"docker run -> first 200 on /health: {up.first_ok_s:.2f} s; -> engine says healthy: {up.healthy_s:.2f} s")
answer = up.responses["predict"]
print("POST /predict", answer.status, answer.body)
mine = 1 / (1 + np.exp(-(np.asarray(ROWS, float) @ model["weights"] + model["bias"])))
assert up.has_healthcheck and up.health == "healthy"
assert np.allclose(answer.body["risk"], mine, atol=1e-6), "the server scores what the notebook scores"
assert up.healthy_s - up.first_ok_s < 4, "the engine checks every second while starting (a check may take 2 s)"
passed = [p for p in up.health_log if p.exit_code == 0]
print(f"health checks the engine ran: {len(up.health_log)}, passed: {len(passed)} "
      f"(the container was up {up.healthy_s:.1f} s before healthy and 3 s more after)")
assert len(passed) == 1, "after the first pass, the next check waits the full 30 s --interval"

# %% [markdown]
# The gap between the two is the check's interval at work while the
# container starts. `--start-interval=1s` (Docker Engine 25 and later) checks
# every second only until the first check passes within `--start-period`;
# then the check runs every `--interval` (30 s, Docker's default), so a
# healthy server does not pay a Python start every second forever: one
# passing check in the log above, although the container lived 3 s past it.
# With the `--interval` alone, a fresh container would wait up to 30 s for
# its first check. `--start-period` also gives a slow model time to load
# without counting failures.
#
# Who reads it: Docker, Compose (`depends_on: condition: service_healthy`)
# and Swarm. **Kubernetes ignores `HEALTHCHECK`**: a pod declares its own
# `startupProbe`, `readinessProbe` and `livenessProbe` (an `httpGet` on
# `/health` here), and the image's check never runs there.
#
# ## Latency and throughput: 1 worker or 2?
#
# `uvicorn --workers 2` starts two processes, each with its own copy of the
# app and the model. How many CPUs the engine has varies from laptop to
# laptop, so the experiment fixes what the server gets: its container is
# pinned to one CPU (`--cpuset-cpus 0`), as an orchestrator's CPU limit
# would. Each configuration waits until every worker has logged its start-up,
# gets 200 unmeasured warm-up requests, then the same bounded load: 600
# `POST /predict` from 8 concurrent clients, stopped after 20 s at the latest.

# %%
from layerlab.engine import host as engine_host

engine_cpus = engine_host.facts().cpus
print(f"the engine has {engine_cpus} CPUs; the server gets CPU 0, the client (this notebook) runs anywhere")

# %%
guess_workers = activities.predict("07", "workers-throughput")
guess_workers

# %%
LOAD = {"path": "/predict", "method": "POST", "body": {"rows": ROWS}, "requests": 600, "concurrency": 8,
        "time_cap_s": 20, "warmup": 200}
UVICORN = ["uvicorn", "serve:app", "--host", "0.0.0.0", "--port", "8000"]
PROCESSES = ["python", "-c", "import os; print(sum(p.isdigit() for p in os.listdir('/proc')))"]
loaded = {f"{w} worker{'s' * (w > 1)}": lesson.serve(EXEC, command=UVICORN + ["--workers", str(w)], cpuset_cpus=[0],
                                                     ready_line="Application startup complete.", ready_count=w,
                                                     load=LOAD, stats=True, execs={"processes": PROCESSES})
          for w in (1, 2)}
processes = {name: int(r.execs["processes"].output) - 1 for name, r in loaded.items()}  # less the python that counts
for name, r in loaded.items():
    print(f"{name}: every worker up after {r.ready_s:.2f} s; {r.load.line()}; "
          f"memory {r.memory_bytes / 1e6:.0f} MB in {processes[name]} processes")
plots.serving_load(loaded, title="600 POST /predict after 200 warm-up, 8 clients, server pinned to 1 CPU");

# %%
one, two = loaded["1 worker"], loaded["2 workers"]
ratio = two.load.rps / one.load.rps
extra_mb = (two.memory_bytes - one.memory_bytes) / 1e6
print(f"2 workers / 1 worker throughput: {ratio:.2f} x; p99 {one.load.p99_ms:.0f} ms with 1 worker, {two.load.p99_ms:.0f} ms with 2")
print(f"memory: {one.memory_bytes / 1e6:.0f} MB with 1 worker, {two.memory_bytes / 1e6:.0f} MB with 2 (+{extra_mb:.0f} MB)")
assert one.load.errors == 0 and two.load.errors == 0 and not one.load.capped and not two.load.capped
assert processes == {"1 worker": 1, "2 workers": 4}, "uvicorn alone; or a supervisor, its resource tracker, 2 workers"
assert two.memory_bytes > 1.5 * one.memory_bytes, "each worker is a process with its own Python and model"
assert ratio < 1.5, "two workers on one CPU share that CPU: far from the 2 x a second free CPU could give"
guess_workers.reveal(ratio, note=f"{one.load.rps:.0f} vs {two.load.rps:.0f} requests/s on this machine.")

# %% [markdown]
# A second worker multiplies the memory: four processes instead of one (the
# supervisor, multiprocessing's resource tracker, and two workers, each with
# its own Python, FastAPI and model), but not the throughput: both workers
# share the one CPU the container may use, and more runnable processes than
# CPUs means more time switching between them. That holds on any machine.
# On an engine with free CPUs, a second worker pinned to a second CPU can
# help, as long as the client and the port proxy leave that CPU free:
# measure it as here, with `cpuset_cpus=[0, 1]`.
#
# ### Workers, processes, containers: what to run in production
#
# - **`uvicorn --workers N`**: uvicorn's own supervisor (since uvicorn 0.30,
#   [its changelog](https://www.uvicorn.org/release-notes/), it restarts a
#   worker that dies). Good where one container owns a machine.
# - **gunicorn with uvicorn workers** (`gunicorn -k uvicorn_worker.UvicornWorker`):
#   the older way to get that supervision; uvicorn 0.30 deprecated its own
#   `uvicorn.workers` class, now the separate `uvicorn-worker` package. The
#   `tiangolo/uvicorn-gunicorn-fastapi` image built on it is deprecated; FastAPI's docs
#   ([FastAPI in Containers](https://fastapi.tiangolo.com/deployment/docker/))
#   now recommend a plain `uvicorn` image.
# - **One process per container**: on Kubernetes (or any cluster), run one
#   uvicorn process per container and let the orchestrator add replicas,
#   each with its own CPU limit and its own health; FastAPI's docs say the
#   same. Gunicorn's rule of thumb, `(2 x cores) + 1` workers
#   ([gunicorn docs, "How Many Workers?"](https://docs.gunicorn.org/en/stable/design.html#how-many-workers)),
#   assumes requests that wait on I/O; for a model, each worker loads its
#   own copy, so memory grows with N as measured above.
#
# Inside one worker, `def` endpoints (like `/predict` here) run in AnyIO's
# thread pool, 40 threads by default, shared by every sync endpoint of that
# process; `async def` endpoints run on the event loop and must not block it.
# The least-privilege section below reads the limit from inside the container.
#
# ## Signals: stopping a server
#
# `docker stop` sends SIGTERM to the container's PID 1, waits (10 s by
# default), then sends SIGKILL. Each configuration below gets one
# `GET /slow?seconds=0.5` in flight, sent 0.25 s before `docker stop`: the
# two images (shell-form and exec-form `CMD`), each with and without
# `--init` (a tiny init, docker-init or tini, as PID 1).

# %%
guess_stop = activities.predict("07", "shell-stop-seconds")
guess_stop

# %% [markdown]
# The time printed is the engine's own: from the SIGTERM it sent to the
# container's exit, read from `docker events`, so the docker command's own
# start-up does not count. In the shell-form container we also ask what
# `/bin/sh` is and which program is PID 1.

# %%
SIGNALS = {"shell form": (SHELL, False), "shell form --init": (SHELL, True),
           "exec form": (EXEC, False), "exec form --init": (EXEC, True)}
WHO = {"/bin/sh is": ["readlink", "-f", "/bin/sh"], "PID 1 is": ["cat", "/proc/1/comm"]}
stops = {name: lesson.serve(image, init=init, inflight="/slow?seconds=0.5", execs=WHO if name == "shell form" else None)
         for name, (image, init) in SIGNALS.items()}
SIGNAL_NAMES = {"15": "SIGTERM", "9": "SIGKILL"}
for name, r in stops.items():
    fate = f"answered {r.inflight.status}" if r.inflight_answered else f"lost ({r.inflight.error[:50] if r.inflight else 'not sent'})"
    sent = " then ".join(SIGNAL_NAMES.get(s, s) for s in r.stop_signals)
    print(f"{name:<18} stopped {r.stop_s:5.2f} s after SIGTERM ({sent}), exit code {r.stop_exit_code}; request in flight: {fate}")
plots.stop_times(stops, title="docker stop with a 0.5 s request in flight");

# %%
slow_stop, fast_stop = stops["shell form"].stop_s, stops["exec form"].stop_s
who = {k: v.output.strip() for k, v in stops["shell form"].execs.items()}
print(f"shell form / exec form stop time: {slow_stop / fast_stop:.0f} x; in the shell-form container {who}")
assert who["/bin/sh is"].endswith("dash") and who["PID 1 is"] == "sh", "Debian's dash stays PID 1, uvicorn its child"
assert stops["shell form"].stop_signals == ["15", "9"] and stops["shell form"].stop_exit_code == 137, "SIGKILL after the grace period"
assert slow_stop >= 9, "Docker's default grace period is 10 s"
assert all(stops[k].stop_signals == ["15"] for k in ("shell form --init", "exec form", "exec form --init")), "SIGTERM was enough"
# A busy 2-core machine slows the server's own shutdown to a second or two; the grace period does not shrink.
assert slow_stop / fast_stop >= 3 and slow_stop / stops["exec form --init"].stop_s >= 3
assert stops["exec form"].inflight_answered and stops["exec form --init"].inflight_answered
assert not stops["shell form --init"].inflight_answered, "the shell dies at once and takes uvicorn down mid-request"
assert fast_stop < 10 / 4 and stops["exec form --init"].stop_s < 10 / 4, "SIGTERM alone: well inside the grace period"
assert stops["exec form"].stop_exit_code == 0 and stops["exec form --init"].stop_exit_code == 143, "see below"
guess_stop.reveal(slow_stop, note=f"exec form: {fast_stop:.2f} s, with the request in flight answered first.")

# %% [markdown]
# Read the four rows carefully:
#
# - **shell form**: Docker runs `/bin/sh -c "uvicorn ..."`. On this Debian
#   image `/bin/sh` is dash, which stays PID 1 with uvicorn as its child
#   (bash and BusyBox's sh `exec` a lone command and would hand PID 1 to
#   uvicorn; do not count on it). The kernel gives PID 1 no default signal
#   handlers, dash installs none for SIGTERM, so the signal is dropped,
#   uvicorn never hears it: 10 s, then SIGKILL (exit code 137). The request in flight
#   was answered only because it was shorter than the grace period; a longer
#   one, or any request that arrived during those 10 s and was still running,
#   is cut off. Kubernetes' grace period is 30 s: a rollout waits that long
#   for every pod.
# - **shell form with `--init`**: fast, and worse: the init passes SIGTERM to
#   the shell, the shell dies at once, and when PID 1's child is gone the
#   container ends and the kernel kills uvicorn mid-request.
# - **exec form**, with or without `--init`: uvicorn is PID 1 (or the init's
#   direct child), hears SIGTERM, stops accepting, finishes the request in
#   flight and exits, on SIGTERM alone, well within the grace period
#   (the times above). Under `--init` the exit code is
#   143 (128 + 15): uvicorn re-raises the SIGTERM it caught once it has shut
#   down, which kills a child; as PID 1 the same signal is ignored, and it
#   exits 0.
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
# capabilities at all (`--cap-drop ALL`), a 256 MB memory limit and one CPU
# (`--cpus 1`). Inside it we run commands: who am I, write into `/app`, write
# into `/tmp`, import the app with bytecode writing switched back on, how many
# CPUs Python sees, and the size of AnyIO's thread pool.

# %%
WRITE = "import sys; open(sys.argv[1], 'w').write('x'); print('wrote', sys.argv[1])"
PYC = ("import sys, pathlib, serve; "
       "print('writes .pyc:', not sys.dont_write_bytecode, pathlib.Path('__pycache__').exists())")
CPUS = "import os; print(os.cpu_count(), os.process_cpu_count())"
POOL = ("import anyio, anyio.to_thread\n"
        "async def pool(): return anyio.to_thread.current_default_thread_limiter().total_tokens\n"
        "print(anyio.run(pool))")
locked = lesson.serve(EXEC, read_only=True, tmpfs=["/tmp"], cap_drop_all=True, memory="256m", cpus=1.0,
                      requests={"predict": ["POST", "/predict", {"rows": ROWS}]},
                      execs={"id -u": ["id", "-u"], "write /app": ["python", "-c", WRITE, "/app/cache.json"],
                             "write /tmp": ["python", "-c", WRITE, "/tmp/cache.json"],
                             "import, .pyc on": ["env", "PYTHONDONTWRITEBYTECODE=", "python", "-c", PYC],
                             "CPUs seen": ["python", "-c", CPUS], "thread pool": ["python", "-c", POOL]})
print("options:", locked.options)
print("POST /predict", locked.responses["predict"].status, locked.responses["predict"].body["risk"])
for name, out in locked.execs.items():
    print(f"{name:<15} exit {out.exit_code}: {out.output.splitlines()[-1]}")
assert locked.serving and locked.healthy_s is not None and locked.responses["predict"].body == answer.body
assert locked.execs["id -u"].output.strip() == "10001"
assert locked.execs["write /app"].exit_code != 0 and "Read-only file system" in locked.execs["write /app"].output
assert locked.execs["write /tmp"].exit_code == 0
assert locked.execs["import, .pyc on"].exit_code == 0 and locked.execs["import, .pyc on"].output.split()[-2:] == [
    "True", "False"], "bytecode writing on, the write fails, the import works"
assert locked.execs["CPUs seen"].output.split() == [str(engine_cpus)] * 2, "--cpus 1 is a quota Python does not see"
assert locked.execs["thread pool"].output.strip() == "40", "AnyIO's default limit for sync endpoints"

# %% [markdown]
# It still serves, healthy, with the same answers. The write into `/app`
# fails with `OSError: [Errno 30] Read-only file system`: that is the error
# an app that writes a cache or a log file next to its code meets under
# `--read-only`. Compiled `.pyc` files are not among them: with bytecode
# writing switched back on, the import still works and no `__pycache__`
# appears, because CPython ignores a failed bytecode write (the Dockerfile's
# `PYTHONDONTWRITEBYTECODE=1` only saves the attempt). The fix is never to
# drop `--read-only`: point the writes at `/tmp` (or a volume) and mount a
# tmpfs there. An attacker who gets code execution in this container finds no root,
# no capabilities and nowhere persistent to write.
#
# Under `--cpus 1` Python still counts every CPU of the engine
# (`os.cpu_count()` and `os.process_cpu_count()` above): the limit is a
# quota, invisible to them. Thread pools sized from that count (OpenBLAS,
# MKL, OpenMP, PyTorch's intra-op threads) then start one thread per engine
# CPU and fight over one CPU's worth of time. Set `OMP_NUM_THREADS` (and
# `torch.set_num_threads`) to the container's limit, e.g. `ENV
# OMP_NUM_THREADS=1` or `-e OMP_NUM_THREADS=1` next to `--cpus 1`.
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
# `CMD`, root, no health check. Its model also takes a few seconds to load
# after start-up, and its `/health` says "ok" before then: the readiness
# question above, in code. Make it production-shaped and grade it:
# `layerlab grade exercises/07-serve`.

# %%
print("Figures measured in this run:")
print(f"  start-up: first 200 after {up.first_ok_s:.2f} s, healthy after {up.healthy_s:.2f} s")
print(f"  workers: server pinned to 1 of {engine_cpus} engine CPUs, 2 workers / 1 worker throughput {ratio:.2f} x")
for name, r in loaded.items():
    print(f"  {name}: {r.load.line()}; {r.memory_bytes / 1e6:.0f} MB")
print(f"  docker stop: shell form {slow_stop:.1f} s, exec form {fast_stop:.2f} s ({slow_stop / fast_stop:.0f} x)")

# %%
activities.quiz("07")
