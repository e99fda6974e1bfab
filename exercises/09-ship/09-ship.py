# %% [markdown]
# # Exercise 09-ship: ship the image, not its token
#
# `serve.py` needs `model.json`, which the build makes from `model.enc` with
# the token in `unlock.token`. The `Dockerfile` beside this notebook works, and
# leaks the token twice. Change it so that:
#
# - the token reaches the build only as a build secret with the id
#   `unlock_token` (`docker buildx build --secret id=unlock_token,src=unlock.token`),
#   and appears nowhere in the image: no layer's files, no history entry, no config;
# - the image still prints what it prints now;
# - hadolint reports no error-level finding;
# - the image carries the labels `org.opencontainers.image.source` (the URL
#   of its source, https://...) and `org.opencontainers.image.version` (a
#   version such as 1.0.0, or the commit it was built from);
#
# then push it to the course's registry (`localhost:5000`) and write the pushed
# reference, `localhost:5000/NAME@sha256:...`, to `digest.txt`.
#
# The grader builds your Dockerfile with a token of its own (a fresh one each
# time, offered as the secret `unlock_token` and as the build argument
# `UNLOCK_TOKEN`), looks for it everywhere in the image, and checks that the
# registry serves the image `digest.txt` names, built from this Dockerfile,
# without your token in it either.

# %%
from pathlib import Path

from layerlab.engine import build, containers, registry
from layerlab.measure import leaks

TOKEN = Path("unlock.token").read_text().strip()
result = build.build(".", "layerlab-09-ship:mine", module="09", show=None, build_args={"UNLOCK_TOKEN": TOKEN})
print(containers.run(result.tag, module="09").output)

# %% [markdown]
# Where is the token in the image you built?

# %%
print(leaks.scan_image(result.tag, TOKEN).table())

# %% [markdown]
# Push it and write down what you pushed, by digest.

# %%
registry.up()
pushed = ...  # TODO: registry.push(...), then write localhost:5000/NAME@<its digest> to digest.txt

# %%
import layerlab

layerlab.grade_exercise("09-ship")
