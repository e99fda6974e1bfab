# %% [markdown]
# # Exercise 03-cache: fast rebuilds
#
# `predict.py` scores customers with numpy and pandas. The `Dockerfile` beside
# this notebook builds it, but each edit of `predict.py` reinstalls every
# dependency, and `data/` (training data the app never reads) is sent to the
# builder. Edit the `Dockerfile` and the `.dockerignore` so that:
#
# - an edit of `predict.py` re-runs at most two steps,
# - `data/` is not in the build context,
# - the image prints exactly what it prints now.
#
# The last cell grades your work; run it as often as you like.

# %%
from layerlab.engine import build

result = build.build(".", "layerlab-03-cache:mine", module="03", show=None)
print(f"context {result.context_bytes / 1e3:.1f} kB, {len(result.ran)} step(s) ran")

# %% [markdown]
# Append a comment to `predict.py` and rebuild: which steps run again, and why?

# %%
rebuilt = ...  # TODO: edit predict.py, then build again
print([s.name for s in rebuilt.ran])

# %%
import layerlab

layerlab.grade_exercise("03-cache")
