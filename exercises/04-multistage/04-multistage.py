# %% [markdown]
# # Exercise 04-multistage: leave the compiler behind
#
# `serve.py` scores customers with `fastscore`, a C extension that `pip install .`
# compiles from `fastscore.c`. The `Dockerfile` beside this notebook builds it on
# the full `python:3.13` image, compiler and all. Turn it into a multi-stage
# build so that the final image:
#
# - has no compiler (`/usr/bin/gcc`) and no pip cache,
# - runs as a user that is not root,
# - adds at most 1.15 times what the reference solution adds above
#   `python:3.13-slim`, plus 2 MB (only the layers above the base count),
# - prints exactly what it prints now.
#
# The lesson's multi-stage Dockerfile will not do as it is: this `fastscore`
# differs from the lesson's (read `setup.py`). When the slim image fails,
# read its error and find what the builder had that the runtime lacks
# (`ldd` on the compiled module, `dpkg -S` on the file it names).
#
# The last cell grades your work; run it as often as you like.

# %%
from layerlab.engine import build
from layerlab.measure import inspector

result = build.build(".", "layerlab-04-multistage:mine", module="04", show=None)
report = inspector.inspect(result.tag)
print(f"{report.size_bytes / 1e6:.0f} MB, user {report.user or 'root'}, gcc: {report.has('/usr/bin/gcc')}")

# %% [markdown]
# Which of the image's bytes does `serve.py` need at run time? Compare the
# image with `python:3.13-slim`.

# %%
extra_mb = ...  # TODO: size above python:3.13-slim, in MB
print(f"{extra_mb:.0f} MB above the slim image")

# %%
import layerlab

layerlab.grade_exercise("04-multistage")
