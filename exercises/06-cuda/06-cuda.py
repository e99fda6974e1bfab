# %% [markdown]
# # Exercise 06-cuda: compile in devel, ship small
#
# `saxpy.cu` is lesson 06's CUDA program and `saxpy.py` the small Python
# wrapper that runs it and reports its outcome as one JSON line, as the
# Python process around a CUDA kernel would in an ML service. The `Dockerfile`
# beside this notebook compiles the program with `nvcc` and ships the whole
# devel image. Rewrite it as a multi-stage build so that the final image:
#
# - has no `nvcc`, no CUDA headers and no static libraries (`*.a`);
# - still runs the wrapper (`CMD ["python3", "/app/saxpy.py"]`), so it needs
#   the Python interpreter but not pip or Python's headers;
# - still finds every library `/usr/local/bin/saxpy` needs (`ldd`: nothing
#   "not found");
# - runs as a user that is not root;
# - prints what it prints now (without a GPU: that there is no CUDA
#   device/driver, exit status 2);
# - adds at most 1.5 times what the reference solution adds above the CUDA
#   base image, plus 2 MB (only the layers above the base count; a devel or
#   runtime final stage adds hundreds of MB more).
#
# The last cell grades your work.

# %%
from layerlab.engine import build
from layerlab.measure import cuda

# The CUDA base images, built the first time (offline: stand-ins, a few minutes) if lesson 06 has not run yet.
print(cuda.ensure_images().table())
result = build.build(".", "layerlab-06-cuda:mine", module="06", show=None)
linked = cuda.ldd(result.tag, "/usr/local/bin/saxpy", module="06")
print(linked.output)

# %% [markdown]
# Which libraries does the program need that glibc and the C++ runtime do
# not provide? Those are what your final stage must bring.

# %%
cuda_libs = ...  # TODO: the sonames in linked.libraries that belong to CUDA
print(cuda_libs)

# %%
import layerlab

layerlab.grade_exercise("06-cuda")
