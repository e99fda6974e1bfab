# %% [markdown]
# # Exercise 02-slim: a slimmer image, without multi-stage
#
# `wordcount.py` counts the words of `sample.txt`. The `Dockerfile` beside this
# notebook builds it, and works, but the image is far bigger than the tool needs.
# Edit the `Dockerfile` (only it) so that the image:
#
# - still prints exactly what it prints now,
# - adds at most 1.15 times what the reference solution adds above
#   `python:3.13-slim`, plus 2 MB (the grader weighs only the layers above the
#   base, so which build of the base you have does not count),
# - wastes (almost) no bytes on files that a later layer deletes.
#
# Keep one stage (no `FROM ... AS`): the point is what each `RUN` leaves behind.
# The last cell grades your work; run it as often as you like.

# %%
from layerlab.measure import inspector

# %% [markdown]
# Build the image as it is and look at its layers: which ones are large, and why?

# %%
from layerlab.engine import build

result = build.build(".", "layerlab-02-slim:mine", module="02", show=None)
report = inspector.inspect(result.tag)
print(report.table())

# %% [markdown]
# What share of the image is wasted, in dive's sense (bytes in a path that a
# later layer changes or deletes)?

# %%
wasted_share = ...  # TODO: from report.wasted_bytes and report.size_bytes
print(f"{wasted_share:.1%} of the image is waste")

# %%
import layerlab

layerlab.grade_exercise("02-slim")
