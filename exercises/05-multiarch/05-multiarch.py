# %% [markdown]
# # Exercise 05-multiarch: cross-build instead of emulating
#
# `serve.py` scores customers with numpy and `fastscore`, a C extension, and
# reads its weights with `modelpack`, a second C extension that inflates the
# zlib-compressed `weights.z` with the system's zlib (`-lz`): unlike the
# lesson's extension, it links a library of the target's, so a cross build
# needs the target's zlib headers and library as well as its compiler. The
# `Dockerfile` beside this notebook builds it for `linux/amd64` and
# `linux/arm64`, and every `RUN` of the foreign platform's image (arm64 on a
# PC, amd64 on Apple silicon: the next cell asks the engine) runs under qemu.
# Rewrite it so that:
#
# - the image index holds exactly linux/amd64 and linux/arm64, and both print
#   what the app prints now (the foreign one under emulation);
# - no install or compile step of the foreign build runs under emulation: run
#   them in a stage `FROM --platform=$BUILDPLATFORM`, fetch the target's
#   wheels with pip's `--platform`, compile with a cross compiler chosen by
#   `$TARGETARCH` (declared with `ARG TARGETARCH` in that stage);
# - the `RUN` steps of its foreign build that still run under emulation take
#   at most a third of the starter's;
# - each platform's image adds at most 1.15 times what the reference
#   solution adds above `python:3.13-slim` on that platform, plus 2 MB (only
#   the layers above the base are weighed).
#
# The last cell grades your work. The first grading on an engine also builds
# the starter once, to compare with (several minutes); later gradings reuse
# that measurement and say when it was taken.

# %%
from layerlab.engine import build, platforms

p = platforms.current()
print(p.line())
PLATFORMS = ["linux/amd64", "linux/arm64"]
result = build.build(".", "layerlab-05-multiarch:mine", platforms=PLATFORMS, cache=False, module="05", show=None)

# %% [markdown]
# Which `RUN` steps of the foreign platform's build ran under qemu, and how long did they take?

# %%
emulated = ...  # TODO: result.emulated(p.foreign, host=p.native) lists them; keep each step's name and seconds
print(result.platform_seconds(), emulated)

# %%
import layerlab

layerlab.grade_exercise("05-multiarch")
