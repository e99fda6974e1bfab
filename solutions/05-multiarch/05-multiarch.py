# %% [markdown]
# # Exercise 05-multiarch: cross-build instead of emulating
#
# `serve.py` scores customers with numpy and `fastscore`, a C extension. The
# `Dockerfile` beside this notebook builds it for `linux/amd64` and
# `linux/arm64`, and on an amd64 machine every `RUN` of the arm64 image runs
# under qemu. Rewrite it so that:
#
# - the image index holds exactly linux/amd64 and linux/arm64, and both print
#   what the app prints now (arm64 under emulation);
# - no install or compile step of the arm64 build runs under emulation: run
#   them in a stage `FROM --platform=$BUILDPLATFORM`, fetch the target's
#   wheels with pip's `--platform`, compile with a cross compiler chosen by
#   `$TARGETARCH`;
# - its arm64 build takes at most a third of the starter's;
# - each platform's image is at most 1.15 times the reference's size.
#
# The last cell grades your work (it builds the starter too, to compare:
# several minutes).

# %%
from layerlab.engine import build

PLATFORMS = ["linux/amd64", "linux/arm64"]
result = build.build(".", "layerlab-05-multiarch:mine", platforms=PLATFORMS, cache=False, module="05", show=None)

# %% [markdown]
# Which `RUN` steps of the arm64 build ran under qemu, and how long did they take?

# %%
# BEGIN SOLUTION
emulated = [(s.name[:60], s.seconds) for s in result.emulated("linux/arm64")]
# STARTER
# emulated = ...  # TODO: result.emulated(...) lists them; keep each step's name and seconds
# END SOLUTION
print(result.platform_seconds(), emulated)

# %%
import layerlab

layerlab.grade_exercise("05-multiarch")
