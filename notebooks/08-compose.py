# %% [markdown]
# # 08 · Compose: a small ML pipeline of services
#
# > **Instructor note.** This lesson runs one compose pipeline (data prep,
# > training, a model API and redis as its cache) five ways: racing, ordered,
# > restarted on its volumes, writing into a bind mount, and scaled. It builds
# > one small image (standard library only, no pip) and, offline, a stand-in
# > `redis:8` from Debian trixie's `redis-server` package (seconds once the apt
# > cache is warm; like the official image it declares `VOLUME /data` and keeps
# > redis's default snapshots). Every project is named `layerlab-08-...`, labels all its
# > containers, networks and volumes with the course label, publishes only the
# > API on 127.0.0.1 at a port the engine picks, and is taken down with `-v`
# > (or with its anonymous volumes) before the next cell, so parallel runs and
# > other sessions do not collide. The Python services run as uid 10001; the
# > secrets, profiles and GPU file is only validated (`compose config`).
# > `layerlab clean` removes anything a crash left, anonymous volumes included.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 1.7: first run 57 s, warm run 58 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("08")
lesson.require()
lesson.objectives()

# %% [markdown]
# A trained model rarely ships alone. Data has to be prepared, a model
# trained, an API started on it, and next to it runs something that is not
# Python at all: a cache, a database, a queue. `docker compose` describes such
# a stack in one file, starts it with one command and gives it one private
# network. It also makes three mistakes easy: starting a service before what
# it needs exists, keeping data where `down` throws it away, and publishing
# ports to the whole network. This lesson measures each.

# %%

from layerlab.course import REPO, plots
from layerlab.engine import catalogue, compose, compose_probes, hostpath, services
from layerlab.measure import replicas

app = lesson.build("app", context=lesson.app)
IMAGE = app.tag
assert IMAGE == "layerlab/08-app:lesson"  # the name the compose files use
redis = services.ensure(catalogue.REDIS, ["redis-server", "--version"], module=lesson.id)
print(f"{redis.ref}: {redis.version} ({'stand-in from Debian' if redis.standin else 'official image'})")

# %% [markdown]
# One image holds the three Python jobs; each service picks its script with
# `command:`. `prep.py` writes 200 rows into `/data` unless they are there,
# `train.py` fits a line and writes `/models/model.json` unless it exists (it
# sleeps 3 s to stand in for real training), and `serve.py` exits when there
# is no model, else answers `/health` and `/predict?x=...`, caching answers in
# redis, which it reaches by the service name `redis`.

# %%
lesson.show("app", "serve.py")

# %% [markdown]
# ## Start-up order
#
# First the naive file: the three Python services, no `depends_on`. Compose starts every
# container at once. `restart: on-failure` lets a crashed container retry,
# which is what keeps such stacks "working" in practice.

# %%
lesson.show("compose.race.yaml")

# %% [markdown]
# **Predict, then measure.** A client on the project's network asks the API
# for a prediction every 0.2 s from the moment `up` returns. How many requests
# fail before the first one is answered?

# %%
from layerlab.course import activities

guess_failed = activities.predict("08", "race-failed-requests")
guess_failed

# %%
race = lesson.compose("race", "compose.race.yaml")
compose.down(race, volumes=True)  # start from empty volumes, whatever an earlier run left
race_up = compose.up(race, wait=False)
race_probe = compose_probes.probe(race, "http://api:8000/predict?x=2.5", IMAGE, limit_s=60)
race_ps = compose.ps(race)
api_restarts = race_ps.one("api").restarts
print(f"up returned in {race_up.seconds:.1f} s; first answer after {race_probe.seconds:.1f} s and "
      f"{race_probe.failed} failed request(s): {race_probe.body}")
for s in race_ps.services:
    print(f"  {s.service:<6} restarted {s.restarts} time(s), now {s.state}")
print("api log:\n  " + race_ps.one("api").log.replace("\n", "\n  "))
assert race_up.ok and race_probe.status == 200
assert race_probe.failed >= 1 and api_restarts >= 1, "the API started before the model existed"

# %%
guess_failed.reveal(race_probe.failed, note=f"the API container restarted {api_restarts} time(s) before the model was there.")
race_down = compose.down(race, volumes=True)
assert race_down.left.empty

# %% [markdown]
# Would `up --wait --wait-timeout 30` have caught it? It waits until every
# container runs (and passes its health check, where it has one), and fails
# after the timeout otherwise. Run it on the race file:

# %%
race_wait = compose.up(race, wait=True, timeout_s=30)
race_wait_down = compose.down(race, volumes=True)
print(f"up --wait --wait-timeout 30: ok={race_wait.ok} after {race_wait.seconds:.1f} s\n  {race_wait.error}")
assert not race_wait.ok and race_wait.seconds < 30 and "exited" in race_wait.error, "it fails, and before the timeout"
assert race_wait_down.left.empty

# %% [markdown]
# The stack got there in the end, by crashing. In production the same race
# shows up as a burst of 502s after every deploy, a health check that flaps,
# or worse, an API that starts with *yesterday's* model because the new one
# was not written yet.
#
# `--wait` failed at once, not after 30 s: a container it waits for exited.
# `prep` is a one-shot job, and for `--wait` a container that exits, even
# with status 0, has failed, unless another service waits for it with
# `condition: service_completed_successfully`; in this file nobody does.
#
# The fix says what each service waits for. `depends_on` with
# `condition: service_completed_successfully` waits until a one-shot job has
# exited with status 0. If the job fails, the services that wait for it are
# never started and `up` reports the failure; it does not stop what already
# runs. `condition: service_healthy` waits until the service's `healthcheck`
# passes, which for redis is `redis-cli ping` and for the API a request to
# `/health`. A plain `depends_on: [train]` only waits until the container
# *started*. The Python services also run as the numeric non-root user
# `10001:10001` (lessons 04 and 07); the image creates `/data` and `/models`
# owned by it, and a new named volume copies its mount point's owner.

# %%
lesson.show("compose.yaml")

# %% [markdown]
# `up --wait` returns when every service is running and healthy and every
# one-shot job another service waits for has exited with 0, and fails after
# `--wait-timeout` seconds otherwise: the command to put in a deploy script or
# CI, instead of `sleep 10`.

#
# That race failed `--wait` before its timeout. A timeout that runs out
# looks like this: from empty volumes the ordered stack needs `prep` and
# `train` to finish and the API's health check to pass, far more than the
# 3 s given here. The course's `compose.up` also stops the command itself
# shortly after the limit, because compose starts its count only once the
# dependencies are done.

# %%
stack = lesson.compose("pipeline", "compose.yaml")
compose.down(stack, volumes=True)
too_short = compose.up(stack, wait=True, timeout_s=3)
too_short_down = compose.down(stack, volumes=True)
print(f"up --wait --wait-timeout 3: ok={too_short.ok} after {too_short.seconds:.1f} s\n  {too_short.error}")
assert not too_short.ok and too_short.seconds >= 3, "the wait ran out"
assert too_short_down.left.empty

# %% [markdown]
# With a timeout the stack can meet, from the same empty volumes:

# %%
cold = compose.up(stack, wait=True, timeout_s=120)
cold_ps = compose.ps(stack)
ordered_probe = compose_probes.probe(stack, "http://api:8000/predict?x=2.5", IMAGE, limit_s=20)
train, api = cold_ps.one("train"), cold_ps.one("api")
print(f"up --wait: {cold.seconds:.1f} s; first request answered after {ordered_probe.failed} failures: {ordered_probe.body}")
print(f"train finished {train.finished_at}, api started {api.started_at}")
for s in cold_ps.services:
    print(f"  {s.service:<6} {s.state:<8} health={s.health or '-':<8} exit={s.exit_code} restarts={s.restarts}")
assert cold.ok and ordered_probe.failed == 0 and ordered_probe.body == race_probe.body
assert all(s.restarts == 0 for s in cold_ps.services)
assert train.finished_at < api.started_at, "the API started after training had finished"
assert "as uid 10001" in train.log and "as uid 10001" in cold_ps.one("prep").log, "the jobs ran as 10001, not root"

# %% [markdown]
# ## The network: names inside, one port outside
#
# Every service joined the project's network `layerlab-08-pipeline_default`;
# on it, the engine's DNS resolves each service name. The API reached redis as
# `redis:6379`, the probe reached the API as `api:8000`. Nothing needs a port
# on the host for that. Only the API publishes one, on the loopback interface
# and at a port the engine chose (`127.0.0.1::8000`), so two stacks on one
# machine never fight over 8000. Whether the local network can reach it
# depends on the engine's version: before Docker Engine 28.0, a host on the
# same network that routes to the container's address through this machine
# reached ports published on 127.0.0.1 too (moby/moby#45610); 28.0 drops such
# packets by default (Docker Engine 28.0.0 release notes, "Networking").

# %%
for s in cold_ps.services:
    print(f"  {s.service:<6} publishes {', '.join(s.published) or 'nothing'}")
published = [p for s in cold_ps.services for p in s.published]
assert [s.service for s in cold_ps.services if s.published] == ["api"]
assert all(p.startswith("127.0.0.1:") for p in published) and len(published) == 1
mode = compose_probes.engine_mode()
print(f"this engine: Docker {mode.server_version}: " + (
    "28.0 or later, a port on 127.0.0.1 is closed to the local network" if mode.major >= 28 else
    "older than 28.0, a neighbour routing to the container's address can still reach it: keep a firewall"))

# %% [markdown]
# `ports: ["6379:6379"]` on redis would have put an unauthenticated cache on
# every interface of the machine. A fixed `"8000:8000"` asks for the same
# host port in every copy of the stack on the host, and in every replica;
# `127.0.0.1::8000` leaves the choice to the engine, and the scaled run below
# shows each replica getting a port of its own.
#
# ## Volumes: what survives `down`
#
# The rows and the model live in the named volumes `data` and `models`.
# `compose down` removes containers and the network; named volumes stay until
# `down -v`. There is a third kind: redis's image declares `VOLUME /data`
# (the official one does, and so does the stand-in), so every redis container
# gets an *anonymous* volume of its own, with no name compose knows and none
# of the course's labels. Count the files, then go down and up again:

# %%
VOLUMES = [f"{stack.name}_data", f"{stack.name}_models"]
before = {v: compose_probes.volume_files(stack, v, IMAGE) for v in VOLUMES}
went_down = compose.down(stack)
orphans = [compose_probes.volume_files(stack, v, IMAGE) for v in went_down.left.anonymous]
forgotten = compose.forget(went_down.left)  # what `down --volumes` or `anonymous=True` would have removed
warm = compose.up(stack, wait=True, timeout_s=120)
warm_ps = compose.ps(stack)
after_up = {v: compose_probes.volume_files(stack, v, IMAGE) for v in VOLUMES}
for v in VOLUMES:
    print(f"  {v:<28} {len(before[v].files)} file(s) before down, {len(after_up[v].files)} after up again")
print(f"left by down: {went_down.left.volumes} (no containers: {went_down.left.containers})")
for o in orphans:
    print(f"  and redis's anonymous volume {o.volume[:12]}..., no label, holding {o.files}")
print("  " + warm_ps.one("prep").log + "\n  " + warm_ps.one("train").log)
print(f"up --wait: {cold.seconds:.1f} s from empty volumes, {warm.seconds:.1f} s on the kept ones")
assert sorted(went_down.left.volumes) == VOLUMES and not went_down.left.containers
assert len(orphans) == 1 and "/dump.rdb" in orphans[0].files, "redis snapshots into its VOLUME by default"
assert forgotten.volumes == went_down.left.anonymous, "removed, now that the lesson knows it is there"
assert all(before[v].files == after_up[v].files and before[v].files for v in VOLUMES)
# the jobs' own logs say they found their output and did no work; the seconds are noisy on a shared machine
assert "reused" in warm_ps.one("train").log and "reused" in warm_ps.one("prep").log, "no training the second time"

# %% [markdown]
# A volume is storage the engine manages outside every container's writable
# layer. Had `train` written its model to a folder of its own container
# instead, `down` would have deleted it with the container, and each `up`
# would train again. The anonymous volume is the opposite case: no later `up`
# finds it again (the new redis container got a new one), so it only leaks
# disk; nothing labelled it, so a label-based clean-up cannot see it once its
# container is gone. `down --volumes` removes it, and this course's
# `compose.down(..., anonymous=True)` removes it while keeping the named ones
# (`docker compose rm -v` does the same for stopped containers). Now `down -v`:

# %%
gone = compose.down(stack, volumes=True)
after_v = {v: compose_probes.volume_files(stack, v, IMAGE) for v in VOLUMES}
for v in VOLUMES:
    print(f"  {v:<28} {'exists' if after_v[v].exists else 'deleted'}: {len(after_v[v].files)} file(s)")
assert gone.left.empty and not any(x.exists for x in after_v.values())

# %%
plots.volume_files(
    {"after the first up": {v: len(before[v].files) for v in VOLUMES},
     "after down, then up": {v: len(after_up[v].files) for v in VOLUMES},
     "after down -v": {v: len(after_v[v].files) for v in VOLUMES}},
    title="What `down` keeps and `down -v` deletes", replayed=list(before.values()),
);

# %% [markdown]
# The start-up times side by side: the race counts from `up` to the first
# answer, the other two are `up --wait`. The race may well serve first: it
# skips the waits for health checks. What it costs is in the white text, and
# on a real deploy those failed requests are your users'.

# %%
plots.startup_bars(
    {"no conditions (race):\nfirst /predict answer": race_probe.seconds + race_up.seconds,
     "conditions, empty volumes:\nup --wait returns": cold.seconds,
     "conditions, kept volumes:\nup --wait returns": warm.seconds},
    {"no conditions (race):\nfirst /predict answer": f"{race_probe.failed} failed\n{api_restarts} restarts",
     "conditions, empty volumes:\nup --wait returns": "0 failed",
     "conditions, kept volumes:\nup --wait returns": "no retraining"},
    title="Compose pipeline: seconds from `up` until it serves",
    ylabel="seconds from `up` until the end named under each bar (s)",
    replayed=[race_probe, cold, warm],
);

# %% [markdown]
# ## Bind mounts: the host's own folder, and who owns what is written there
#
# A bind mount (`./out:/out`) maps a host folder into the container. It is
# what you want for notebooks and source code in development, and it survives
# `down -v`, because the engine does not own it. The catch is ownership. On
# Docker Engine running as root on Linux, a container that runs as root
# writes files owned by uid 0 on the host. Your own user can still delete such
# a file (deleting needs write permission on the folder, not ownership), but
# cannot edit it, and cannot empty or remove a folder root created. On Docker
# Desktop and rootless Docker the same files appear as yours, and with
# `userns-remap` as a high subordinate uid. `user:` runs the process as
# another user: here uid 1000, a non-root user that stands in for you (on a
# laptop, put your own `id -u`:`id -g` there).
#
# In the devcontainer the `docker` you call talks to the host's engine
# through its socket, and the engine resolves a bind mount's source on the
# host: `/workspaces/course/build/08-bind` does not exist there, so the engine
# would quietly create an empty folder of that name and mount it. That is why
# `OUT_DIR` below goes through `hostpath.host_path`, which maps the
# devcontainer's workspace to the host's own folder (devcontainer.json passes
# both names); outside the devcontainer it returns the path unchanged. A
# named volume avoids the question, because the engine owns it.

# %%
lesson.show("compose.bind.yaml")

# %%
out = REPO / "build" / "08-bind"
out.mkdir(parents=True, exist_ok=True)
out.chmod(0o777)  # on a laptop the folder is yours; here uid 1000 stands for "you" and needs write access
binds = lesson.compose("bind", "compose.bind.yaml", env={"OUT_DIR": hostpath.host_path(out)})
jobs = compose.run_jobs(binds, timeout_s=60)
own = compose_probes.owners(str(out))
bind_down = compose.down(binds, volumes=True)
kept = compose_probes.owners(str(out))
you = compose_probes.rights(binds, str(out), IMAGE, "1000:1000", "by-root.txt", "root-cache")
print({s.service: s.exit_code for s in jobs.services})
print(f"this engine: rootless={mode.rootless}, userns-remap={mode.userns_remap}, Docker Desktop={mode.desktop}")
for name, uid in own.uids.items():
    print(f"  {name:<12} owned by uid {uid} on the host")
print(f"after down -v: {len(kept.uids)} entries still in {out.name}/")
print(f"uid {you.uid} on root's file: edit {you.edit}; delete {you.delete}; remove root's folder: {you.clean}")
assert kept.uids == own.uids, "down -v never touches a bind-mounted folder"
if mode.rootful_linux:  # what the quiz asks about; elsewhere the owner is yours or a subordinate uid
    assert own.uids == {"by-root.txt": 0, "by-user.txt": 1000, "root-cache": 0}
    assert you.edit != "ok" and you.delete == "ok" and you.clean != "ok", "delete needs the folder, edit the file"
compose_probes.empty_folder(binds, str(out), IMAGE)  # root's folder needs root to go; a container is root

# %% [markdown]
# ## Scaling, and the state that does not scale
#
# `up --scale api=3` runs three API containers, and the name `api` resolves
# to three addresses. `/hits` counts requests twice: in the process's memory
# and in redis.
#
# **Predict, then measure.** A client on the project's network sends 30
# requests to `http://api:8000/hits`, each on a fresh connection, so each one
# looks the name up again in the engine's DNS. What is the largest count a
# single replica keeps in its own memory?

# %%
guess_hits = activities.predict("08", "replica-hits")
guess_hits

# %% [markdown]
# Which replica answers is up to the engine's DNS, which returns the three
# addresses in a changing order, and to the client's resolver, which may
# reorder them again before it connects to the first.

# %%
scaled = compose.up(stack, wait=True, timeout_s=120, scales={"api": 3})
spread = replicas.spread(stack, IMAGE, n=30, service="api", port=8000)
replica_ports = [p for s in compose.ps(stack).of("api") for p in s.published]
print(f"`api` resolved to {spread.replicas} addresses; {spread.requests} requests by name; "
      f"replicas publish {replica_ports}")
for host, n in sorted(spread.per_replica.items()):
    print(f"  replica {host}: counted {n} in its own memory")
print(f"  {spread.replicas - len(spread.per_replica)} replica(s) got none; redis counted {spread.shared}; "
      f"/predict?x=2.5 per replica: {spread.predictions}")
assert scaled.ok and spread.replicas == 3 and len(set(spread.predictions)) == 1
# every request was answered once, by some replica; each replica's memory saw only its own
assert sum(spread.per_replica.values()) == spread.requests and spread.shared == spread.requests
assert len(set(replica_ports)) == 3 and all(p.startswith("127.0.0.1:") for p in replica_ports), "a port of its own each"

# %%
guess_hits.reveal(max(spread.per_replica.values()), note=f"redis, shared by all replicas, counted {spread.shared}.")

# %% [markdown]
# The predictions agree because the model is read-only and shared through the
# volume. The in-memory counts do not, whatever the split: move state a
# replica must share into a service built for it (redis here, a database),
# and keep the replicas themselves stateless. Compose's DNS is no load
# balancer: for an even split, put one (nginx, Traefik) in front.
#
# ## Challenge: where does the API answer on this machine?
#
# The engine chose the API's host port. Use `compose.published(stack, "api", 8000)`
# (it asks `docker compose port`) to set `API_URL`, the base URL of one replica
# on this machine. The check requests `/health` there.

# %%
activities.challenge("08-api-url")

# %%
API_URL = None  # API_URL = compose.published(...)

# %%
import layerlab

layerlab.check("08-api-url", API_URL)

# %%
activities.solution("08-api-url")

# %% [markdown]
# ## Secrets, profiles and a GPU
#
# Three more things an ML stack asks of compose, layered on the pipeline as
# `compose.extras.yaml`: `secrets:` hands the API a token as a file under
# `/run/secrets/`, not an environment variable that `docker inspect` and every
# child process see; `profiles:` keeps a service out of every `up` that does
# not name its profile; and `deploy.resources.reservations.devices` asks for
# a GPU. No GPU here, so the file is only validated, with `docker compose config`.

# %%
lesson.show("compose.extras.yaml")

# %%
extras = lesson.compose("extras", "compose.yaml", "compose.extras.yaml", env={"API_TOKEN": "not-a-real-token"})
plain_cfg, gpu_cfg = compose.config(extras), compose.config(extras, profiles=["gpu"])
print(f"services without a profile: {sorted(plain_cfg.config['services'])}")
print(f"with --profile gpu:         {sorted(gpu_cfg.config['services'])}")
print(f"api's secrets: {gpu_cfg.config['services']['api']['secrets']}")
print(f"train-gpu reserves: {gpu_cfg.config['services']['train-gpu']['deploy']['resources']['reservations']}")
assert plain_cfg.ok and gpu_cfg.ok and "train-gpu" not in plain_cfg.config["services"]
assert "train-gpu" in gpu_cfg.config["services"] and "not-a-real-token" not in str(gpu_cfg.config)

# %% [markdown]
# ## Leave nothing behind
#
# Every project here is labelled, so `layerlab clean` would find a crashed
# one, and the anonymous volumes its containers mount (it removes them with
# `docker rm -v`); a lesson should not need it. The course's projects still
# running, and what is left of them after `down -v`, anonymous volumes
# included:

# %%
running = compose.projects()
final = compose.down(stack, volumes=True)
print(f"course projects before: {running.names}; left of {stack.name}: {final.left}")
assert final.left.empty and stack.name in running.names

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `08-compose`
#
# `exercises/08-compose/` holds a pipeline whose API races the training job,
# whose model lives in the training container's own files and which publishes
# its ports on every interface. Fix the compose file and grade it:
# `layerlab grade exercises/08-compose`.

# %%
print("Figures measured in this run:")
print(f"  race: {race_probe.failed} failed requests, {api_restarts} API restarts, first answer {race_probe.seconds:.1f} s after up")
print(f"  up --wait with conditions: {cold.seconds:.1f} s cold, {warm.seconds:.1f} s on kept volumes")
print(f"  bind mount owners: {own.uids}; scaled to {spread.replicas}: per-replica counts {sorted(spread.per_replica.values())}")

# %%
activities.quiz("08")
