# %% [markdown]
# # Exercise 09-ship: ship the image, not its index token
#
# `serve.py` imports `churnscore`, the team's package. It is on no public
# index: only the team's private package index serves it, and only to a
# request that carries the token in `index.token` (the cell below starts that
# index, a course container). The `Dockerfile` beside this notebook installs
# it with the index URL, token inside, as build arguments, and ships the token
# in the image. Change it so that:
#
# - the token reaches the build only as the build secret `pip_conf`, a
#   pip.conf (`index.write_pip_conf` writes one) that the one `RUN` which
#   installs mounts where pip reads its settings (lesson 09's
#   `/run/secrets/<id>` is not such a place), and appears nowhere in the
#   image: no layer's files, no history entry, no config;
# - the image still prints what it prints now;
# - hadolint reports no error-level finding;
# - the image carries the labels `org.opencontainers.image.source` (the URL
#   of its source, https://...) and `org.opencontainers.image.version` (a
#   version such as 1.0.0, or the commit it was built from);
#
# then push it to the course's registry (`localhost:5000`) and write the pushed
# reference, `localhost:5000/NAME@sha256:...`, to `digest.txt`.
#
# The grader starts an index of its own with a fresh token, hands the token to
# your Dockerfile as the secret `pip_conf` and as the build arguments
# `PIP_INDEX_URL`/`PIP_TRUSTED_HOST`, looks for it everywhere in the image, and
# checks that the registry serves the image `digest.txt` names, built from
# this Dockerfile, without your token in it either.

# %%
import tempfile
from pathlib import Path

from layerlab.engine import build, containers, pyindex, registry
from layerlab.measure import leaks

TOKEN = Path("index.token").read_text().strip()
index = pyindex.up(TOKEN)  # the private index: churnscore, for whoever has the token
print(index.url)
# BEGIN SOLUTION
conf = index.write_pip_conf(TOKEN, Path(tempfile.mkdtemp()) / "pip.conf")  # outside the build context
result = build.build(".", "layerlab-09-ship:mine", module="09", show=None, secrets=[f"id=pip_conf,src={conf}"])
# STARTER
# result = build.build(".", "layerlab-09-ship:mine", module="09", show=None, build_args=index.build_args(TOKEN))
# END SOLUTION
print(containers.run(result.tag, module="09").output)

# %% [markdown]
# Where is the token in the image you built?

# %%
print(leaks.scan_image(result.tag, TOKEN).table())

# %% [markdown]
# Push it and write down what you pushed, by digest.

# %%
registry.up()
# BEGIN SOLUTION
pushed = registry.push(result.tag, "09-ship:v1")
Path("digest.txt").write_text(f"{registry.address()}/09-ship@{pushed.digest}\n")
# STARTER
# pushed = ...  # TODO: registry.push(...), then write localhost:5000/NAME@<its digest> to digest.txt
# END SOLUTION

# %%
import layerlab

layerlab.grade_exercise("09-ship")
