# %% [markdown]
# # Exercise 08-compose: a pipeline that starts in order and keeps its model
#
# `compose.yaml` beside this notebook runs lesson 08's pipeline without
# redis: `prep` writes rows into a volume, `train` fits a model, `api` serves
# it. As it is, the API starts before the model exists (and cannot see it),
# the model lives in the training container's own files, so `down` deletes
# it, and the API's port is published on every interface. Fix the file so that:
#
# - `docker compose up --wait` succeeds and `/predict?x=2.5` answers. The
#   grader first creates the `models` volume as the team's earlier version
#   left it on its servers: that version ran as root, so the volume already
#   holds a root-owned file, and the jobs now run as uid 10001 (the image's
#   `USER`);
# - `prep`, `train` and `api` run as non-root (a one-shot service that only
#   fixes ownership may run as root);
# - after `down` and `up`, `prep` and `train` reuse their output (they print
#   `reused`) instead of running again;
# - only `api` publishes a port, on 127.0.0.1.
#
# Keep the Python files as they are. The grader runs your file under a
# project name of its own, labels everything it creates and removes it all
# when it is done.

# %%
from layerlab.engine import compose

mine = compose.Project("layerlab-08-exercise", ["compose.yaml"])
print("not labelled:", mine.unlabelled() or "nothing")

# %% [markdown]
# Which services does your file publish, and on which address?

# %%
# BEGIN SOLUTION
published = {name: svc.get("ports", []) for name, svc in mine.config()["services"].items() if svc.get("ports")}
# STARTER
# published = ...  # TODO: mine.config()["services"] maps each service to its settings; keep those with `ports`
# END SOLUTION
print(published)

# %%
import layerlab

layerlab.grade_exercise("08-compose")
