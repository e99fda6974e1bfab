# Challenge 00-arm64-python: one solution.
# `platform=` asks the engine for the arm64 variant of the image; qemu runs it.
from layerlab.course.lesson import Lesson

result = Lesson("00").run("python:3.13-slim", ["python", "--version"], platform="linux/arm64")
print(result.output)
