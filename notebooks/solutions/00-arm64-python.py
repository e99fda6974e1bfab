# Challenge 00-arm64-python: one solution.
# `platform=` asks the engine for the arm64 variant of the image; qemu runs it.
from layerlab.engine import containers

result = containers.run("python:3.13-slim", ["python", "--version"], platform="linux/arm64", module="00")
print(result.output)
